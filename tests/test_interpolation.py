"""Cell bodies: JSON/YAML parsing with line/column errors and ``{{ref}}`` interpolation that cannot inject."""

from __future__ import annotations

import pytest

from aep_magics.auth import Secret
from aep_magics.display import Result
from aep_magics.errors import InputError
from aep_magics.magics.body import interpolate_text, parse_body
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
    with pytest.raises(InputError) as err:
        parse_body('{"a": "{{srcx.id}}"}', NS)
    assert "srcx" in str(err.value)
    assert len(err.value._render_traceback_()) == 1


def test_unknown_attribute_and_key():
    with pytest.raises(InputError, match="no attribute 'idd'"):
        parse_body('{"a": {{src.idd}}}', NS)
    with pytest.raises(InputError, match="no item"):
        parse_body('{"a": {{cfg["nope"]}}}', NS)


def test_result_stands_for_its_id_and_secret_for_its_value():
    result = Result("SourceConnection", id="abc-1", body={"id": "abc-1"})
    body = parse_body('{"ids": [{{r}}], "s": "{{r}}", "tok": "{{tok}}"}', {"r": result, "tok": Secret("shpat_1234")})
    assert body == {"ids": ["abc-1"], "s": "abc-1", "tok": "shpat_1234"}


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
    with pytest.raises(InputError) as err:
        parse_body(text, NS)
    assert "line 3, column 7" in str(err.value)


def test_column_counts_the_original_text():
    with pytest.raises(InputError) as err:
        parse_body('{"x": "{{cfg.table}}" "y": 1}', NS)
    assert "line 1, column 23" in str(err.value)


def test_trailing_comma_hint():
    with pytest.raises(InputError, match="trailing comma"):
        parse_body('{"columns": [\n  {"name": "Email"},\n]}', NS)


def test_malformed_yaml_names_line_and_column():
    with pytest.raises(InputError) as err:
        parse_body("a: [1, 2\nb: 3\n", NS)
    assert "Malformed YAML" in str(err.value) and "line 2" in str(err.value)


def test_empty_body_is_none():
    assert parse_body("  \n", NS) is None


def test_line_arguments_and_paths():
    assert interpolate_text("--source {{src.id}}", NS) == "--source " + NS["src"].id
    assert interpolate_path("/tenant/schemas/{{cfg['$id']}}", NS) == "/tenant/schemas/https%3A%2F%2Fns.adobe.com%2Fx"
    with pytest.raises(InputError, match="nope"):
        interpolate_text("{{nope}}", NS)
