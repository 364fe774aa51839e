"""The IPython side: ``%load_ext aep_magics`` registers :class:`~aep_magics.magics.core.AEPMagics`.

``ops`` holds the same operations as plain Python functions, ``body`` the cell-body parsing and ``{{ }}``
interpolation, ``state`` the notebook's current session. Loading the extension imports only IPython, traitlets and
the standard library.
"""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ipython: Any) -> None:
    """Register every ``%aep_*`` magic (and ``%config AEPMagics``)."""
    from .core import AEPMagics

    ipython.register_magics(AEPMagics(ipython))


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics, forget their settings object, close the session and stop an in-process AEP Local."""
    from . import state
    from .core import AEPMagics

    manager = ipython.magics_manager
    for kind, names in AEPMagics.magics.items():
        table = manager.magics.get(kind, {})
        for name in names:
            table.pop(name, None)
    manager.registry.pop("AEPMagics", None)
    ipython.configurables[:] = [c for c in ipython.configurables if not isinstance(c, AEPMagics)]
    state.current.close()
