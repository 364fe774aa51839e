"""The IPython side: ``%load_ext aep_magics`` registers :class:`~aep_magics.magics.core.AEPMagics`.

``ops`` holds the same operations as plain Python functions, ``body`` the cell-body parsing and ``{{ }}``
interpolation, ``state`` the notebook's current session. Loading the extension imports only IPython, traitlets and
the standard library.
"""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ipython: Any) -> None:
    """Register every ``%aep_*`` magic (and ``%config AEPMagics``)."""
    from .. import sql
    from .console import ConsoleMagics
    from .core import AEPMagics
    from .query import QueryMagics, current_session

    ipython.register_magics(AEPMagics(ipython))
    ipython.register_magics(QueryMagics(ipython))
    ipython.register_magics(ConsoleMagics(ipython))
    sql.session_provider = current_session
    if _blank_body not in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.append(_blank_body)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics, forget their settings object, close the session and stop an in-process AEP Local."""
    from . import state
    from .console import ConsoleMagics
    from .core import AEPMagics
    from .query import QueryMagics, connections

    if _blank_body in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.remove(_blank_body)
    manager = ipython.magics_manager
    for magics in (AEPMagics, QueryMagics, ConsoleMagics):
        for kind, names in magics.magics.items():
            table = manager.magics.get(kind, {})
            for name in names:
                table.pop(name, None)
        manager.registry.pop(magics.__name__, None)
    connections.close()
    ipython.configurables[:] = [c for c in ipython.configurables if not isinstance(c, AEPMagics)]
    state.current.close()


def _blank_body(lines: list[str]) -> list[str]:
    """Give an ``%%aep_*`` cell with nothing below its magic line a blank body.

    IPython answers a cell magic with an empty body with a ``UsageError``, which it prints to stderr only: the cell
    gets no error output, so nbval passes it and the notebook runs on. With a blank body the magic itself runs and
    reports the missing body as a real error ("the cell body is empty: ...")."""
    if not lines or not lines[0].startswith("%%aep") or "".join(lines[1:]):
        return lines
    from .core import AEPMagics
    from .query import QueryMagics

    name = lines[0][2:].split(maxsplit=1)[0] if lines[0][2:].strip() else ""
    if name not in AEPMagics.magics.get("cell", {}) and name not in QueryMagics.magics.get("cell", {}):
        return lines
    first = lines[0] if lines[0].endswith("\n") else lines[0] + "\n"
    return [first, "\n"]
