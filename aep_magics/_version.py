"""The version of aep-magics: a leaf module, so that AEP Local can report it without importing the client package."""

__version__ = "0.1.0"
