"""aep-magics: learn, explore and script Adobe Experience Platform data ingestion from Jupyter.

``%load_ext aep_magics`` registers the magics. The same operations are plain Python too::

    from aep_magics import load_profile, AEPSession, AEPClient
    client = AEPClient(AEPSession(load_profile()))

Importing this package stays light: pandas, pyarrow, ipywidgets and numpy load on first use only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

__all__ = [
    "AEPClient",
    "AEPSession",
    "Profile",
    "Run",
    "load_profile",
    "promotion_activity",
    "run_batch_ids",
    "load_ipython_extension",
    "unload_ipython_extension",
    "__version__",
]

if TYPE_CHECKING:  # pragma: no cover
    from .api import AEPClient
    from .config import Profile, load_profile
    from .runs import Run, promotion_activity, run_batch_ids
    from .http import AEPSession

_LAZY = {
    "AEPClient": ("aep_magics.api", "AEPClient"),
    "AEPSession": ("aep_magics.http", "AEPSession"),
    "Profile": ("aep_magics.config", "Profile"),
    "load_profile": ("aep_magics.config", "load_profile"),
    "Run": ("aep_magics.runs", "Run"),
    "promotion_activity": ("aep_magics.runs", "promotion_activity"),
    "run_batch_ids": ("aep_magics.runs", "run_batch_ids"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'aep_magics' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """Called by ``%load_ext aep_magics``: registers every ``%aep_*`` magic."""
    from .magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .magics import unload_ipython_extension as _unload

    _unload(ipython)
