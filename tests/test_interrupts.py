"""Ctrl-C and timeouts: a magic stopped by Ctrl-C ends with one line (and what may already have happened), its
progress bar closed; a call's timeout bounds the whole call, its retries included.

Ctrl-C is a real SIGINT sent to the main thread (``signal.pthread_kill``) from a timer thread while the magic waits
on an AEP Local whose every platform call is held back by its fault injection (``latency``), as a kernel's
interrupt arrives while a cell waits on the network.
"""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from helpers.shell import failing, magic_shell
from IPython.utils.capture import capture_output

from aep_magics import local
from aep_magics.auth import Secret
from aep_magics.config import Profile
from aep_magics.errors import Interrupted, TransportError
from aep_magics.http import AEPSession
from aep_magics.local.platform import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_ORG_ID
from aep_magics.magics import state

SHOPIFY = "4f63aa36-bd48-4e33-bb83-49fbcd11c708"
AEP_ENV = ("AEP_CONFIG", "AEP_CLIENT_ID", "AEP_CLIENT_SECRET", "AEP_ACCESS_TOKEN", "AEP_ORG_ID", "AEP_SANDBOX",
           "AEP_BASE_URL", "AEP_IMS_URL", "AEP_SCOPES", "AEP_LOCAL_URL", "AEP_LOCAL_DATA")
#: Seconds every platform call of the slow AEP Local is held back (IMS and the control plane are not).
HELD = 8


@pytest.fixture(scope="module")
def slow_local() -> Iterator[local.LocalServer]:
    with local.start(seed=5150, faults=f"seed=1,latency=1:{HELD}") as server:
        yield server


@pytest.fixture
def shell(slow_local, monkeypatch):
    for name in AEP_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in (("AEP_BASE_URL", slow_local.url), ("AEP_IMS_URL", slow_local.url),
                        ("AEP_CLIENT_ID", DEV_CLIENT_ID), ("AEP_CLIENT_SECRET", DEV_CLIENT_SECRET),
                        ("AEP_ORG_ID", DEV_ORG_ID)):
        monkeypatch.setenv(name, value)
    sh = magic_shell()
    sh.run_line_magic("config", "AEPMagics.widgets = True")
    sh.run_line_magic("config", "AEPMagics.timeout = 60")
    signed_in = sh.run_cell("%aep_auth -q")
    assert signed_in.error_in_exec is None, signed_in.error_in_exec
    yield sh
    sh.run_line_magic("config", "AEPMagics.timeout = 60")
    state.current.close()


def ctrl_c_after(seconds: float) -> threading.Event:
    """Send SIGINT to the main thread after ``seconds`` unless the returned event is set first."""
    done = threading.Event()
    main = threading.main_thread().ident
    assert main == threading.get_ident(), "the test must run on the main thread"

    def fire() -> None:
        if not done.wait(seconds):
            signal.pthread_kill(main, signal.SIGINT)

    threading.Thread(target=fire, daemon=True).start()
    return done


def run_interrupted(shell, source: str) -> tuple[BaseException, list, float]:
    """Run ``source``, Ctrl-C after 0.5 s; the cell's error, its displayed outputs and how long it took."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    started = time.monotonic()
    done = ctrl_c_after(0.5)
    try:
        with capture_output() as captured:
            error = failing(shell, source)
    finally:
        done.set()
        signal.signal(signal.SIGINT, previous)
    return error, captured.outputs, time.monotonic() - started


def open_progress_bars() -> list:
    import ipywidgets
    from ipywidgets.widgets import widget as widget_module

    registry = getattr(widget_module, "_instances", None)
    widgets = list((registry if registry is not None else ipywidgets.Widget.widgets).values())
    return [w for w in widgets if isinstance(w, ipywidgets.IntProgress) and w.description == "runs"
            and w.comm is not None]


def test_ctrl_c_during_runs_wait_is_one_line_and_closes_the_bar(shell):
    before = len(open_progress_bars())
    error, outputs, took = run_interrupted(shell, "%aep_runs 0b7c2f9e-5a33-4d6e-9a52-1a1d4c3f0e11 --wait")
    assert isinstance(error, Interrupted), repr(error)
    lines = error._render_traceback_()
    assert len(lines) == 1 and "stopped (Ctrl-C) waiting for the runs of flow 0b7c2f9e" in lines[0]
    assert "%aep_runs 0b7c2f9e-5a33-4d6e-9a52-1a1d4c3f0e11 --wait waits again" in lines[0]
    assert took < HELD  # the cell ended at Ctrl-C, not when the held call came back
    assert len(open_progress_bars()) == before  # the bar shown by this cell is closed
    texts = [o.data.get("text/plain", "") for o in outputs]
    assert any(t.startswith("runs: waiting") for t in texts)  # the bar was shown...
    assert texts[-1].startswith("runs: no runs yet; stopped waiting after")  # ...and replaced by the outcome


def test_ctrl_c_during_a_create_says_it_may_exist(shell):
    body = ('{"name": "interrupted", "auth": {"specName": "Basic Authentication", "params": {"host": '
            '"https://a.myshopify.com", "accessToken": "t"}}, "connectionSpec": {"id": "%s", "version": "1.0"}}'
            % SHOPIFY)
    shell.user_ns.pop("interrupted_conn", None)
    error, _, took = run_interrupted(shell, f"%%aep_connection -o interrupted_conn\n{body}")
    assert isinstance(error, Interrupted), repr(error)
    assert error._render_traceback_() == [
        "Interrupted: stopped (Ctrl-C): the base connection may have been created; run the cell again with "
        "--if-exists reuse to find it instead of creating another"]
    assert took < HELD and "interrupted_conn" not in shell.user_ns


def test_ctrl_c_during_a_raw_patch_says_it_may_have_been_applied(shell):
    error, _, _ = run_interrupted(shell, "%%aep PATCH /data/foundation/flowservice/flows/f-1 -H 'If-Match: 1'\n"
                                         '[{"op": "add", "path": "/description", "value": "x"}]')
    assert isinstance(error, Interrupted)
    assert str(error) == "stopped (Ctrl-C): the PATCH may have been applied: check with a GET before sending it again"


def test_a_call_ends_within_its_timeout_retries_included(shell):
    """A GET is retried on read timeouts; with a 2 s timeout the magic still answers in about 2 s (28 s before:
    six 2 s attempts and their backoff)."""
    shell.run_line_magic("config", "AEPMagics.timeout = 2")
    started = time.monotonic()
    error = failing(shell, "%aep GET /data/foundation/flowservice/flows")
    took = time.monotonic() - started
    assert isinstance(error, TransportError), repr(error)
    assert str(error).startswith("no answer from 127.0.0.1:")
    assert "timeout 2 s, retries included" in str(error) and len(error._render_traceback_()) == 1
    print(json.dumps({"magic": "%aep GET", "timeout_s": 2, "server_holds_s": HELD, "error_after_s": round(took, 2)}))
    assert 1.9 <= took < 6, took


def test_a_server_that_never_answers_fails_within_the_timeout():
    """The same at the session, against a socket that accepts connections and never answers, for each method."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    profile = Profile(name="silent", base_url=url, ims_url=url, org_id=DEV_ORG_ID, client_id=DEV_CLIENT_ID,
                      access_token=Secret("static-token-for-a-silent-server"), sandbox="prod")
    took = {}
    try:
        for method in ("GET", "DELETE", "POST"):
            with AEPSession(profile, timeout=(5, 2)) as session:
                started = time.monotonic()
                with pytest.raises(TransportError, match="no answer from .* in time"):
                    session.request(method, "/data/foundation/flowservice/flows/f-1")
                took[method] = round(time.monotonic() - started, 2)
        print(json.dumps({"server": "never answers", "timeout_s": 2, "error_after_s": took}))
        assert all(seconds < 6 for seconds in took.values()), took
    finally:
        listener.close()
        for conn in accepted:
            conn.close()
