"""Cell bodies: JSON/YAML parsing with line/column errors and ``{{ref}}`` interpolation that cannot inject."""

from __future__ import annotations

import re

import pytest
from helpers.shell import failing, magic_shell

from aep_magics.auth import Secret
from aep_magics.display import Result
from aep_magics.errors import InputError
from aep_magics.magics.body import expand_braces, interpolate_text, parse_body
from aep_magics.runs import Run
from aep_magics.magics.ops import interpolate_path


class Src:
    def __init__(self):
        self.id = "c278ab14-acdf-440b-b67f-1265d15a7655"
        self.body = {"items": [{"name": "Orders", "n": 3}], "$id": "https://ns.adobe.com/aeplocal/schemas/abc"}


NS = {
    "src": Src(),
    "n": 5,
    "flag": True,
    "cfg": {"table": "Shopify.Orders", "$id": "https://ns.adobe.com/x", "nested": {"k": "v"}},
    "cols": ["Email", "Phone"],
    "evil": 'x", "admin": true, "y": "',
    "quote": 'he said "hi" \\ {"a": 1}',
    "nothing": None,
}


def test_reference_inside_a_json_string_is_text():
    assert parse_body('{"id": "{{src.id}}", "s": "n={{n}}"}', NS) == {"id": NS["src"].id, "s": "n=5"}


def test_bare_reference_keeps_its_type():
    body = parse_body('{"v": {{n}}, "f": {{flag}}, "l": {{cols}}, "o": {{cfg.nested}}, "z": {{nothing}}}', NS)
    assert body == {"v": 5, "f": True, "l": ["Email", "Phone"], "o": {"k": "v"}, "z": None}


def test_nested_attributes_keys_and_indexes():
    text = '{"a": "{{src.body["items"][0]["name"]}}", "b": {{src.body["items"][0].n}}, "c": "{{cfg.table}}", "d": "{{cfg[\'$id\']}}", "e": "{{ cols[-1] }}"}'
    assert parse_body(text, NS) == {"a": "Orders", "b": 3, "c": "Shopify.Orders", "d": "https://ns.adobe.com/x",
                                    "e": "Phone"}


def test_json_braces_are_left_alone():
    text = '{"a": {"b": {"c": 1}}, "d": [{"e": {}}], "s": "{{ not a ref }} {x} }}{{"}'
    assert parse_body(text, NS) == {"a": {"b": {"c": 1}}, "d": [{"e": {}}], "s": "{{ not a ref }} {x} }}{{"}


def test_value_with_quotes_cannot_break_or_inject():
    body = parse_body('{"name": "{{evil}}", "other": "{{quote}}"}', NS)
    assert body == {"name": NS["evil"], "other": NS["quote"]}
    assert "admin" not in body
    bare = parse_body('{"name": {{evil}}}', NS)
    assert bare == {"name": NS["evil"]}


def test_reference_in_a_key():
    assert parse_body('{"{{cfg.table}}": 1}', NS) == {"Shopify.Orders": 1}


def test_unknown_name_is_named():
    with pytest.raises(InputError, match="there is no variable named 'srcx' in the notebook") as err:
        parse_body('{"a": "{{srcx.id}}"}', NS)
    assert "srcx" in str(err.value)
    assert len(err.value._render_traceback_()) == 1


def test_unknown_attribute_and_key():
    with pytest.raises(InputError, match="no attribute 'idd'"):
        parse_body('{"a": {{src.idd}}}', NS)
    with pytest.raises(InputError, match="no item"):
        parse_body('{"a": {{cfg["nope"]}}}', NS)


def test_result_stands_for_its_id():
    result = Result("SourceConnection", id="abc-1", body={"id": "abc-1"})
    body = parse_body('{"ids": [{{r}}], "s": "{{r}}"}', {"r": result})
    assert body == {"ids": ["abc-1"], "s": "abc-1"}


def test_value_without_json_form():
    with pytest.raises(InputError, match="no JSON form"):
        parse_body('{"a": {{o}}}', {"o": object()})


def test_yaml_body_with_references():
    text = (
        "name: Orders of {{cfg.table}}\n"
        "id: {{src.id}}\n"
        "v: {{n}}\n"
        "s: \"{{n}}\"\n"
        "list: [{{n}}, {{cols}}]\n"
        "answer: yes\n"
        "day: 2020-01-01\n"
        "quote: {{quote}}\n"
    )
    assert parse_body(text, NS) == {
        "name": "Orders of Shopify.Orders",
        "id": NS["src"].id,
        "v": 5,
        "s": "5",
        "list": [5, ["Email", "Phone"]],
        "answer": "yes",
        "day": "2020-01-01",
        "quote": NS["quote"],
    }


def test_malformed_json_names_line_and_column():
    text = '{\n  "a": 1,\n  "b" 2\n}'
    with pytest.raises(InputError, match="^Malformed JSON in the cell body at line 3, column 7: ") as err:
        parse_body(text, NS)
    assert "line 3, column 7" in str(err.value)


def test_column_counts_the_original_text():
    with pytest.raises(InputError, match="^Malformed JSON in the cell body at line 1, column 23: ") as err:
        parse_body('{"x": "{{cfg.table}}" "y": 1}', NS)
    assert "line 1, column 23" in str(err.value)


def test_trailing_comma_hint():
    with pytest.raises(InputError, match="trailing comma"):
        parse_body('{"columns": [\n  {"name": "Email"},\n]}', NS)


def test_malformed_yaml_names_line_and_column():
    with pytest.raises(InputError, match="^Malformed YAML in the cell body at line 2, column 2: ") as err:
        parse_body("a: [1, 2\nb: 3\n", NS)
    assert "Malformed YAML" in str(err.value) and "line 2" in str(err.value)


def test_empty_body_is_none():
    assert parse_body("  \n", NS) is None


def test_line_arguments_and_paths():
    assert interpolate_text("--source {{src.id}}", NS) == "--source " + NS["src"].id
    assert interpolate_path("/tenant/schemas/{{cfg['$id']}}", NS) == "/tenant/schemas/https%3A%2F%2Fns.adobe.com%2Fx"
    with pytest.raises(InputError, match="nope"):
        interpolate_text("{{nope}}", NS)


# -- what a reference may read (red-team findings: dunders, property getters, secrets) --------------------------


class Tripwire:
    """An object whose code must never run while a reference is resolved."""

    ran: list[str] = []

    def __init__(self):
        self.plain = "stored"

    @property
    def computed(self):
        Tripwire.ran.append("property")
        return "computed"

    def __getattr__(self, name):
        Tripwire.ran.append(f"__getattr__ {name}")
        return "made up"

    def __getitem__(self, key):
        Tripwire.ran.append(f"__getitem__ {key}")
        return "made up"

    def method(self):
        Tripwire.ran.append("method")


class Slotted:
    __slots__ = ("value",)

    def __init__(self):
        self.value = 7


@pytest.mark.parametrize("ref", ["src.__class__", "src.__dict__", "src._private", "cfg.__len__", "_hidden",
                                 "src.body.__class__.__init__.__globals__"])
def test_underscore_names_are_refused(ref):
    ns = {**NS, "_hidden": 1}
    with pytest.raises(InputError, match=f"^{re.escape('{{' + ref + '}}')}: '_.*' starts with _: ") as err:
        parse_body(f'{{"a": {{{{{ref}}}}}}}', ns)
    assert "starts with _" in str(err.value) and len(err.value._render_traceback_()) == 1


@pytest.mark.parametrize("ref, refusal", [
    ("trip.computed", "computed by code"),
    ("trip.missing", "has no attribute 'missing'"),
    ("trip[0]", "[...] reads dicts, lists"),
    ("trip.method", "computed by code"),
])
def test_no_code_of_an_arbitrary_object_runs(ref, refusal):
    Tripwire.ran.clear()
    with pytest.raises(InputError, match=re.escape(refusal)):
        parse_body(f'{{"a": "{{{{{ref}}}}}"}}', {"trip": Tripwire()})
    assert Tripwire.ran == []
    assert parse_body('{"a": "{{trip.plain}}", "b": {{slot.value}}}', {"trip": Tripwire(), "slot": Slotted()}) == {
        "a": "stored", "b": 7}
    assert Tripwire.ran == []


def test_the_kits_own_objects_read_their_properties():
    result = Result("Dataflow", id="f-1", body={"id": "f-1", "etag": '"e-1"', "items": [{"n": 1}]})
    runs = [Run({"id": "r-1", "activities": [{"id": "promotionActivity", "targetInfo": [
        {"reference": {"type": "Batch", "ids": ["B1"]}}]}]})]
    body = parse_body('{"etag": "{{flow.etag}}", "batches": {{runs[0].batch_ids}}, "run": "{{runs[-1].id}}", '
                      '"n": {{flow["items"][0].n}}, "page": {{page.items}}}',
                      {"flow": result, "runs": runs, "page": {"items": [1, 2]}})
    assert body == {"etag": '"e-1"', "batches": ["B1"], "run": "r-1", "n": 1, "page": [1, 2]}
    with pytest.raises(InputError, match="is a method"):
        parse_body('{"a": {{flow.summary}}}', {"flow": result})


@pytest.mark.parametrize("ref", ["tok", "cfg.tok", "cfg['tok']", "holder.secret", "nested"])
def test_a_secret_is_never_interpolated(ref):
    secret = Secret("shpat_CANARY_interpolation_1234")
    holder = Src()
    holder.secret = secret
    ns = {"tok": secret, "cfg": {"tok": secret}, "holder": holder, "nested": {"deep": [{"tok": secret}]}}
    for text in (f'{{"a": {{{{{ref}}}}}}}', f'{{"a": "x {{{{{ref}}}}}"}}', f"a: {{{{{ref}}}}}\n"):
        with pytest.raises(InputError, match="refuses to put a secret into a request body") as err:
            parse_body(text, ns)
        assert "CANARY" not in str(err.value) and len(err.value._render_traceback_()) == 1
    with pytest.raises(InputError, match="refuses to put a secret"):
        interpolate_text(f"--name {{{{{ref}}}}}", ns)
    with pytest.raises(InputError, match="refuses to put a secret"):
        expand_braces("{tok}", ns)


def test_a_secret_in_a_cell_body_ends_the_magic_with_one_line():
    shell = magic_shell()
    shell.user_ns["tok"] = Secret("shpat_CANARY_magic_5678")
    error = failing(shell, '%%aep_connection --dry-run\n{"name": "x", "auth": {"params": {"accessToken": "{{tok}}"}}}')
    assert isinstance(error, InputError) and "refuses to put a secret" in str(error)
    assert len(error._render_traceback_()) == 1 and "CANARY" not in str(error)
