"""A pytest plugin that records which AEP Local routes each test module gets answers from: the evidence behind the
"proven by" columns of ``docs/parity.md`` (``tools/parity.py``).

On only when ``AEP_PARITY_RECORD`` names the file to write; ``python tools/parity.py --record`` loads it as
``-p helpers.parity_record`` with ``tests/`` on ``PYTHONPATH``. It wraps :meth:`aep_magics.local.server.App.__call__`
(so every in-process AEP Local is covered, whoever started it), looks the request up in the app's own routing table
(``App.url_map``, ``App.route_table()``: the route the app dispatches to) and notes the response status against the
module of the test running at that moment. Requests of a test that fails (in setup, call or teardown) are dropped,
as are requests made while no test runs. An AEP Local in a child process is not seen.

The file: ``{"modules": [test modules that ran], "requests": [{"method", "route", "module", "statuses"}]}``,
sorted, so re-recording an unchanged suite gives the same bytes.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

ENV = "AEP_PARITY_RECORD"


class Recorder:
    def __init__(self, target: Path, rootpath: Path):
        self.target = target
        self.rootpath = rootpath
        self._lock = threading.Lock()
        self._module: str | None = None
        self._failed = False
        self._pending: dict[tuple[str, str], set[int]] = {}
        self.hits: dict[tuple[str, str, str], set[int]] = {}
        self.modules: set[str] = set()
        self._restore: Callable[[], None] | None = None

    # -- the server side ---------------------------------------------------------------------------------------------
    def install(self) -> None:
        from aep_magics.local.server import App

        original = App.__call__
        recorder = self

        def recording_call(app: Any, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            statuses: list[int] = []

            def capture(status: str, headers: Any, exc_info: Any = None) -> Any:
                statuses.append(int(status.split(None, 1)[0]))
                return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

            route = route_of(app, environ)
            result = original(app, environ, capture)
            if route is not None and statuses:
                recorder.observe(route, statuses[-1])
            return result

        App.__call__ = recording_call  # type: ignore[method-assign,assignment]

        def restore() -> None:
            App.__call__ = original  # type: ignore[method-assign]

        self._restore = restore

    def uninstall(self) -> None:
        if self._restore:
            self._restore()
            self._restore = None

    def observe(self, route: tuple[str, str], status: int) -> None:
        with self._lock:
            if self._module is not None:
                self._pending.setdefault(route, set()).add(status)

    # -- the test side -----------------------------------------------------------------------------------------------
    def module_of(self, item: pytest.Item) -> str:
        path = Path(str(item.path))
        try:
            return path.relative_to(self.rootpath).as_posix()
        except ValueError:
            return path.as_posix()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
        module = self.module_of(item)
        with self._lock:
            self.modules.add(module)
            self._module, self._failed, self._pending = module, False, {}
        yield
        with self._lock:
            if not self._failed:
                for (method, rule), statuses in self._pending.items():
                    self.hits.setdefault((method, rule, module), set()).update(statuses)
            self._module, self._pending = None, {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            with self._lock:
                self._failed = True

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.write()

    def as_json(self) -> dict[str, Any]:
        return {"modules": sorted(self.modules),
                "requests": [{"method": method, "route": rule, "module": module, "statuses": sorted(statuses)}
                             for (method, rule, module), statuses in sorted(self.hits.items())]}

    def write(self) -> None:
        self.target.write_text(dump(self.as_json()), encoding="utf-8")


def dump(data: dict[str, Any]) -> str:
    """The evidence as text: one module, or one request, a line (so a re-record diffs line by line)."""
    modules = ",\n".join("  " + json.dumps(m) for m in data["modules"])
    requests = ",\n".join("  " + json.dumps(r, sort_keys=True) for r in data["requests"])
    return f'{{\n "modules": [\n{modules}\n ],\n "requests": [\n{requests}\n ]\n}}\n'


def route_of(app: Any, environ: dict[str, Any]) -> tuple[str, str] | None:
    """(request method, route rule) the app dispatches ``environ`` to, or None when no route takes it."""
    method = environ.get("REQUEST_METHOD", "GET")
    try:
        index, _ = app.url_map.bind_to_environ(environ).match(method=method)
    except Exception:  # noqa: BLE001 - 404, 405 and anything else werkzeug raises: not a route
        return None
    return method, app.route_table()[index][1]


def pytest_configure(config: pytest.Config) -> None:
    target = os.environ.get(ENV)
    if not target:
        return
    recorder = Recorder(Path(target), Path(str(config.rootpath)))
    recorder.install()
    config.pluginmanager.register(recorder, "aep-parity-recorder")
    config.stash[_KEY] = recorder


def pytest_unconfigure(config: pytest.Config) -> None:
    recorder = config.stash.get(_KEY, None)
    if recorder is not None:
        recorder.uninstall()


_KEY = pytest.StashKey[Recorder]()
