"""``%aep_doctor`` and ``aep-magics doctor``: a read-only check of a setup, one line per check, each ok with its value
or the one thing to fix. Against AEP Local every check passes; against a stub platform that answers 403 on one
service, that line names the missing permission and the others stay ok."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from helpers.shell import magic_shell

from aep_magics import local
from aep_magics.doctor import CHECK_NAMES, SHOPIFY_SPEC_ID, DoctorReport, check
from aep_magics.local.platform import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_ORG_ID
from aep_magics.magics import state

ROOT = Path(__file__).resolve().parents[1]
AEP_ENV = ("AEP_CONFIG", "AEP_CLIENT_ID", "AEP_CLIENT_SECRET", "AEP_ACCESS_TOKEN", "AEP_ORG_ID", "AEP_SANDBOX",
           "AEP_BASE_URL", "AEP_IMS_URL", "AEP_SCOPES", "AEP_LOCAL_URL", "AEP_LOCAL_DATA")
STUB_SECRET = "stub-client-secret-7f3a9c"
STUB_TOKEN = "stub-access-token-51d0e2b7"
FORBIDDEN = {"type": "https://ns.adobe.com/aep/errors/FLOW-2120-403", "title": "Forbidden", "status": 403,
             "detail": "You do not have sufficient permissions to perform the operation."}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in AEP_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def platform():
    with local.start(seed=5150) as server:
        yield server


def local_env(url: str) -> dict[str, str]:
    return {"AEP_CLIENT_ID": DEV_CLIENT_ID, "AEP_CLIENT_SECRET": DEV_CLIENT_SECRET, "AEP_ORG_ID": DEV_ORG_ID,
            "AEP_BASE_URL": url, "AEP_IMS_URL": url, "AEP_SANDBOX": "prod"}


def text_of(report: DoctorReport) -> str:
    bundle = report._repr_mimebundle_()
    return bundle["text/plain"] + "\n" + bundle["text/html"]


# -- AEP Local: every check passes ----------------------------------------------------------------------------------


def test_every_check_passes_on_aep_local(platform, monkeypatch):
    for name, value in local_env(platform.url).items():
        monkeypatch.setenv(name, value)
    report = check()
    assert [c.name for c in report] == list(CHECK_NAMES)
    assert report.ok, report._text()
    assert report["Schema Registry"].text.startswith("tenant id ")
    assert "sandbox prod" in report["org and sandbox"].text
    assert report["token"].text.startswith("expires ") and " UTC (in " in report["token"].text
    assert SHOPIFY_SPEC_ID in report["Flow Service: connection spec"].text
    assert "CRMToAEP" in report["Flow Service: flow spec"].text
    shown = text_of(report)
    assert "all 8 checks ok" in shown and "<table>" in shown and DEV_CLIENT_SECRET not in shown
    # read-only: nothing was created
    from aep_magics.api import AEPClient
    from aep_magics.http import AEPSession

    api = AEPClient(AEPSession(platform.profile()))
    assert api.flow.list_connections() == [] and api.catalog.list_datasets() == {}


def test_the_magic_checks_the_session_and_stores_the_report(platform, monkeypatch):
    monkeypatch.setenv("AEP_LOCAL_URL", platform.url)
    shell = magic_shell()
    try:
        shell.run_cell("%aep_auth --local -q").raise_error()
        result = shell.run_cell("%aep_doctor -o report")
        result.raise_error()
        assert result.result is None
        report = shell.user_ns["report"]
        assert isinstance(report, DoctorReport) and report.ok
        data, _ = shell.display_formatter.format(report)
        assert "text/html" in data and "AEP doctor: AEP Local" in data["text/plain"]
        other = shell.run_cell("%aep_doctor --sandbox nosuch -o other -q")
        other.raise_error()
        line = shell.user_ns["other"]["org and sandbox"]
        assert line.ok is False and "'nosuch' is not one this credential may use" in line.text
        assert shell.user_ns["other"]["Catalog"].ok is None          # not checked after that
        assert "%aep_doctor" in shell.magics_manager.magics["line"]["aep_doctor"].__doc__
    finally:
        state.current.close()


def test_the_command_line_exits_zero_on_aep_local(platform):
    env = {**{k: v for k, v in os.environ.items() if k not in AEP_ENV}, **local_env(platform.url)}
    done = subprocess.run([sys.executable, "-m", "aep_magics.cli", "doctor"], env=env, capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("AEP doctor: AEP Local") and len(lines) == 1 + len(CHECK_NAMES)
    assert all(line.startswith("ok ") for line in lines[1:]) and DEV_CLIENT_SECRET not in done.stdout
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["aep-magics"] == "aep_magics.cli:main"


# -- a stub platform that forbids one service -------------------------------------------------------------------------


def stub(httpserver, *, catalog=(200, {"5f1e6b": {"name": "one"}}), sandboxes=None, token=None):
    httpserver.expect_request("/ims/token/v3", method="POST").respond_with_json(
        *(token or ({"access_token": STUB_TOKEN, "token_type": "bearer", "expires_in": 86399}, 200)))
    httpserver.expect_request("/data/foundation/sandbox-management/", method="GET").respond_with_json(
        *(sandboxes or ({"sandboxes": [{"name": "prod", "type": "production", "state": "active"},
                                       {"name": "dev", "type": "development", "state": "active"}],
                         "_page": {"limit": 50, "count": 2}}, 200)))
    flow = "/data/foundation/flowservice"
    httpserver.expect_request(f"{flow}/connectionSpecs/{SHOPIFY_SPEC_ID}", method="GET").respond_with_json(
        {"items": [{"id": SHOPIFY_SPEC_ID, "name": "shopify"}]})
    httpserver.expect_request(f"{flow}/flowSpecs", method="GET").respond_with_json(
        {"items": [{"id": "14518937-270c-4525-bdec-c2ba7cce3860", "name": "CRMToAEP"}]})
    httpserver.expect_request("/data/foundation/schemaregistry/stats", method="GET").respond_with_json(
        {"imsOrg": "stub@AdobeOrg", "tenantId": "acmestub", "counts": {}})
    httpserver.expect_request("/data/foundation/catalog/dataSets", method="GET").respond_with_json(
        catalog[1], status=catalog[0])
    httpserver.expect_request("/data/foundation/conversion/mappingSets", method="GET").respond_with_json(
        {"data": [], "_page": {"count": 0}})


def stub_env(httpserver, monkeypatch, sandbox="dev"):
    url = httpserver.url_for("").rstrip("/")
    for name, value in {"AEP_CLIENT_ID": "stub-client", "AEP_CLIENT_SECRET": STUB_SECRET, "AEP_ORG_ID": "STUB@AdobeOrg",
                        "AEP_BASE_URL": url, "AEP_IMS_URL": url, "AEP_SANDBOX": sandbox}.items():
        monkeypatch.setenv(name, value)
    return url


def test_a_403_names_the_missing_permission_and_the_rest_stays_ok(httpserver, monkeypatch):
    stub(httpserver, catalog=(403, FORBIDDEN))
    stub_env(httpserver, monkeypatch)
    report = check()
    assert not report.ok and [c.name for c in report.failed] == ["Catalog"]
    line = report["Catalog"]
    assert line.text.startswith("403: ") and "View Datasets" in line.text and "sandbox dev" in line.text
    assert report["Schema Registry"].ok and "acmestub" in report["Schema Registry"].text
    assert report["Data Prep"].ok and report["Flow Service: flow spec"].ok
    assert "1 check to fix" in report.heading()
    methods = {entry[0].method for entry in httpserver.log}
    assert methods == {"GET", "POST"}                                     # POST only to IMS for the token
    assert all(entry[0].path == "/ims/token/v3" for entry in httpserver.log if entry[0].method == "POST")
    shown = text_of(report)
    assert STUB_SECRET not in shown and STUB_TOKEN not in shown


def test_credential_problems_name_the_credential(httpserver, monkeypatch):
    stub(httpserver, token=({"error": "invalid_client", "error_description": "invalid client_secret parameter"}, 401))
    stub_env(httpserver, monkeypatch)
    report = check()
    assert report["token"].ok is False and "client id and secret" in report["token"].text
    assert [c.ok for c in report][2:] == [None] * (len(CHECK_NAMES) - 2)


def test_a_gateway_403_says_the_credential_is_not_entitled(httpserver, monkeypatch):
    stub(httpserver, sandboxes=({"error_code": "403025", "message": "Profile is not valid"}, 403))
    stub_env(httpserver, monkeypatch)
    line = check()["org and sandbox"]
    assert line.ok is False and "403025" in line.text and "not entitled to Experience Platform" in line.text


def test_no_credentials_is_one_failing_line(monkeypatch):
    report = check()
    assert report[0].name == "credentials" and report[0].ok is False and "AEP_CLIENT_ID" in report[0].text
    assert all(c.ok is None for c in report.checks[1:])


def test_the_command_line_exits_non_zero_and_names_the_permission(httpserver, monkeypatch):
    stub(httpserver, catalog=(403, FORBIDDEN))
    stub_env(httpserver, monkeypatch)
    env = {k: v for k, v in os.environ.items()}
    done = subprocess.run([sys.executable, "-m", "aep_magics.cli", "doctor"], env=env, capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 1, done.stdout + done.stderr
    (catalog,) = [line for line in done.stdout.splitlines() if " Catalog " in line]
    assert catalog.startswith("FIX") and "View Datasets" in catalog
    assert STUB_SECRET not in done.stdout + done.stderr and STUB_TOKEN not in done.stdout + done.stderr
    assert sum(line.startswith("ok ") for line in done.stdout.splitlines()) == len(CHECK_NAMES) - 1
