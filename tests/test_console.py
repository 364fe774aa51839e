"""The web console of AEP Local (``/console/``), over loopback HTTP with ``requests``.

One AEP Local runs the tutorial's Shopify → Profile dataflow once (coordinates out of range fail some records, with
error diagnostics on); the tests then read the console as a browser or a script would:

- without a session every console URL is the sign-in page and nothing else;
- sign-in gives an HttpOnly, SameSite=Strict session cookie; sign-out ends it; forms without their CSRF token, and
  POSTs from a foreign Origin, are refused;
- a one-time link (``POST /aep-local/console-links``) works once; a bearer token reads every page;
- sandboxes and orgs are isolated as in the API; no page shows a secret or a token (canary values);
- each page's numbers are the API's; the dataflow page answers fast with 10,000 runs (one page is read).
"""

from __future__ import annotations

import html
import re
import statistics
import time
from typing import Any
from urllib.parse import quote

import pytest
import requests
from test_engine_e2e import COORD_COLUMNS, COORD_MAPPINGS, Kit

from aep_magics import local
from aep_magics.local.platform import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_ORG_ID

FLOW = "/data/foundation/flowservice"
CATALOG = "/data/foundation/catalog"
EXPORT = "/data/foundation/export"
SANDBOXES = "/data/foundation/sandbox-management/sandboxes"
OTHER_ORG = "C0NS0LE0THER0RG000000000@AdobeOrg"
CANARY_SECRET = "canary-client-secret-7f3a9c"
CANARY_TOKEN = "canary-shop-access-token-51d0e2"


class Env:
    """The server, the tutorial's resources, and helpers to read the console."""

    def __init__(self, aep: Any, kit: Kit, ids: dict[str, str]):
        self.aep = aep
        self.url = aep.url
        self.kit = kit
        self.ids = ids
        self.run = kit.runs(ids["flow"])[0]
        self.batch = kit.batch_ids(self.run)[0]
        self.tokens: list[str] = []

    def token(self, client_id: str = DEV_CLIENT_ID, secret: str = DEV_CLIENT_SECRET) -> str:
        r = requests.post(self.url + "/ims/token/v3", data={"grant_type": "client_credentials", "client_id": client_id,
                                                            "client_secret": secret}, timeout=30)
        assert r.status_code == 200, r.text
        self.tokens.append(r.json()["access_token"])
        return self.tokens[-1]

    def api(self, path: str, *, sandbox: str = "prod", token: str | None = None, org: str = DEV_ORG_ID,
            client_id: str = DEV_CLIENT_ID, **kw: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token or self.token()}", "x-api-key": client_id,
                   "x-gw-ims-org-id": org, "x-sandbox-name": sandbox, **kw.pop("headers", {})}
        return requests.get(self.url + path, headers=headers, timeout=30, **kw)

    def bearer(self, path: str, token: str | None = None, **kw: Any) -> requests.Response:
        return requests.get(self.url + path, headers={"Authorization": f"Bearer {token or self.token()}"},
                            timeout=30, allow_redirects=False, **kw)

    def signed_in(self, client_id: str = DEV_CLIENT_ID, secret: str = DEV_CLIENT_SECRET) -> requests.Session:
        s = requests.Session()
        page = s.get(self.url + "/console/sign-in", timeout=30)
        r = s.post(self.url + "/console/sign-in", data={"csrf": _csrf(page.text), "client_id": client_id,
                                                         "client_secret": secret, "next": "/console/"},
                   timeout=30, allow_redirects=False)
        assert r.status_code == 303, r.text
        return s


def _csrf(text: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', text)
    assert m, "no CSRF field in the page"
    return m.group(1)


def _cells(text: str, row_attr: str, row_id: str) -> dict[str, str]:
    m = re.search(rf'<tr {row_attr}="{re.escape(row_id)}">(.*?)</tr>', text, re.S)
    assert m, f"no row {row_id} in the page"
    return {k: html.unescape(v).strip() for k, v in re.findall(r'data-field="([\w-]+)">([^<]*)<', m.group(1))}


def _is_sign_in(r: requests.Response) -> bool:
    return r.status_code in (401, 403) and 'action="/console/sign-in"' in r.text


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with local.start(data_dir=tmp_path_factory.mktemp("console"), seed=8181) as aep:
        kit = Kit(aep, orders=1500)
        ids = kit.flow(columns=COORD_COLUMNS, mappings=COORD_MAPPINGS, name="Console coordinates",
                       options={"errorDiagnosticsEnabled": True, "partialIngestionPercent": 50})
        kit.idle()
        yield Env(aep, kit, ids)


def _pages(env: Env) -> list[str]:
    ids = env.ids
    return ["/console/", "/console/sources", f"/console/dataflows/{ids['flow']}", f"/console/runs/{env.run['id']}",
            "/console/datasets", f"/console/datasets/{ids['dataset']}", "/console/schemas",
            f"/console/schemas/{quote(ids['schema'], safe='')}", "/console/sql",
            f"/console/batches/{env.batch}/failed?path=part-00000.json"]


# -- access ------------------------------------------------------------------------------------------------------------
def test_without_a_session_every_page_is_the_sign_in_page(env):
    root = requests.get(env.url + "/", allow_redirects=False, timeout=30)
    assert root.status_code == 302 and root.headers["Location"] == "/console/"
    for path in _pages(env):
        r = requests.get(env.url + path + ("&" if "?" in path else "?") + "sandbox=prod", timeout=30)
        assert _is_sign_in(r), path
        shown = re.sub(r'name="next" value="[^"]*"', "", r.text)   # the page asked for, to return to after sign-in
        for secret_thing in (env.ids["flow"], env.ids["dataset"], env.batch, "Console coordinates", "Shopify",
                             "latitude"):
            assert secret_thing not in shown, (path, secret_thing)
    # a forged or stale cookie, a wrong bearer token: the same page
    assert _is_sign_in(requests.get(env.url + "/console/", cookies={"aep_console": "forged"}, timeout=30))
    assert _is_sign_in(requests.get(env.url + "/console/", headers={"Authorization": "Bearer nope"}, timeout=30))


def test_sign_in_gives_a_strict_session_cookie_and_sign_out_ends_it(env):
    s = requests.Session()
    page = s.get(env.url + "/console/sign-in", timeout=30)
    assert DEV_CLIENT_ID in page.text  # prefilled on loopback
    r = s.post(env.url + "/console/sign-in", data={"csrf": _csrf(page.text), "client_id": DEV_CLIENT_ID,
                                                    "client_secret": DEV_CLIENT_SECRET,
                                                    "next": f"/console/dataflows/{env.ids['flow']}?sandbox=prod"},
               timeout=30, allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == f"/console/dataflows/{env.ids['flow']}?sandbox=prod"
    cookie = [c for c in r.raw.headers.getlist("Set-Cookie") if c.startswith("aep_console=")][0]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    flow = s.get(env.url + r.headers["Location"], timeout=30)
    assert flow.status_code == 200 and "Console coordinates" in flow.text
    # sign-out is a POST with the page's CSRF token
    assert s.post(env.url + "/console/sign-out", data={}, timeout=30, allow_redirects=False).status_code == 403
    out = s.post(env.url + "/console/sign-out", data={"csrf": _csrf(flow.text)}, timeout=30, allow_redirects=False)
    assert out.status_code == 303
    old_id = cookie.split(";")[0].split("=", 1)[1]
    assert _is_sign_in(requests.get(env.url + "/console/", cookies={"aep_console": old_id}, timeout=30))


def test_sign_in_refuses_a_wrong_secret_a_missing_csrf_and_a_foreign_next(env):
    s = requests.Session()
    page = s.get(env.url + "/console/sign-in", timeout=30)
    wrong = s.post(env.url + "/console/sign-in", data={"csrf": _csrf(page.text), "client_id": DEV_CLIENT_ID,
                                                        "client_secret": "wrong"}, timeout=30, allow_redirects=False)
    assert wrong.status_code == 401 and "wrong secret" in wrong.text and "aep_console=" not in \
        wrong.headers.get("Set-Cookie", "")
    no_csrf = requests.post(env.url + "/console/sign-in", data={"client_id": DEV_CLIENT_ID,
                                                                 "client_secret": DEV_CLIENT_SECRET},
                            timeout=30, allow_redirects=False)
    assert no_csrf.status_code == 403 and "aep_console=" not in no_csrf.headers.get("Set-Cookie", "")
    page = s.get(env.url + "/console/sign-in", timeout=30)
    away = s.post(env.url + "/console/sign-in", data={"csrf": _csrf(page.text), "client_id": DEV_CLIENT_ID,
                                                       "client_secret": DEV_CLIENT_SECRET,
                                                       "next": "//evil.example/x"}, timeout=30, allow_redirects=False)
    assert away.status_code == 303 and away.headers["Location"] == "/console/"


def test_a_one_time_link_works_once_and_drops_its_ticket(env):
    token = env.token()
    r = requests.post(env.url + "/aep-local/console-links", json={"path": f"/dataflows/{env.ids['flow']}",
                                                                   "sandbox": "prod"},
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 201, r.text
    url = r.json()["url"]
    assert url.startswith(f"{env.url}/console/dataflows/{env.ids['flow']}?sandbox=prod&ticket=")
    s = requests.Session()
    first = s.get(url, timeout=30, allow_redirects=False)
    target = f"/console/dataflows/{env.ids['flow']}?sandbox=prod"
    assert first.status_code == 200 and f'url={target}' in html.unescape(first.text) and "ticket" not in \
        first.text.split("<body>")[1]
    page = s.get(env.url + target, timeout=30)
    assert page.status_code == 200 and "Console coordinates" in page.text
    again = requests.get(url, timeout=30, allow_redirects=False)
    assert _is_sign_in(again) and again.status_code == 403 and "already used" in again.text
    # the link needs an IMS token of AEP Local (not the admin token: it names no org), a console path, a sandbox
    for headers, body, status in (
            ({}, {"path": "/"}, 401),
            ({"Authorization": f"Bearer {env.aep.admin_token}"}, {"path": "/"}, 401),
            ({"Authorization": f"Bearer {token}"}, {"path": "https://evil.example/"}, 400),
            ({"Authorization": f"Bearer {token}"}, {"path": "/", "sandbox": "no-such-sandbox"}, 404)):
        bad = requests.post(env.url + "/aep-local/console-links", json=body, headers=headers, timeout=30)
        assert bad.status_code == status, (body, bad.text)
    assert token not in first.text and token not in page.text


def test_a_bearer_token_reads_every_page(env):
    token = env.token()
    for path in _pages(env):
        r = env.bearer(path, token)
        assert r.status_code == 200, (path, r.text[-500:])
        if r.headers["Content-Type"].startswith("text/html"):
            assert "The API call behind this page" in r.text, path
            assert "$ACCESS_TOKEN" in r.text and "$API_KEY" in r.text and "$ORG_ID" in r.text, path
            assert r.headers["Cache-Control"] == "no-store" and "script-src" not in r.headers[
                "Content-Security-Policy"] and "default-src 'none'" in r.headers["Content-Security-Policy"]


def test_unknown_objects_and_sandboxes_answer_one_line_not_a_5xx(env):
    token = env.token()
    for path, status, words in (
            ("/console/dataflows/00000000-0000-0000-0000-000000000000", 404, "No dataflow"),
            ("/console/datasets/000000000000000000000000", 404, "No dataset"),
            ("/console/runs/nope", 404, "No dataflow run"),
            ("/console/?sandbox=nope", 404, "not an active sandbox"),
            ("/console/?sandbox=%3Cscript%3E", 404, "not an active sandbox"),
            (f"/console/dataflows/{env.ids['flow']}?continuationToken=garbage", 404, "page of runs"),
            (f"/console/batches/{env.batch}/failed?path=../../state.sqlite3", 404, "No diagnostics file"),
            ("/console/nothing-here", 404, "no page")):
        r = env.bearer(path, token)
        assert r.status_code == status and words in r.text, (path, r.status_code, r.text[-400:])
        assert "<script>" not in r.text


def test_sandboxes_and_orgs_are_isolated(env):
    token = env.token()
    created = requests.post(env.url + SANDBOXES, json={"name": "console-dev", "title": "Console dev",
                                                       "type": "development"},
                            headers={"Authorization": f"Bearer {token}", "x-api-key": DEV_CLIENT_ID,
                                     "x-gw-ims-org-id": DEV_ORG_ID}, timeout=30)
    assert created.status_code == 202, created.text
    flow, dataset = env.ids["flow"], env.ids["dataset"]
    dev = env.bearer("/console/sources?sandbox=console-dev", token)
    assert dev.status_code == 200 and flow not in dev.text and "Console dev" in dev.text
    assert env.bearer(f"/console/dataflows/{flow}?sandbox=console-dev", token).status_code == 404
    assert env.bearer(f"/console/datasets/{dataset}?sandbox=console-dev", token).status_code == 404
    assert env.bearer(f"/console/batches/{env.batch}/failed?sandbox=console-dev&path=part-00000.json",
                      token).status_code == 404
    # another org: its own sandboxes only, none of this org's objects
    r = requests.post(env.url + "/aep-local/clients", json={"client_id": "console-other", "client_secret": "other-s",
                                                            "org_id": OTHER_ORG},
                      headers={"Authorization": f"Bearer {env.aep.admin_token}"}, timeout=30)
    assert r.status_code == 201, r.text
    other = env.token("console-other", "other-s")
    sources = env.bearer("/console/sources", other)
    assert sources.status_code == 200 and flow not in sources.text and "Console dev" not in sources.text
    for path in (f"/console/dataflows/{flow}", f"/console/datasets/{dataset}", f"/console/runs/{env.run['id']}"):
        assert env.bearer(path, other).status_code == 404, path
    assert env.bearer("/console/?sandbox=console-dev", other).status_code == 404
    signed = env.signed_in("console-other", "other-s")
    assert flow not in signed.get(env.url + "/console/datasets", timeout=30).text
    assert signed.get(env.url + f"/console/dataflows/{flow}", timeout=30).status_code == 404


def test_no_page_shows_a_secret_or_a_token(env):
    r = requests.post(env.url + "/aep-local/clients", json={"client_id": "console-canary",
                                                            "client_secret": CANARY_SECRET, "org_id": DEV_ORG_ID},
                      headers={"Authorization": f"Bearer {env.aep.admin_token}"}, timeout=30)
    assert r.status_code == 201, r.text
    canary = env.token("console-canary", CANARY_SECRET)
    conn = requests.post(env.url + f"{FLOW}/connections", json={
        "name": "Canary shop", "auth": {"specName": "Basic Authentication",
                                        "params": {"host": "canary.myshopify.com", "accessToken": CANARY_TOKEN}},
        "connectionSpec": {"id": "4f63aa36-bd48-4e33-bb83-49fbcd11c708", "version": "1.0"}},
        headers={"Authorization": f"Bearer {canary}", "x-api-key": "console-canary", "x-gw-ims-org-id": DEV_ORG_ID,
                 "x-sandbox-name": "prod", "Content-Type": "application/json"}, timeout=30)
    assert conn.status_code == 201, conn.text
    signed = env.signed_in("console-canary", CANARY_SECRET)
    link = requests.post(env.url + "/aep-local/console-links", json={"path": "/sources"},
                         headers={"Authorization": f"Bearer {canary}"}, timeout=30).json()["url"]
    texts = [requests.get(link, timeout=30).text]
    for path in _pages(env):
        texts.append(signed.get(env.url + path, timeout=30).text)
        texts.append(env.bearer(path, canary).text)
    sources = env.bearer("/console/sources", canary).text
    assert "Canary shop" in sources and "canary.myshopify.com" in sources and "********" in sources
    for text in texts:
        for secret in (CANARY_SECRET, CANARY_TOKEN, canary, *env.tokens, env.aep.admin_token, DEV_CLIENT_SECRET):
            assert secret not in text


def test_each_page_shows_what_the_api_answers(env):
    token = env.token()
    flow_id, dataset_id = env.ids["flow"], env.ids["dataset"]
    api_flow = env.api(f"{FLOW}/flows/{flow_id}", token=token).json()["items"][0]
    api_runs = env.api(f"{FLOW}/flows/{flow_id}/runs", token=token).json()["items"]
    page = env.bearer(f"/console/dataflows/{flow_id}", token).text
    assert 'id="runs-chart"' in page and "<svg" in page and "records failed" in page
    for run in api_runs:
        rec = run["metrics"]["recordSummary"]
        cells = _cells(page, "data-run", run["id"])
        assert cells == {"status": run["metrics"]["statusSummary"]["status"], "input": str(rec["inputRecordCount"]),
                         "output": str(rec["outputRecordCount"]), "failed": str(rec["failedRecordCount"])}
    assert int(_cells(page, "data-run", env.run["id"])["failed"]) > 0
    assert "shippingAddress._schema.latitude" in page   # the mapping set's destinations
    assert f"GET</code> <code>{FLOW}/flows/{flow_id}</code>" in page
    sources = env.bearer("/console/sources", token).text
    assert _cells(sources, "data-flow", flow_id) == {"last_state": api_flow["lastRunDetails"]["state"]}

    run = env.bearer(f"/console/runs/{env.run['id']}", token).text
    rec = env.run["metrics"]["recordSummary"]
    assert re.search(rf'data-field="failed">{rec["failedRecordCount"]}<', run)
    assert "INGEST-1405-400" in run and 'id="diagnostics"' in run
    listing = env.api(f"{EXPORT}/batches/{env.batch}/failed", token=token).json()["data"]
    for item in listing:
        assert f"/console/batches/{env.batch}/failed?sandbox=prod&amp;path={item['name']}" in run
        download = env.bearer(f"/console/batches/{env.batch}/failed?path={item['name']}", token)
        same = env.api(f"{EXPORT}/batches/{env.batch}/failed", token=token, params={"path": item["name"]})
        assert download.status_code == 200 and download.content == same.content and download.content
        assert "attachment" in download.headers["Content-Disposition"]

    api_batches = env.api(f"{CATALOG}/batches", token=token, params={"dataSet": dataset_id}).json()
    page = env.bearer(f"/console/datasets/{dataset_id}", token).text
    for batch_id, batch in api_batches.items():
        assert _cells(page, "data-batch", batch_id) == {"records": str(batch["recordCount"]),
                                                        "failed": str(batch["failedRecordCount"])}
    preview = env.api(f"{EXPORT}/datasets/{dataset_id}/preview", token=token, params={"flatten": "true"}).json()
    rows = re.search(r'<table class="grid preview" id="preview">.*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    assert rows.count("<tr>") == min(20, len(preview["data"])) > 0
    assert "shippingAddress._schema.latitude" in page   # flattened column names
    table = re.search(r'id="query-in-sql" href="([^"]+)"', page)
    assert table, "no Query in SQL link"

    schema = env.bearer(f"/console/schemas/{quote(env.ids['schema'], safe='')}", token).text
    assert "https://ns.adobe.com/xdm/context/profile-personal-details" in schema
    assert "personalEmail" in schema and "latitude" in schema


def test_the_sql_box_runs_reads_and_refuses_changes(env):
    s = env.signed_in()
    page = s.get(env.url + f"/console/datasets/{env.ids['dataset']}", timeout=30).text
    link = html.unescape(re.search(r'id="query-in-sql" href="([^"]+)"', page).group(1))
    box = s.get(env.url + link, timeout=30)
    assert box.status_code == 200 and "SELECT * FROM" in box.text
    table = re.search(r"table=([A-Za-z0-9_]+)", link).group(1)
    csrf = _csrf(box.text)
    ok = s.post(env.url + "/console/sql", data={"csrf": csrf, "sandbox": "prod",
                                                "sql": f"SELECT COUNT(*) AS n FROM {table}"}, timeout=60)
    records = sum(b["recordCount"] for b in env.api(f"{CATALOG}/batches",
                                                    params={"dataSet": env.ids["dataset"]}).json().values())
    assert ok.status_code == 200 and re.search(rf"<td>{records}</td>", ok.text), ok.text[-1500:]
    many = s.post(env.url + "/console/sql", data={"csrf": csrf, "sandbox": "prod",
                                                  "sql": "SELECT * FROM range(2000) t(x) LIMIT 1200"}, timeout=60)
    assert "the first 500 shown" in many.text and many.text.count("<tr>") == 501
    datasets_before = env.api(f"{CATALOG}/dataSets").json().keys()
    for sql in (f"CREATE TABLE console_copy AS SELECT * FROM {table}", f"DROP TABLE {table}",
                "SET auto_to_json = true"):
        refused = s.post(env.url + "/console/sql", data={"csrf": csrf, "sandbox": "prod", "sql": sql}, timeout=60)
        assert refused.status_code == 200 and "read-only statements" in refused.text, sql
    assert env.api(f"{CATALOG}/dataSets").json().keys() == datasets_before
    bad = s.post(env.url + "/console/sql", data={"csrf": csrf, "sandbox": "prod", "sql": "SELEC nonsense"},
                 timeout=60)
    assert bad.status_code == 200 and 'id="sql-error"' in bad.text
    # without the CSRF token, or from another site's page: refused before anything runs
    assert s.post(env.url + "/console/sql", data={"sql": "SELECT 1"}, timeout=30).status_code == 403
    foreign = s.post(env.url + "/console/sql", data={"csrf": csrf, "sql": "SELECT 1"},
                     headers={"Origin": "http://evil.example"}, timeout=30)
    assert foreign.status_code == 403


def test_a_page_of_runs_answers_fast_with_ten_thousand_runs(tmp_path):
    """10,000 runs of one flow: the activity page reads one page through the Flow Service's paged listing.
    The median is printed (docs/reliability.md); the bound asserted is a catastrophe guard, not the target."""
    with local.start(data_dir=tmp_path / "aep", seed=9191) as aep:
        kit = Kit(aep, orders=200)
        ids = kit.flow(columns=COORD_COLUMNS, mappings=COORD_MAPPINGS, name="Many runs")
        kit.idle()
        (run,) = kit.runs(ids["flow"])
        store = aep.platform.store
        from aep_magics.local.store import Tenant

        tenant = Tenant(DEV_ORG_ID, "prod")
        # the runs' records as the engine writes them, copied 10,000 times (test data: no scheduler involved)
        with store.transaction():
            for i in range(9_999):
                doc = dict(run, id=f"{i:08d}-0000-4000-8000-{i:012d}", createdAt=run["createdAt"] + (i + 1) * 60_000)
                store.insert(tenant, "run", doc["id"], doc, created=doc["createdAt"], etag=run["etag"],
                             state="success", parent=ids["flow"])
        token = requests.post(aep.url + "/ims/token/v3", timeout=30, data={
            "grant_type": "client_credentials", "client_id": DEV_CLIENT_ID,
            "client_secret": DEV_CLIENT_SECRET}).json()["access_token"]
        with requests.Session() as s:
            s.headers["Authorization"] = f"Bearer {token}"
            times = []
            for _ in range(21):
                started = time.perf_counter()
                r = s.get(f"{aep.url}/console/dataflows/{ids['flow']}", timeout=60)
                times.append(time.perf_counter() - started)
                assert r.status_code == 200
            median = statistics.median(times)
            print(f"\nconsole dataflow page, 10,000 runs: median {median * 1000:.1f} ms over 21 requests "
                  f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f})")
            assert r.text.count("<tr data-run=") == 25
            assert f"{9_998:08d}-0000-4000-8000" in r.text          # the newest first
            older = html.unescape(re.search(r'id="older" href="([^"]+)"', r.text).group(1))
            second = s.get(aep.url + older, timeout=60).text
            assert second.count("<tr data-run=") == 25 and f"{9_973:08d}-0000-4000-8000" in second
            assert median < 2.0


# -- %aep_console ------------------------------------------------------------------------------------------------------
AEP_ENV = ("AEP_CONFIG", "AEP_CLIENT_ID", "AEP_CLIENT_SECRET", "AEP_ACCESS_TOKEN", "AEP_ORG_ID", "AEP_SANDBOX",
           "AEP_BASE_URL", "AEP_IMS_URL", "AEP_SCOPES", "AEP_LOCAL_URL", "AEP_LOCAL_DATA")


@pytest.fixture
def shell(env, monkeypatch):
    from helpers.shell import cell, magic_shell

    from aep_magics.magics import state

    for name in AEP_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AEP_LOCAL_URL", env.url)
    sh = magic_shell()
    cell(sh, "%aep_auth --local -q")
    yield sh
    state.current.close()


def test_the_console_magic_links_a_result_to_its_page(env, shell):
    from helpers.shell import cell, failing

    doc = shell.magics_manager.magics["line"]["aep_console"].__doc__
    assert "%aep_console {{flow.id}}" in doc and "Example" in doc
    shell.user_ns["flow"] = {"id": env.ids["flow"]}
    shell.user_ns["dataset_id"] = env.ids["dataset"]
    link = cell(shell, "%aep_console {{flow.id}} --inline")
    assert link.local and link.path == f"/dataflows/{env.ids['flow']}"
    markup = link._repr_html_()
    assert "<iframe" in markup and "one-time link" in markup
    s = requests.Session()
    assert s.get(link.url, timeout=30).status_code == 200            # signs in, then moves on by itself
    page = s.get(f"{env.url}/console/dataflows/{env.ids['flow']}?sandbox=prod", timeout=30)
    assert page.status_code == 200 and 'id="runs-chart"' in page.text
    dataset = cell(shell, "%aep_console {{dataset_id}}")
    assert dataset.path == f"/datasets/{env.ids['dataset']}"
    assert requests.get(dataset.url, timeout=30).status_code == 200
    assert cell(shell, "%aep_console").path == "/"
    error = failing(shell, "%aep_console not-an-id")
    assert "neither a dataflow id" in str(error)


def test_the_console_link_of_adobes_platform_is_experience_platforms_ui():
    from aep_magics.auth import Secret
    from aep_magics.config import load_profile
    from aep_magics.http import AEPSession
    from aep_magics.magics.console import console_link

    profile = load_profile(base_url="https://platform.adobe.io", ims_url="https://ims-na1.adobelogin.com",
                           org_id="ABC@AdobeOrg", sandbox="prod", client_id="id", client_secret=Secret("s"))
    link = console_link(AEPSession(profile), "0" * 24)
    assert not link.local and link.url.startswith("https://experience.adobe.com/#/platform/")
    assert "your own Adobe ID sign-in" in link.note and "0" * 24 in link.note
    assert "<iframe" not in link._repr_html_()
