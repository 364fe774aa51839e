"""An IPython shell with the extension loaded, for tests that run magics the way a notebook cell does."""

from __future__ import annotations

from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from aep_magics.errors import AEPKitError


def magic_shell() -> InteractiveShell:
    """The process's IPython shell (no history file) with ``aep_magics`` freshly (re)loaded."""
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    if "aep_magics" in shell.extension_manager.loaded:
        shell.extension_manager.reload_extension("aep_magics")
    else:
        shell.extension_manager.load_extension("aep_magics")
    return shell


def cell(shell: InteractiveShell, source: str):
    """Run a cell like a notebook does; raise its error instead of printing it."""
    result = shell.run_cell(source, store_history=True)
    result.raise_error()
    return result.result


def failing(shell: InteractiveShell, source: str) -> BaseException:
    """Run a cell that must fail; its error."""
    result = shell.run_cell(source, store_history=True)
    assert result.error_in_exec is not None, f"expected an error from {source!r}"
    return result.error_in_exec


def one_line(error: BaseException, *words: str) -> str:
    """The error is the kit's own, renders as one line, and names ``words``."""
    assert isinstance(error, AEPKitError), f"{type(error).__name__}: {error}"
    lines = error._render_traceback_()
    assert len(lines) == 1 and "\n" not in lines[0], lines
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]
