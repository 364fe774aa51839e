#!/usr/bin/env python
"""The parity matrix: every operation of Adobe's ingestion API specs, whether AEP Local serves it, and which checks
prove it. Writes ``docs/parity.md``.

    python tools/parity.py            # render docs/parity.md from the specs, the live routes and the evidence file
    python tools/parity.py --record   # first run the evidence tests with recording on (tests/parity-evidence.json)
    python tools/parity.py --check    # exit 1 (and show a diff) when docs/parity.md is not what rendering gives

Three inputs, nothing kept by hand:

- the operations (method, path template, operationId, summary) of the specs in :data:`SCOPE`, read from
  ``specs/adobe/<name>.yaml`` (Adobe's OpenAPI specs, https://developer.adobe.com/experience-platform-apis/);
- AEP Local's routing table, taken live from :class:`aep_magics.local.server.App`. A spec path is mapped onto AEP
  Local by prefixing the path of the spec's server URL (``https://platform.adobe.io/data/foundation/catalog`` gives
  ``/data/foundation/catalog``) and is matched segment by segment against each route (:func:`match`);
- ``tests/parity-evidence.json``: the routes each test module got a response from, recorded by the pytest plugin
  ``tests/helpers/parity_record.py`` while the evidence tests ran (``--record``). An operation counts as proven by a
  test module when that module got a successful (below 400) answer from a route the operation maps onto.

The output has no dates and a fixed order, so a stale page shows as a plain diff (``tests/test_parity.py``).
"""

from __future__ import annotations

import argparse
import difflib
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SPECS_DIR = ROOT / "specs" / "adobe"
DOC = ROOT / "docs" / "parity.md"
EVIDENCE = ROOT / "tests" / "parity-evidence.json"
REFERENCE = "https://developer.adobe.com/experience-platform-apis/references/{name}/"

#: The specs in the matrix, in page order, with the reason each belongs to ingestion.
SCOPE: dict[str, str] = {
    "flow-service": "sources: connection specs, base/source/target connections, dataflows and their runs",
    "catalog": "the datasets ingestion writes into and the batches each run produces",
    "data-prep": "the mapping sets a dataflow applies to every ingested record",
    "schema-registry": "the XDM schemas that datasets and mappings target",
    "data-access": "reading back the files of ingested batches, and dataset previews",
    "sandbox": "every ingestion call is scoped to a sandbox (`x-sandbox-name`)",
    "batch-ingestion": "the direct route into a dataset: create a batch, upload files, complete it",
    "streaming-ingestion": "the streaming route into a dataset (HTTP API source connections)",
    "observability-insights": "ingestion metrics (records ingested and failed per dataset and dataflow)",
    "query-service": "SQL over the ingested datasets: the PostgreSQL interface's connection parameters and the query "
                     "log (Query Service, issue 17)",
}
#: The vendored specs left out, and why. A spec in ``specs/adobe`` in neither dict fails ``tests/test_parity.py``.
OUT_OF_SCOPE: dict[str, str] = {
    "dataset-service": "data-usage labels on datasets: governance, not ingestion",
}

#: The kinds of check, in column order, and the test module that is each one (``None``: every other module).
CHECKS: dict[str, str | None] = {
    "unit": None,
    "aepp": "tests/test_aepp.py",
    "schemathesis": "tests/test_contract_adobe.py",
    "docs example": "tests/test_adobe_examples.py",
}
#: What ``--record`` runs: the modules that talk to an in-process AEP Local (missing ones are skipped).
EVIDENCE_TESTS = ["tests/test_local_*.py", "tests/test_engine_*.py", "tests/test_aepp.py",
                  "tests/test_contract_adobe.py", "tests/test_adobe_examples.py", "tests/test_query_service.py"]
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PARAM = re.compile(r"\{[^}/]*\}|<[^>/]*>")


# -- specs ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Operation:
    spec: str
    method: str          # upper case
    path: str            # as the spec writes it, e.g. /batches/{BATCH_ID}
    base: str            # the path of the spec's server URL, e.g. /data/foundation/catalog
    operation_id: str
    summary: str

    @property
    def local_path(self) -> str:
        """The path template on AEP Local's origin."""
        return self.base.rstrip("/") + "/" + self.path.lstrip("/")


@dataclass
class Spec:
    name: str
    title: str
    base: str
    host: str
    operations: list[Operation] = field(default_factory=list)


def server_base(doc: dict[str, Any]) -> tuple[str, str]:
    """(host, base path) of a spec: OpenAPI 3 ``servers[0].url`` or Swagger 2 ``host`` + ``basePath``."""
    if "swagger" in doc:
        return str(doc.get("host", "")), "/" + str(doc.get("basePath", "")).strip("/")
    url = str((doc.get("servers") or [{"url": "/"}])[0]["url"])
    url = re.sub(r"^[a-z]+:", "", url)
    if url.startswith("//"):
        host, _, rest = url[2:].partition("/")
        url = "/" + rest
    else:
        host = ""
    return host, "/" + url.strip("/")


@functools.lru_cache(maxsize=None)
def load_spec(name: str, specs_dir: Path = SPECS_DIR) -> Spec:
    doc = yaml.load((specs_dir / f"{name}.yaml").read_text(encoding="utf-8"), Loader=_LOADER)
    host, base = server_base(doc)
    spec = Spec(name, str(doc.get("info", {}).get("title", name)), base, host)
    for path, item in (doc.get("paths") or {}).items():
        for method, op in item.items():
            if method not in HTTP_METHODS or not isinstance(op, dict):
                continue
            spec.operations.append(Operation(name, method.upper(), path, base, str(op.get("operationId") or ""),
                                             " ".join(str(op.get("summary") or "").split())))
    return spec


def vendored_specs(specs_dir: Path = SPECS_DIR) -> list[str]:
    return sorted(p.stem for p in specs_dir.glob("*.yaml"))


# -- routes and matching ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    method: str
    rule: str
    service: str


def live_routes() -> list[Route]:
    """AEP Local's routing table, from an :class:`App` over a throw-away data dir."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from aep_magics.local.platform import Platform
    from aep_magics.local.server import App

    data_dir = tempfile.mkdtemp(prefix="aep-parity-")
    platform = Platform(data_dir)
    try:
        return [Route(m, r, s) for m, r, s in App(platform).route_table()]
    finally:
        close = getattr(platform, "close", None)
        if close:
            close()
        shutil.rmtree(data_dir, ignore_errors=True)


def segments(template: str) -> list[str]:
    """A path template as segments; every parameter (``{name}`` or ``<converter:name>``) becomes ``{}``."""
    return [_PARAM.sub("{}", s) for s in template.strip("/").split("/")] if template.strip("/") else []


@dataclass(frozen=True)
class Match:
    route: Route
    #: Spec parameters that the route fixes to a literal: ((spec parameter name, literal), ...).
    bindings: tuple[tuple[str, str], ...] = ()


def match(method: str, spec_template: str, routes: Iterable[Route]) -> list[Match]:
    """The routes that serve ``method spec_template``, matching by shape: segment counts agree, literals are equal,
    a spec parameter meets a route parameter whatever either is called (``{FLOW_ID}`` ~ ``<id>`` ~ ``<path:id>``),
    or a route literal (``{CONTAINER_ID}`` ~ ``tenant``: served for that value only, kept as a binding). A spec
    literal never meets a route parameter: that route would take the literal for an id. HEAD is served by GET."""
    spec_raw = spec_template.strip("/").split("/") if spec_template.strip("/") else []
    spec_segs = segments(spec_template)
    found = []
    for route in routes:
        if route.method != method and not (method == "HEAD" and route.method == "GET"):
            continue
        route_segs = segments(route.rule)
        if len(route_segs) != len(spec_segs):
            continue
        bindings = []
        for raw, s, r in zip(spec_raw, spec_segs, route_segs):
            if s == r:
                continue
            if s == "{}" and "{}" not in r:
                bindings.append((raw[1:-1], r))
                continue
            break
        else:
            found.append(Match(route, tuple(bindings)))
    return found


# -- evidence ---------------------------------------------------------------------------------------------------------
@dataclass
class Evidence:
    #: Test modules that ran when the evidence was recorded (paths relative to the repository).
    modules: list[str] = field(default_factory=list)
    #: (request method, route rule) -> {test module: sorted statuses}
    hits: dict[tuple[str, str], dict[str, list[int]]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = EVIDENCE) -> Evidence:
        if not path.exists():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        ev = cls(sorted(data.get("modules", [])))
        for h in data.get("requests", []):
            ev.hits.setdefault((h["method"], h["route"]), {})[h["module"]] = sorted(h["statuses"])
        return ev

    def proving(self, method: str, rule: str) -> list[str]:
        """The modules that got a successful answer from ``method`` on ``rule``."""
        return sorted(m for m, statuses in self.hits.get((method, rule), {}).items() if any(s < 400 for s in statuses))

    def proven_routes(self) -> set[tuple[str, str]]:
        return {key for key in self.hits if self.proving(*key)}


def check_of(module: str) -> str:
    for kind, path in CHECKS.items():
        if path == module:
            return kind
    return "unit"


def proof(method: str, matches: Sequence[Match], evidence: Evidence) -> dict[str, list[str]]:
    """check kind -> modules proving the operation through any of its routes."""
    out: dict[str, set[str]] = {kind: set() for kind in CHECKS}
    for m in matches:
        for module in evidence.proving(method, m.route.rule):
            out[check_of(module)].add(module)
    return {kind: sorted(mods) for kind, mods in out.items()}


# -- rendering --------------------------------------------------------------------------------------------------------
def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _served(matches: Sequence[Match]) -> str:
    if not matches:
        return "no"
    if any(not m.bindings for m in matches):
        return "yes"
    by_param: dict[str, set[str]] = {}
    for m in matches:
        for name, value in m.bindings:
            by_param.setdefault(name, set()).add(value)
    return "yes, for " + "; ".join(f"`{name}` = " + ", ".join(f"`{v}`" for v in sorted(values))
                                   for name, values in sorted(by_param.items()))


def _stem(module: str) -> str:
    return Path(module).stem.removeprefix("test_")


def _proof_cells(p: dict[str, list[str]]) -> list[str]:
    cells = []
    for kind in CHECKS:
        mods = p[kind]
        if not mods:
            cells.append("")
        elif kind == "unit":
            cells.append(", ".join(_stem(m) for m in mods))
        else:
            cells.append("✓")
    return cells


def render(specs: Sequence[Spec], routes: Sequence[Route], evidence: Evidence) -> str:
    present = {kind: (path is None or path in evidence.modules) for kind, path in CHECKS.items()}
    unit_modules = [m for m in evidence.modules if check_of(m) == "unit"]
    kinds = list(CHECKS)
    out: list[str] = []
    w = out.append
    w("# AEP Local parity with Adobe's API specs")
    w("")
    w("<!-- Generated by tools/parity.py; do not edit. Regenerate with `python tools/parity.py` "
      "(`--record` first to re-run the evidence tests). tests/test_parity.py fails when this page is stale. -->")
    w("")
    w("Every operation of Adobe's ingestion API specs ([Experience Platform API reference]"
      "(https://developer.adobe.com/experience-platform-apis/), vendored unmodified in `specs/adobe/`), whether AEP "
      "Local serves it, and which checks prove it. How AEP Local's behaviour differs from the platform's where it "
      "does serve an operation: [deviations.md](deviations.md).")
    w("")
    w("- **Served**: AEP Local's routing table has a route for the operation. The spec's path is prefixed with the "
      "path of its server URL (`https://platform.adobe.io/data/foundation/catalog` → `/data/foundation/catalog`) "
      "and matched segment by segment; parameters match whatever they are called. *yes, for `X` = `v`*: AEP Local "
      "serves the operation only for that value of the spec's parameter (e.g. the `tenant` container).")
    w("- **Proven by**: a test module got a successful (status below 400) answer from that route while the "
      "evidence tests ran with recording on (`tests/helpers/parity_record.py` → `tests/parity-evidence.json`). "
      "*unit* lists the modules (`tests/test_<name>.py`); *aepp* is `tests/test_aepp.py` (the aepp SDK driving AEP "
      "Local); *schemathesis* is `tests/test_contract_adobe.py` (requests generated from these specs); *docs "
      "example* is `tests/test_adobe_examples.py` (Adobe's documented requests replayed verbatim). Requests made "
      "by an AEP Local in a child process are not recorded.")
    w("")
    absent = [CHECKS[k] for k in kinds if not present[k]]
    w(f"Evidence recorded from {len(evidence.modules)} test modules: "
      + (", ".join(f"`{_stem(m)}`" for m in unit_modules) or "none") + " (unit)"
      + "".join(f", `{_stem(m)}` ({check_of(m)})" for m in evidence.modules if check_of(m) != "unit") + ".")
    if absent:
        w("Not part of the recorded run (the column stays empty until it is re-recorded): "
          + ", ".join(f"`{p}`" for p in absent) + ".")
    w("")

    w("## Specs in scope")
    w("")
    w("| Spec | Title | AEP Local path | Why |")
    w("|---|---|---|---|")
    for spec in specs:
        host = "" if spec.host in ("{environment}.adobe.io", "platform.adobe.io") else f" (host `{spec.host}`)"
        w(f"| [{spec.name}]({REFERENCE.format(name=spec.name)}) | {_cell(spec.title)} | `{spec.base}`{host} | "
          f"{_cell(SCOPE.get(spec.name, ''))} |")
    w("")
    w("Left out: " + "; ".join(f"[{n}]({REFERENCE.format(name=n)}) ({r})" for n, r in sorted(OUT_OF_SCOPE.items()))
      + ".")
    w("")

    rows: dict[str, list[tuple[Operation, list[Match], dict[str, list[str]]]]] = {}
    documented: set[tuple[str, str]] = set()
    for spec in specs:
        rows[spec.name] = []
        for op in spec.operations:
            ms = match(op.method, op.local_path, routes)
            documented.update((m.route.method, m.route.rule) for m in ms if m.route.method == op.method)
            rows[spec.name].append((op, ms, proof(op.method, ms, evidence)))

    w("## Summary")
    w("")
    w("| Spec | Operations | Served | " + " | ".join(f"Proven: {k}" for k in kinds) + " | Proven by any |")
    w("|---|---:|---:|" + "---:|" * len(kinds) + "---:|")
    totals = [0, 0] + [0] * len(kinds) + [0]

    def counts(items: list[tuple[Operation, list[Match], dict[str, list[str]]]]) -> list[int]:
        c = [len(items), sum(1 for _, ms, _ in items if ms)]
        c += [sum(1 for _, _, p in items if p[k]) for k in kinds]
        c.append(sum(1 for _, _, p in items if any(p.values())))
        return c

    def fmt(c: list[int]) -> list[str]:
        return [str(c[0]), str(c[1])] + [str(c[2 + i]) if present[k] else "—" for i, k in enumerate(kinds)] \
            + [str(c[-1])]

    for spec in specs:
        c = counts(rows[spec.name])
        totals = [a + b for a, b in zip(totals, c)]
        w(f"| [{spec.name}](#{spec.name}) | " + " | ".join(fmt(c)) + " |")
    w("| **Total** | " + " | ".join(f"**{x}**" for x in fmt(totals)) + " |")
    w("")

    for spec in specs:
        w(f"## {spec.name}")
        w("")
        c = counts(rows[spec.name])
        w(f"{_cell(spec.title)}: {c[0]} operations under `{spec.base}`, {c[1]} served, {c[-1]} proven. "
          f"Reference: {REFERENCE.format(name=spec.name)}")
        w("")
        w("| Method | Path | Operation | Served | " + " | ".join(kinds) + " |")
        w("|---|---|---|---|" + "---|" * len(kinds))
        for op, ms, p in rows[spec.name]:
            name = f"`{op.operation_id}` " if op.operation_id else ""
            w(f"| {op.method} | `{_cell(op.path)}` | {name}{_cell(op.summary)} | {_served(ms)} | "
              + " | ".join(_proof_cells(p)) + " |")
        w("")

    extra = [r for r in routes if (r.method, r.rule) not in documented]
    w("## Routes beyond these specs")
    w("")
    w(f"AEP Local serves {len(extra)} routes that no operation above maps onto: its own control API "
      "(`/aep-local/...`), the IMS token endpoint, and platform paths that these specs do not list.")
    w("")
    w("| Method | Route | Service | " + " | ".join(kinds) + " |")
    w("|---|---|---|" + "---|" * len(kinds))
    for r in sorted(extra, key=lambda r: (r.rule, r.method)):
        p = proof(r.method, [Match(r)], evidence)
        w(f"| {r.method} | `{_cell(r.rule)}` | {r.service} | " + " | ".join(_proof_cells(p)) + " |")
    w("")
    return "\n".join(out)


def build(evidence_path: Path = EVIDENCE, specs_dir: Path = SPECS_DIR, routes: Sequence[Route] | None = None) -> str:
    specs = [load_spec(name, specs_dir) for name in SCOPE]
    return render(specs, live_routes() if routes is None else routes, Evidence.load(evidence_path))


def diff(expected: str, actual: str, limit: int = 40) -> str:
    lines = list(difflib.unified_diff(actual.splitlines(), expected.splitlines(), "docs/parity.md (committed)",
                                      "docs/parity.md (rendered)", lineterm="", n=1))
    return "\n".join(lines[:limit] + ([f"... {len(lines) - limit} more diff lines"] if len(lines) > limit else []))


# -- recording --------------------------------------------------------------------------------------------------------
def evidence_modules() -> list[str]:
    found: set[str] = set()
    for pattern in EVIDENCE_TESTS:
        found.update(p.relative_to(ROOT).as_posix() for p in ROOT.glob(pattern))
    return sorted(found)


def record(extra_args: Sequence[str] = ()) -> int:
    """Run the evidence tests with the recorder on; write :data:`EVIDENCE`. Returns pytest's exit status."""
    modules = evidence_modules()
    with tempfile.TemporaryDirectory(prefix="aep-parity-") as tmp:
        target = Path(tmp) / "evidence.json"
        env = {**os.environ, "AEP_PARITY_RECORD": str(target),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "tests"), os.environ.get("PYTHONPATH")]))}
        cmd = [sys.executable, "-m", "pytest", "-p", "helpers.parity_record", "-p", "no:cacheprovider", "-q",
               *extra_args, *modules]
        print("running:", " ".join(cmd[1:]), flush=True)
        status = subprocess.call(cmd, cwd=ROOT, env=env)
        if not target.exists():
            print("no evidence was written (pytest exit status %d)" % status, file=sys.stderr)
            return status or 1
        EVIDENCE.write_text(target.read_text(encoding="utf-8"), encoding="utf-8")
    print(f"wrote {EVIDENCE.relative_to(ROOT)}" + ("" if status == 0 else
          f" (pytest exit status {status}: requests of failed tests are left out)"))
    return status


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--record", action="store_true", help="re-run the evidence tests and rewrite the evidence")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when docs/parity.md is stale")
    args, pytest_args = parser.parse_known_args(argv)
    status = 0
    if args.record:
        status = record(pytest_args)
    text = build()
    if args.check:
        current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
        if current != text:
            print("docs/parity.md is stale: run python tools/parity.py\n" + diff(text, current))
            return 1
        print("docs/parity.md is up to date")
        return 0
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}")
    return status


if __name__ == "__main__":
    sys.exit(main())
