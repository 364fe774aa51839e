"""IPython habits on line magics: ``{expr}`` in a magic's line is a notebook value, as IPython expands it in its own
line magics, beside the kit's ``{{ref}}``; JSON in a line is left alone, and a name that is not defined is an error
that names it (never a call with ``{flow.id}`` in its URL)."""

from __future__ import annotations

import pytest
from helpers.shell import magic_shell

from aep_magics.display import DryRun
from aep_magics.errors import InputError, NotFoundError
from aep_magics.magics import state
from aep_magics.magics.body import expand_braces

AEP_ENV = ("AEP_CONFIG", "AEP_CLIENT_ID", "AEP_CLIENT_SECRET", "AEP_ACCESS_TOKEN", "AEP_ORG_ID", "AEP_SANDBOX",
           "AEP_BASE_URL", "AEP_IMS_URL", "AEP_SCOPES", "AEP_LOCAL_URL", "AEP_LOCAL_DATA")


class Flow:
    id = "f-1"


NS = {"flow": Flow(), "cfg": {"table": "Shopify.Orders"}, "n": 2, "ids": ["a", "b"], "name": "Bob's \"old\" one"}


def test_expressions_and_references_in_a_line():
    assert expand_braces("{flow.id}", NS) == expand_braces("{{flow.id}}", NS) == "f-1"
    assert expand_braces("{cfg.table}", NS) == "Shopify.Orders"           # a dict's key, as {{cfg.table}}
    assert expand_braces("{ids[-1]}", NS) == "b" and expand_braces("{n + 1}", NS) == "3"
    assert expand_braces("{name}", NS) == NS["name"]                      # one value, quotes and all
    assert expand_braces("{None}", NS) == "None"                           # an expression reads as IPython shows it
    assert expand_braces("/flows/{flow.id}/x", NS, quote=lambda s: s.upper()) == "/flows/F-1/x"


def test_json_dicts_and_failing_expressions_stay_as_written():
    for text in ('{"a": 1}', "{'a': 1}", '{"a": {"b": [1, 2]}}', "{1/0}", "{n +}", "{x for x in ()}"):
        assert expand_braces(text, NS) == text, text
    assert expand_braces("{{flow.id}}-{n}", NS) == "f-1-2"                  # one pass, both forms


def test_an_unknown_reference_names_itself():
    with pytest.raises(InputError, match=r"^\{flw\.id\}: there is no variable named 'flw'") as err:
        expand_braces("{flw.id}", NS)
    assert str(err.value) == "{flw.id}: there is no variable named 'flw' in the notebook"
    with pytest.raises(InputError, match=r"\{flow\.name\}: flow \(Flow\) has no attribute 'name'"):
        expand_braces("{flow.name}", NS)


@pytest.fixture
def shell(monkeypatch):
    for name in AEP_ENV:
        monkeypatch.delenv(name, raising=False)
    sh = magic_shell()
    sh.run_cell("%aep_auth --local --seed 31 -q").raise_error()
    yield sh
    state.current.close()


def error_of(shell, source: str) -> BaseException:
    result = shell.run_cell(source, store_history=True)
    assert result.error_in_exec is not None, source
    return result.error_in_exec


def test_both_forms_reach_the_same_flow(shell):
    shell.user_ns["flow"] = {"id": "no-such-flow"}
    single, double = error_of(shell, "%aep_runs {flow.id}"), error_of(shell, "%aep_runs {{flow.id}}")
    assert isinstance(single, NotFoundError) and isinstance(double, NotFoundError)
    assert str(single) == str(double) and "no-such-flow" in str(single) and "{flow.id}" not in str(single)
    spec = shell.run_cell("%aep_flowspec CRMToAEP -o spec -q")
    spec.raise_error()
    shell.run_cell("spec_name = 'CRMToAEP'").raise_error()
    assert shell.run_cell("%aep_flowspec {spec_name}").result.id == shell.user_ns["spec"].id
    for line in ("%aep GET /data/foundation/flowservice/flowSpecs/{spec.id}",
                 "%aep GET /data/foundation/flowservice/flowSpecs/{{spec.id}}"):
        shell.run_cell(line).raise_error()


def test_an_undefined_name_fails_before_any_call(shell):
    shell.user_ns.pop("flw", None)
    error = error_of(shell, "%aep_runs {flw.id} --wait")
    assert isinstance(error, InputError) and str(error).startswith("{flw.id}: there is no variable named 'flw'")
    assert isinstance(error_of(shell, "%aep_runs {{flw.id}}"), InputError)


def test_json_in_a_line_argument_is_sent_as_written(shell):
    dry = shell.run_cell("""%aep GET /data/foundation/flowservice/flows -H 'x-note: {"a": {"b": 1}}' --dry-run""")
    dry.raise_error()
    assert isinstance(dry.result, DryRun)
    assert dry.result.request.headers["x-note"] == '{"a": {"b": 1}}'
    shell.user_ns["FLOWS"] = ["no-such-1", "no-such-2"]
    loop = shell.run_cell("seen = []\nfor f in FLOWS:\n    %aep_runs {f} --dry-run -o one -q\n    seen.append(one)")
    loop.raise_error()
    first, second = (d.request.url for d in shell.user_ns["seen"])
    assert "no-such-1" in first and "no-such-2" in second
