"""AEP Local guards itself: a credential for the control plane, no requests from web pages, bounded fault values and
clock moves, an access log no request can forge lines in, one clear line for a data dir it cannot write.

Everything goes over loopback HTTP to a real AEP Local. A web page's request is what a browser would send: a foreign
``Origin`` (a cross-site ``fetch`` or form post, also as ``text/plain`` to skip the CORS preflight) or a foreign
``Host`` (a DNS-rebinding page that resolved its own name to 127.0.0.1).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from test_engine_e2e import Kit

from aep_magics import local
from aep_magics.local import cli
from aep_magics.local.faults import FaultInjector, FaultSpec, FaultSpecError
from aep_magics.local.services.control import MAX_ADVANCE_S

REPO = Path(__file__).resolve().parents[1]
EVIL = "http://evil.example"

#: Every state-changing control route: (method, path, a JSON body that works, the status it answers).
CHANGES: list[tuple[str, str, Any, int]] = [
    ("POST", "/aep-local/clock", {"advance": 1}, 200),
    ("POST", "/aep-local/token-lifetime", {"seconds": 86399}, 200),
    ("POST", "/aep-local/faults", {"reset": True}, 200),
    ("DELETE", "/aep-local/faults", None, 200),
    ("POST", "/aep-local/clients", {"client_id": "cp-{n}", "client_secret": "cp-secret",
                                    "org_id": "C0NTR0LPLANE000000000000@AdobeOrg"}, 201),
    ("DELETE", "/aep-local/clients/cp-{n}", None, 204),
]
READS = ["/aep-local/health", "/aep-local/clock", "/aep-local/token-lifetime", "/aep-local/faults",
         "/aep-local/openapi.json", "/aep-local/openapi.yaml"]


@pytest.fixture(scope="module")
def aep(tmp_path_factory):
    with local.start(tmp_path_factory.mktemp("control-plane"), seed=5150, scheduler=False) as server:
        yield server


def admin(server) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.admin_token}"}


def ims_token(server) -> str:
    r = requests.post(f"{server.url}/ims/token/v3", data={
        "grant_type": "client_credentials", "client_id": local.DEV_CLIENT_ID,
        "client_secret": local.DEV_CLIENT_SECRET}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def send(server, method: str, path: str, body: Any = None, n: int = 0, **kwargs: Any) -> requests.Response:
    path = path.replace("{n}", str(n))
    if isinstance(body, dict):
        body = {k: v.replace("{n}", str(n)) if isinstance(v, str) else v for k, v in body.items()}
    if body is not None and "data" not in kwargs:
        kwargs["json"] = body
    return requests.request(method, server.url + path, timeout=10, **kwargs)


def clock(server) -> int:
    return requests.get(f"{server.url}/aep-local/clock", timeout=10).json()["now"]


# -- a credential for what changes state -------------------------------------------------------------------------
@pytest.mark.parametrize("method,path,body,status", CHANGES, ids=[f"{m} {p}" for m, p, _, _ in CHANGES])
def test_state_changing_control_routes_need_a_credential(aep, method, path, body, status):
    n = CHANGES.index((method, path, body, status))
    if method == "DELETE" and "clients" in path:  # something to revoke
        assert send(aep, "POST", CHANGES[4][1], CHANGES[4][2], n, headers=admin(aep)).status_code == 201
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": f"Basic {aep.admin_token}"},
                    {"Authorization": "Bearer "}):
        r = send(aep, method, path, body, n, headers=headers)
        assert r.status_code == 401, (headers, r.text)
        answer = r.json()
        assert set(answer) == {"error_code", "message"} and answer["error_code"] == "401013"
        assert "Authorization: Bearer" in answer["message"] and "\n" not in answer["message"]
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
    r = send(aep, method, path, body, n, headers=admin(aep))
    assert r.status_code == status, r.text


def test_an_ims_token_of_aep_local_works_too(aep):
    token = ims_token(aep)
    before = clock(aep)
    r = requests.post(f"{aep.url}/aep-local/clock", json={"advance": 5}, timeout=10,
                      headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["now"] >= before + 5000


def test_refused_calls_change_nothing(aep):
    before = clock(aep)
    assert requests.post(f"{aep.url}/aep-local/clock", json={"advance": 86400}, timeout=10).status_code == 401
    r = requests.post(f"{aep.url}/aep-local/faults", json={"spec": "500=1"}, timeout=10)
    assert r.status_code == 401
    assert clock(aep) - before < 86400 * 1000
    assert requests.get(f"{aep.url}/aep-local/faults", timeout=10).json()["enabled"] is False
    r = requests.post(f"{aep.url}/aep-local/clients", json={"client_id": "sneaky", "client_secret": "s",
                                                           "org_id": local.DEV_ORG_ID}, timeout=10)
    assert r.status_code == 401
    r = requests.post(f"{aep.url}/ims/token/v3", data={"grant_type": "client_credentials", "client_id": "sneaky",
                                                       "client_secret": "s"}, timeout=10)
    assert r.status_code == 401
    assert requests.delete(f"{aep.url}/aep-local/clients/{local.DEV_CLIENT_ID}", timeout=10).status_code == 401
    ims_token(aep)  # the dev client is still there


@pytest.mark.parametrize("path", READS)
def test_reads_stay_open(aep, path):
    assert requests.get(aep.url + path, timeout=10).status_code == 200


@pytest.mark.parametrize("method,path,body,status", [c for c in CHANGES if c[0] == "POST"],
                         ids=[p for m, p, _, _ in CHANGES if m == "POST"])
def test_control_calls_take_json_bodies_only(aep, method, path, body, status):
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                         None):
        headers = {**admin(aep), **({"Content-Type": content_type} if content_type else {})}
        r = send(aep, method, path, None, 50, headers=headers, data=b'{"advance": 1}')
        assert r.status_code == 415, (content_type, r.text)
        assert r.json()["title"] == "UnsupportedMediaType" and "application/json" in r.json()["detail"]
    r = send(aep, "DELETE", "/aep-local/faults", headers={**admin(aep), "Content-Type": "text/plain"}, data=b"x")
    assert r.status_code == 415


# -- nothing a web page could send ------------------------------------------------------------------------------
@pytest.mark.parametrize("method,path,body,status", CHANGES, ids=[f"{m} {p}" for m, p, _, _ in CHANGES])
def test_a_foreign_origin_is_refused_even_with_a_credential(aep, method, path, body, status):
    n = 100 + CHANGES.index((method, path, body, status))
    for origin in (EVIL, "null", f"http://127.0.0.1:{aep.port + 1}", f"https://evil.example:{aep.port}",
                   f"http://127.0.0.1.evil.example:{aep.port}", "file://", f"ftp://127.0.0.1:{aep.port}"):
        r = send(aep, method, path, body, n, headers={**admin(aep), "Origin": origin})
        assert r.status_code == 403, (origin, r.text)
        answer = r.json()
        assert answer["status"] == 403 and answer["title"] == "Forbidden" and "Origin" in answer["detail"]
    # the red-team request: a simple cross-site POST (text/plain, no preflight) from any web page
    r = send(aep, method, path, None, n, data=b'{"advance": 3153600000}',
             headers={"Content-Type": "text/plain", "Origin": EVIL})
    assert r.status_code == 403


def test_a_foreign_host_is_refused(aep):
    for host in ("evil.example", f"evil.example:{aep.port}", f"127.0.0.1:{aep.port + 1}", "attacker.test:80",
                 f"localhost.evil.example:{aep.port}", f"user@127.0.0.1:{aep.port}", "[::1]:1"):
        for method, path in (("GET", "/aep-local/health"), ("POST", "/aep-local/clock")):
            r = requests.request(method, aep.url + path, json={"advance": 1}, timeout=10,
                                 headers={**admin(aep), "Host": host})
            assert r.status_code == 403, (host, r.text)
            assert "Host" in r.json()["detail"]


def test_the_platform_apis_refuse_web_pages_too(aep):
    token = ims_token(aep)
    headers = {"Authorization": f"Bearer {token}", "x-api-key": local.DEV_CLIENT_ID,
               "x-gw-ims-org-id": local.DEV_ORG_ID, "x-sandbox-name": "prod"}
    url = f"{aep.url}/data/foundation/flowservice/flowSpecs"
    assert requests.get(url, headers=headers, timeout=10).status_code == 200
    assert requests.get(url, headers={**headers, "Origin": EVIL}, timeout=10).status_code == 403
    assert requests.get(url, headers={**headers, "Host": "rebound.example"}, timeout=10).status_code == 403
    r = requests.post(f"{aep.url}/ims/token/v3", headers={"Origin": EVIL}, timeout=10, data={
        "grant_type": "client_credentials", "client_id": local.DEV_CLIENT_ID,
        "client_secret": local.DEV_CLIENT_SECRET})
    assert r.status_code == 403 and "access_token" not in r.text


def test_same_origin_loopback_is_accepted(aep):
    for origin in (f"http://127.0.0.1:{aep.port}", f"http://localhost:{aep.port}", f"http://[::1]:{aep.port}",
                   f"HTTP://LOCALHOST:{aep.port}"):
        r = requests.post(f"{aep.url}/aep-local/clock", json={"advance": 1}, timeout=10,
                          headers={**admin(aep), "Origin": origin})
        assert r.status_code == 200, (origin, r.text)
    for host in ("localhost", f"localhost:{aep.port}", "127.0.0.1", f"[::1]:{aep.port}", "127.0.0.2"):
        r = requests.get(f"{aep.url}/aep-local/health", headers={"Host": host}, timeout=10)
        assert r.status_code == 200, (host, r.text)


# -- fault values --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", ["latency=1:nan", "latency=1:inf", "latency=1:-inf", "latency=1:31",
                                  "latency=1:1e308", "latency=1:1000000", "latency=nan:1", "429=nan", "500=inf",
                                  "503=-0.1", "slow_delay=nan", "slow_delay=inf", "slow_delay=5", "slow_delay=-1",
                                  "retry_after=nan", "retry_after=inf", "retry_after=1e9", "seed=nan"])
def test_fault_values_out_of_bounds_get_a_400(aep, spec):
    r = requests.post(f"{aep.url}/aep-local/faults", json={"spec": spec}, timeout=10, headers=admin(aep))
    assert r.status_code == 400, r.text
    assert r.headers["Content-Type"] == "application/json"
    answer = r.json()
    assert answer["title"] == "BadRequestError" and answer["status"] == 400 and spec.split("=")[0] in answer["detail"]
    assert requests.get(f"{aep.url}/aep-local/faults", timeout=10).json()["enabled"] is False
    with pytest.raises(FaultSpecError):
        FaultSpec.parse(spec)


def test_fault_bodies_with_non_json_numbers_get_a_400(aep):
    for raw in (b'{"spec": "latency=1:0.01", "reset": NaN}', b'{"reset": Infinity}'):
        r = requests.post(f"{aep.url}/aep-local/faults", data=raw, timeout=10,
                          headers={**admin(aep), "Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["title"] == "BadRequestError", r.text


def test_fault_values_within_bounds_are_taken(aep):
    spec = "latency=0.5:30,slow_delay=1,retry_after=600,slow_body=0"
    r = requests.post(f"{aep.url}/aep-local/faults", json={"spec": spec}, timeout=10, headers=admin(aep))
    try:
        assert r.status_code == 200 and r.json()["latency"] == {"probability": 0.5, "seconds": 30.0}
    finally:
        requests.post(f"{aep.url}/aep-local/faults", json={"spec": ""}, timeout=10, headers=admin(aep))


def test_a_slow_body_pauses_at_most_30_seconds_in_all():
    sleeps: list[float] = []
    body = [b"x" * 5000]
    injector = FaultInjector(lambda environ, start: body, "slow_body=1,slow_chunk=1,slow_delay=1",
                             sleep=sleeps.append)
    out = b"".join(injector({"PATH_INFO": "/data/x", "REQUEST_METHOD": "GET"}, lambda *a: None))
    assert out == body[0] and sum(sleeps) <= 30


# -- clock moves ---------------------------------------------------------------------------------------------------
def test_one_clock_move_is_at_most_31_days(aep):
    before = clock(aep)
    for advance in (MAX_ADVANCE_S + 1, 366 * 86400, 3153600000, 1e300):
        r = requests.post(f"{aep.url}/aep-local/clock", json={"advance": advance}, timeout=10, headers=admin(aep))
        assert r.status_code == 400 and "31 days" in r.json()["detail"], r.text
    assert clock(aep) - before < 60_000
    r = requests.post(f"{aep.url}/aep-local/clock", json={"advance": MAX_ADVANCE_S}, timeout=10, headers=admin(aep))
    assert r.status_code == 200 and r.json()["now"] >= before + MAX_ADVANCE_S * 1000


def test_a_clock_move_caps_catch_up_runs_and_says_so(tmp_path):
    from aep_magics.local.engine.scheduler import MAX_RUNS_PER_MOVE

    with local.start(tmp_path / "cap", seed=6161) as server:
        kit = Kit(server, orders=50)
        start = kit.now_s()
        ids = kit.flow(columns=["Order_Id", "Email", "Shipping_Address_Phone"], name="every quarter", schedule={
            "startTime": str(start), "frequency": "minute", "interval": "15", "backfill": "true"})
        quarters = 2 * 96  # 2 days
        r = requests.post(f"{server.url}/aep-local/clock", json={"advance": quarters * 900}, timeout=120,
                          headers=admin(server))
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["runsCreated"] == MAX_RUNS_PER_MOVE
        [capped] = answer["capped"]
        assert capped["flowId"] == ids["flow"] and capped["runs"] == MAX_RUNS_PER_MOVE
        assert quarters <= capped["dueTimes"] <= quarters + 1
        assert ids["flow"] in answer["detail"] and str(MAX_RUNS_PER_MOVE) in answer["detail"]
        r = requests.post(f"{server.url}/aep-local/clock", json={"advance": 900}, timeout=60, headers=admin(server))
        assert r.status_code == 200 and "capped" not in r.json() and r.json()["runsCreated"] >= 1


# -- the access log -------------------------------------------------------------------------------------------------
class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_the_access_log_cannot_be_forged(aep):
    logger = logging.getLogger("aep_magics.local")
    handler, level = _Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        forged = "/aep-local/health%0A2026-03-02 GET /aep-local/clock 200 0.1ms%0D%1B[2J%E2%80%A8%5C"
        assert requests.get(aep.url + forged, timeout=10).status_code == 404
        assert requests.get(aep.url + forged, headers={"Origin": EVIL}, timeout=10).status_code == 403
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    lines = [line for line in handler.lines if "/aep-local/health" in line]
    assert len(lines) == 2, handler.lines
    for line in lines:
        assert "\n" not in line and "\r" not in line and "\x1b" not in line and "\u2028" not in line
        assert "health\\n2026-03-02 GET" in line and "\\r\\x1b[2J\\u2028\\\\" in line


# -- the data dir -------------------------------------------------------------------------------------------------
def _unwritable(tmp_path: Path) -> list[Path]:
    """Data dirs nobody can write, root included: under a regular file; one whose state file is a directory."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    taken = tmp_path / "taken"
    (taken / "state.sqlite3").mkdir(parents=True)
    return [blocker / "data", taken]


def test_an_unwritable_data_dir_raises_one_clear_error(tmp_path):
    for path in _unwritable(tmp_path):
        with pytest.raises(local.DataDirError) as info:
            local.start(path, scheduler=False)
        message = str(info.value)
        assert message.startswith(f"AEP Local cannot write its data dir {path}: ") and "\n" not in message
        assert info.value.path == path and "writable" in message


def _serve(argv: list[str]) -> int:
    """``aep-local serve ARGV`` in this process; a server that does start stops at once."""
    stop = threading.Event()
    stop.set()
    return cli._run_serve(cli.build_parser().parse_args(["serve", "--port", "0", *argv]), stop=stop)


def test_serve_on_an_unwritable_data_dir_says_so_in_one_line(tmp_path, capsys):
    for path in _unwritable(tmp_path):
        assert _serve(["--data-dir", str(path)]) == 2
        out, err = capsys.readouterr()
        assert out == "" and "Traceback" not in err
        [line] = err.strip().splitlines()
        assert line.startswith(f"AEP Local cannot write its data dir {path}: ")
        assert line.endswith("— choose a writable --data-dir")


def test_serve_with_bad_faults_says_so_in_one_line(tmp_path, capsys):
    assert _serve(["--data-dir", str(tmp_path), "--faults", "latency=1:nan"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("AEP Local cannot use the fault spec: ") and "latency" in line


# -- start-up -------------------------------------------------------------------------------------------------------
def test_serve_prints_the_bound_address_and_the_admin_token_and_warns_off_loopback(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("AEP_LOCAL_FAULTS", None)
    proc = subprocess.Popen([sys.executable, "-m", "aep_magics.local.cli", "serve", "--host", "0.0.0.0", "--port",
                             "0", "--data-dir", str(tmp_path / "d"), "--seed", "1"], cwd=str(REPO), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.extend(proc.stderr or ()), daemon=True)
    reader.start()
    try:
        banner = []
        assert proc.stdout is not None
        for line in proc.stdout:
            banner.append(line)
            if line.startswith("Press Ctrl+C"):
                break
        text = "".join(banner)
        first = banner[0]
        url = first.split("is serving", 1)[1].split()[0]
        port = int(url.rsplit(":", 1)[1])
        assert port != 0 and f"listening on 0.0.0.0:{port}" in first, text
        token = text.split("Authorization: Bearer ", 1)[1].split()[0]
        assert len(token) >= 32
        r = requests.post(f"{url}/aep-local/clock", json={"advance": 1}, timeout=10,
                          headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        assert requests.post(f"{url}/aep-local/clock", json={"advance": 1}, timeout=10).status_code == 401
        # bound to every interface: an address literal is a Host it answers to, a foreign name is not
        assert requests.get(f"{url}/aep-local/health", headers={"Host": f"192.0.2.7:{port}"},
                            timeout=10).status_code == 200
        assert requests.get(f"{url}/aep-local/health", headers={"Host": f"rebound.example:{port}"},
                            timeout=10).status_code == 403
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    reader.join(timeout=10)
    warning = "".join(err)
    assert "0.0.0.0" in warning and "reachable from other machines" in warning and "Traceback" not in warning


def test_start_on_loopback_does_not_warn(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="aep_magics.local"):
        with local.start(tmp_path / "quiet", scheduler=False) as server:
            assert server.address == ("127.0.0.1", server.port) and server.admin_token
    assert not [r for r in caplog.records if "reachable from other machines" in r.getMessage()]
