"""AEP Local engine: Data Prep expressions and mappings, XDM validation, the data lake, the run scheduler."""
