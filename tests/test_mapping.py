"""Data Prep mapping sets: both JSON formats, validation, Arrow application, preview rows, identities."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from aep_magics.local.engine.expressions import EvalContext
from aep_magics.local.engine.mapping import (
    MAPPER_ERROR_CODE,
    IdentityField,
    Mapping,
    MappingError,
    compile_mappings,
    normalise_mappings,
    set_nested,
    validation_response,
)

NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
CTX = EvalContext.deterministic(NOW, seed=1)

# https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/api/mapping-set (current format)
CURRENT = {
    "outputSchema": {"schemaRef": {"id": "https://ns.adobe.com/aeplocal/schemas/89abc",
                                   "contentType": "application/vnd.adobe.xed-full+json;version=1"}},
    "mappings": [
        {"sourceType": "ATTRIBUTE", "source": "id", "destination": "_id", "name": "id", "description": "Identifier"},
        {"sourceType": "ATTRIBUTE", "source": "firstName", "destination": "person.name.firstName"},
        {"sourceType": "ATTRIBUTE", "source": "lastName", "destination": "person.name.lastName"},
    ],
}

# https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/collect/ecommerce (legacy format of the Shopify tutorial), plus an identity and an expression sourceAttribute
LEGACY = {
    "version": 0,
    "xdmSchema": "https://ns.adobe.com/aeplocal/schemas/854ddc",
    "xdmVersion": "1.0",
    "id": None,
    "mappings": [
        {"destinationXdmPath": "personalEmail.address", "sourceAttribute": "Email", "identity": True,
         "primaryIdentity": True, "namespaceCode": "Email", "version": 0},
        {"destinationXdmPath": "mobilePhone.number", "sourceAttribute": "Shipping_Address_Phone", "identity": False,
         "version": 0},
        {"destinationXdmPath": "person.name.fullName", "sourceAttribute": "concat(First_Name, ' ', Last_Name)",
         "identity": False, "identityGroup": None, "namespaceCode": None, "version": 0},
        {"destinationXdmPath": "_tenant.firstName", "sourceAttribute": "First Name", "identity": False},
    ],
}

SHOP_ROWS = [
    {"Email": "Ann@Example.com", "Shipping_Address_Phone": "+1 555 0100", "First_Name": "Ann", "Last_Name": "Lee",
     "First Name": "Ann", "Currency": "USD", "Total": "12.50"},
    {"Email": None, "Shipping_Address_Phone": None, "First_Name": "Bob", "Last_Name": None, "First Name": "Bob",
     "Currency": "EUR", "Total": "oops"},
]


def test_normalise_current_format():
    mappings = normalise_mappings(CURRENT)
    assert mappings == [
        Mapping("ATTRIBUTE", "id", "_id", name="id", description="Identifier"),
        Mapping("ATTRIBUTE", "firstName", "person.name.firstName"),
        Mapping("ATTRIBUTE", "lastName", "person.name.lastName"),
    ]


def test_normalise_legacy_format():
    mappings = normalise_mappings(LEGACY, source_columns=list(SHOP_ROWS[0]))
    assert [(m.source_type, m.source, m.destination) for m in mappings] == [
        ("ATTRIBUTE", "Email", "personalEmail.address"),
        ("ATTRIBUTE", "Shipping_Address_Phone", "mobilePhone.number"),
        ("EXPRESSION", "concat(First_Name, ' ', Last_Name)", "person.name.fullName"),
        ("ATTRIBUTE", "First Name", "_tenant.firstName"),
    ]
    assert mappings[0].identity and mappings[0].primary_identity and mappings[0].namespace_code == "Email"
    assert not mappings[1].identity and mappings[1].namespace_code is None


def test_legacy_classification_without_known_columns():
    mappings = normalise_mappings({"mappings": [
        {"sourceAttribute": "Email", "destinationXdmPath": "a"},
        {"sourceAttribute": "address.city", "destinationXdmPath": "b"},
        {"sourceAttribute": "First Name", "destinationXdmPath": "c"},
        {"sourceAttribute": "upper(Email)", "destinationXdmPath": "d"},
        {"sourceAttribute": '"CUSTOMER"', "destinationXdmPath": "e"},
    ]})
    assert [m.source_type for m in mappings] == ["ATTRIBUTE", "ATTRIBUTE", "ATTRIBUTE", "EXPRESSION", "EXPRESSION"]


def test_stored_and_preview_shapes():
    stored = {"mappings": [{"sourceType": "text/x.schema-path", "source": "Id", "destination": "_id",
                            "sourceAttribute": "Id", "destinationXdmPath": "_id", "identity": False}]}
    assert normalise_mappings(stored) == [Mapping("ATTRIBUTE", "Id", "_id")]
    preview = {"data": [{"id": 1}], "mappingSet": CURRENT}
    assert len(normalise_mappings(preview)) == 3
    assert normalise_mappings([{"sourceType": "static", "source": 5, "destination": "x"}]) == [
        Mapping("STATIC", 5, "x")]
    with pytest.raises(MappingError, match="'mappings' must be an array"):
        normalise_mappings({"mappings": "nope"})
    with pytest.raises(MappingError, match="mapping 1"):
        normalise_mappings({"mappings": [{"source": "a", "destination": "b"}, "junk"]})


def test_compile_reports_every_problem_with_its_index():
    mappings = normalise_mappings({"mappings": [
        {"sourceType": "ATTRIBUTE", "source": "Email", "destination": "personalEmail.address"},  # fine
        {"sourceType": "EXPRESSION", "source": "concat(First_Name, ", "destination": "a"},
        {"sourceType": "EXPRESSION", "source": "foo(Email)", "destination": "b"},
        {"sourceType": "ATTRIBUTE", "source": "Nope", "destination": "c"},
        {"sourceType": "EXPRESSION", "source": "upper(Missing)", "destination": "d"},
        {"sourceType": "ATTRIBUTE", "source": "Email", "destination": ""},
        {"sourceType": "LOOKUP", "source": "Email", "destination": "e"},
        {"sourceType": "STATIC", "source": "x", "destination": "personalEmail.address"},
        {"sourceType": "ATTRIBUTE", "source": "Email", "destination": "f", "identity": True},
    ]})
    with pytest.raises(MappingError, match="^8 invalid mappings: mapping 1 [(]a[)]: ") as info:
        compile_mappings(mappings, source_columns=list(SHOP_ROWS[0]))
    problems = info.value.problems
    assert [(p.index, p.message) for p in problems] == [
        (1, "unexpected end of expression at column 20"),
        (2, "unknown function 'foo' at column 1"),
        (3, "source field 'Nope' is not among the source columns"),
        (4, "unknown source field 'Missing' at column 7"),
        (5, "destination is required"),
        (6, "unknown sourceType 'LOOKUP' (expected ATTRIBUTE, EXPRESSION or STATIC)"),
        (7, "destination 'personalEmail.address' is already mapped by mapping 0"),
        (8, "an identity mapping needs a namespaceCode"),
    ]
    assert str(info.value).startswith("8 invalid mappings: mapping 1 (a): unexpected end of expression")
    # without known source columns only syntax, functions and structure are checked
    with pytest.raises(MappingError, match="^6 invalid mappings: ") as info:
        compile_mappings(mappings)
    assert [p.index for p in info.value.problems] == [1, 2, 5, 6, 7, 8]


def test_validation_response_shape():
    mappings = normalise_mappings({"mappings": [
        {"sourceType": "ATTRIBUTE", "source": "Email", "destination": "personalEmail.address"},
        {"sourceType": "EXPRESSION", "source": "lower(", "destination": "x"},
    ]})
    assert validation_response(mappings) == {"validationResponse": [
        {"status": "SUCCESS", "errors": None},
        {"status": "FAILED", "errors": [{"destination": "x", "exception": "unexpected end of expression at column 7",
                                         "source": "lower(", "columnName": None, "sourceType": "EXPRESSION"}]},
    ]}


def test_apply_current_format():
    compiled = compile_mappings(normalise_mappings(CURRENT), ["id", "firstName", "lastName"])
    batch = pa.RecordBatch.from_pylist([{"id": 1234, "firstName": "Jim", "lastName": "Seltzer"},
                                        {"id": 5, "firstName": None, "lastName": "X"}])
    table, errors = compiled.apply(batch, CTX)
    assert errors == []
    assert table.column_names == ["_id", "person.name.firstName", "person.name.lastName"]
    assert table.to_pydict() == {"_id": [1234, 5], "person.name.firstName": ["Jim", None],
                                 "person.name.lastName": ["Seltzer", "X"]}


def test_apply_legacy_format():
    mappings = normalise_mappings(LEGACY, list(SHOP_ROWS[0]))
    compiled = compile_mappings(mappings, list(SHOP_ROWS[0]))
    table, errors = compiled.apply(pa.Table.from_pylist(SHOP_ROWS), CTX)
    assert errors == []
    assert table.to_pylist() == [
        {"personalEmail.address": "Ann@Example.com", "mobilePhone.number": "+1 555 0100",
         "person.name.fullName": "Ann Lee", "_tenant.firstName": "Ann"},
        {"personalEmail.address": None, "mobilePhone.number": None, "person.name.fullName": "Bob ",
         "_tenant.firstName": "Bob"},
    ]
    assert compiled.identity_fields() == [IdentityField("personalEmail.address", "Email", True)]
    assert compiled.source_fields(SHOP_ROWS[0]) == {"Email", "Shipping_Address_Phone", "First_Name", "Last_Name",
                                                    "First Name"}


def test_static_and_nested_sources():
    compiled = compile_mappings(normalise_mappings({"mappings": [
        {"sourceType": "STATIC", "source": "CUSTOMER", "destination": "_tenant.kind"},
        {"sourceType": "STATIC", "source": 7, "destination": "_tenant.level"},
        {"sourceType": "ATTRIBUTE", "source": "address.city", "destination": "homeAddress.city"},
        {"sourceType": "ATTRIBUTE", "source": "lines[0].sku", "destination": "_tenant.firstSku"},
        {"sourceType": "EXPRESSION", "source": "concat(upper(lastName), upper(firstName), now())",
         "destination": "_tenant.key"},
    ]}), ["address", "lines", "lastName", "firstName"])
    batch = pa.RecordBatch.from_pylist([
        {"address": {"city": "Oslo"}, "lines": [{"sku": "A1"}], "lastName": "Doe", "firstName": "Jo"},
        {"address": None, "lines": [], "lastName": None, "firstName": "Al"},
    ])
    table, errors = compiled.apply(batch, CTX)
    assert errors == []
    assert table.to_pylist() == [
        {"_tenant.kind": "CUSTOMER", "_tenant.level": 7, "homeAddress.city": "Oslo", "_tenant.firstSku": "A1",
         "_tenant.key": "DOEJO2024-05-01T12:00:00Z"},
        {"_tenant.kind": "CUSTOMER", "_tenant.level": 7, "homeAddress.city": None, "_tenant.firstSku": None,
         "_tenant.key": "AL2024-05-01T12:00:00Z"},
    ]


def test_errors_nullify_only_the_failing_column():
    compiled = compile_mappings(normalise_mappings({"mappings": [
        {"sourceType": "ATTRIBUTE", "source": "Email", "destination": "personalEmail.address"},
        {"sourceType": "EXPRESSION", "source": "to_decimal(Total)", "destination": "_tenant.total"},
        {"sourceType": "EXPRESSION", "source": "upper(Currency)", "destination": "_tenant.currency"},
    ]}), list(SHOP_ROWS[0]))
    table, errors = compiled.apply(pa.RecordBatch.from_pylist(SHOP_ROWS), CTX)
    assert table.to_pylist() == [
        {"personalEmail.address": "Ann@Example.com", "_tenant.total": 12.5, "_tenant.currency": "USD"},
        {"personalEmail.address": None, "_tenant.total": None, "_tenant.currency": "EUR"},
    ]
    assert errors == [(1, "_tenant.total", MAPPER_ERROR_CODE, "to_decimal: cannot convert 'oops' to a decimal")]


def test_preview_rows_nest_destinations():
    """https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/api/mapping-set: the preview answers nested data per row and errors null when there are none."""
    compiled = compile_mappings(normalise_mappings(CURRENT))
    preview = compiled.apply_rows([{"id": 1234, "firstName": "Jim", "lastName": "Seltzer"}], CTX)
    assert preview == [{"data": {"_id": 1234, "person": {"name": {"firstName": "Jim", "lastName": "Seltzer"}}},
                        "errors": None}]


def test_preview_rows_report_transform_errors():
    compiled = compile_mappings(normalise_mappings({"mappings": [
        {"sourceType": "EXPRESSION", "source": "to_integer(Total)", "destination": "_tenant.total"},
        {"sourceType": "EXPRESSION", "source": 'date(Created, "yyyy-MM-dd")', "destination": "_tenant.created"},
        {"sourceType": "ATTRIBUTE", "source": "Email", "destination": "personalEmail.address"},
        {"sourceType": "EXPRESSION", "source": 'split(Tags, ",")', "destination": "_tenant.tags"},
    ]}))
    preview = compiled.apply_rows([{"Total": "x", "Created": "2024-02-03", "Email": "a@b.c", "Tags": "p,q"}], CTX)
    assert preview == [{
        "data": {"_tenant": {"created": "2024-02-03T00:00:00Z", "tags": ["p", "q"]},
                 "personalEmail": {"address": "a@b.c"}},
        "errors": [{"destination": "_tenant.total", "exception": "to_integer: cannot convert 'x' to an integer",
                    "source": "to_integer(Total)", "columnName": None, "sourceType": "EXPRESSION"}],
    }]


def test_set_nested_paths():
    data: dict = {}
    set_nested(data, "a.b", 1)
    set_nested(data, "a.c\\.d", 2)
    set_nested(data, "list[1].x", 3)
    assert data == {"a": {"b": 1, "c.d": 2}, "list": [None, {"x": 3}]}


def test_empty_batch():
    compiled = compile_mappings(normalise_mappings(CURRENT))
    table, errors = compiled.apply(pa.RecordBatch.from_pylist([], schema=pa.schema([("id", pa.int64()),
                                                                                   ("firstName", pa.string()),
                                                                                   ("lastName", pa.string())])), CTX)
    assert table.num_rows == 0 and errors == [] and table.num_columns == 3


def _tutorial_batch(n: int) -> pa.RecordBatch:
    rng = np.random.default_rng(7)
    idx = np.arange(n)
    emails = pa.array([f"  Customer{i}@Shop.Example " for i in range(n)])
    emails = pa.compute.if_else(pa.array(idx % 97 == 0), pa.scalar(None, pa.string()), emails)
    return pa.RecordBatch.from_pydict({
        "Customer_Id": pa.array(idx + 1000),
        "Email": emails,
        "First_Name": pa.array([f"First{i}" for i in range(n)]),
        "Last_Name": pa.array([None if i % 11 == 0 else f"Last{i}" for i in range(n)]),
        "Shipping_Address_Phone": pa.array([f"+1555{i:07d}" for i in range(n)]),
        "Currency": pa.array(rng.choice(["USD", "EUR", "GBP", "CAD"], n)),
        "Total_Spent": pa.array(np.round(rng.random(n) * 500, 2)),
        "Accepts_Marketing": pa.array(rng.random(n) > 0.5),
    })


TUTORIAL = {"xdmSchema": "https://ns.adobe.com/aeplocal/schemas/tutorial", "mappings": [
    {"destinationXdmPath": "_id", "sourceAttribute": "Customer_Id"},
    {"destinationXdmPath": "personalEmail.address", "sourceAttribute": "lower(trim(Email))", "identity": True,
     "primaryIdentity": True, "namespaceCode": "Email"},
    {"destinationXdmPath": "person.name.firstName", "sourceAttribute": "First_Name"},
    {"destinationXdmPath": "person.name.lastName", "sourceAttribute": "Last_Name"},
    {"destinationXdmPath": "person.name.fullName", "sourceAttribute": 'concat(First_Name, " ", Last_Name)'},
    {"destinationXdmPath": "mobilePhone.number", "sourceAttribute": "Shipping_Address_Phone", "identity": True,
     "namespaceCode": "Phone"},
    {"destinationXdmPath": "_tenant.region", "sourceAttribute": 'iif(Currency == "USD", "US", "INTL")'},
    {"destinationXdmPath": "_tenant.totalSpent", "sourceAttribute": "Total_Spent"},
]}


def test_tutorial_mapping_on_200k_rows_is_fully_vectorised():
    batch = _tutorial_batch(200_000)
    mappings = normalise_mappings(TUTORIAL, batch.schema.names)
    assert [m.source_type for m in mappings].count("EXPRESSION") == 3
    compiled = compile_mappings(mappings, batch.schema.names)
    assert compiled.vectorised
    assert all(m.expression.vectorised for m in compiled.mappings)
    table, errors = compiled.apply(batch, CTX)
    assert errors == []
    assert table.num_rows == 200_000 and table.num_columns == 8
    first = table.slice(1, 1).to_pylist()[0]
    assert first["personalEmail.address"] == "customer1@shop.example"
    assert first["person.name.fullName"] == "First1 Last1"
    assert table.column("personalEmail.address")[0].as_py() is None  # row 0 has no email
    assert table.column("person.name.fullName")[11].as_py() == "First11 "
    regions = table.column("_tenant.region").to_numpy(zero_copy_only=False)
    currencies = batch.column("Currency").to_numpy(zero_copy_only=False)
    assert ((regions == "US") == (currencies == "USD")).all()
    assert compiled.identity_fields() == [IdentityField("personalEmail.address", "Email", True),
                                          IdentityField("mobilePhone.number", "Phone", False)]
    # the preview path computes the same records
    sample = batch.slice(0, 50).to_pylist()
    preview = compiled.apply_rows(sample, CTX)
    for row, (record, result) in enumerate(zip(table.slice(0, 50).to_pylist(), preview)):
        assert result["errors"] is None
        assert result["data"]["person"]["name"].get("fullName") == record["person.name.fullName"], row
        assert result["data"].get("personalEmail", {}).get("address") == record["personalEmail.address"], row
