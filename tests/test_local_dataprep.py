"""Data Prep of AEP Local over loopback HTTP (https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/api/mapping-set): mapping sets in both formats, validation against the
target schema, versions, validate / preview, the expression language catalogue."""

from __future__ import annotations

import re

import pytest

DP = "/data/foundation/conversion"
SR = "/data/foundation/schemaregistry"
SANDBOXES = "/data/foundation/sandbox-management/sandboxes"
SANDBOX = "dataprep-tests"
ORG = "AEPLOCAL000000000000000@AdobeOrg"
PROFILE = "https://ns.adobe.com/xdm/context/profile"

@pytest.fixture(scope="module")
def H(raw):
    r = raw.post(SANDBOXES, headers=raw.headers(sandbox=None, json=True),
                 json={"name": SANDBOX, "title": "Data Prep tests", "type": "development"})
    assert r.status_code in (201, 202, 409), r.text
    return raw.headers(sandbox=SANDBOX)


@pytest.fixture(scope="module")
def J(H):
    return {**H, "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def schema_id(raw, J):
    r = raw.post(f"{SR}/tenant/schemas", headers=J, json={
        "title": "Data Prep target", "type": "object",
        "allOf": [{"$ref": PROFILE}, {"$ref": "https://ns.adobe.com/xdm/context/profile-person-details"},
                  {"$ref": "https://ns.adobe.com/xdm/context/profile-personal-details"},
                  {"$ref": "https://ns.adobe.com/xdm/context/identitymap"}]})
    assert r.status_code == 201, r.text
    return r.json()["$id"]


def current(schema_id, mappings=None):
    """https://experienceleague.adobe.com/en/docs/experience-platform/data-prep/api/mapping-set, verbatim apart from the schema id."""
    return {
        "outputSchema": {"schemaRef": {"id": schema_id,
                                       "contentType": "application/vnd.adobe.xed-full+json;version=1"}},
        "mappings": mappings if mappings is not None else [
            {"sourceType": "ATTRIBUTE", "source": "id", "destination": "_id", "name": "id",
             "description": "Identifier field"},
            {"sourceType": "ATTRIBUTE", "source": "firstName", "destination": "person.name.firstName"},
            {"sourceType": "ATTRIBUTE", "source": "lastName", "destination": "person.name.lastName"},
        ],
    }


def legacy(schema_id):
    """https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/collect/ecommerce, verbatim apart from the schema id."""
    return {
        "version": 0,
        "xdmSchema": schema_id,
        "xdmVersion": "1.0",
        "id": None,
        "mappings": [
            {"destinationXdmPath": "personalEmail.address", "sourceAttribute": "Email", "identity": False,
             "version": 0},
            {"destinationXdmPath": "mobilePhone.number", "sourceAttribute": "Shipping_Address_Phone",
             "identity": False, "version": 0},
        ],
    }


def post(raw, J, path, body):
    return raw.post(DP + path, headers=J, json=body)


def test_create_current_format(raw, J, H, schema_id):
    r = post(raw, J, "/mappingSets", current(schema_id))
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"id", "version", "createdDate", "modifiedDate", "createdBy", "modifiedBy"}
    assert re.fullmatch(r"[0-9a-f]{32}", body["id"]) and body["version"] == 0
    assert body["createdDate"] == body["modifiedDate"]
    doc = raw.get(f"{DP}/mappingSets/{body['id']}", headers=H).json()
    assert doc["id"] == body["id"] and doc["version"] == 0 and doc["status"] == "PUBLISHED"
    assert doc["outputSchema"]["schemaRef"]["id"] == schema_id
    assert doc["schemaRef"]["id"] == schema_id and doc["xdmSchema"] == schema_id
    assert "versions" not in doc
    m = doc["mappings"]
    assert [x["destination"] for x in m] == ["_id", "person.name.firstName", "person.name.lastName"]
    assert all(x["sourceType"] == "text/x.schema-path" for x in m)
    assert m[0]["sourceAttribute"] == "id" and m[0]["destinationXdmPath"] == "_id" and m[0]["name"] == "id"
    assert m[0]["identity"] is False and m[0]["primaryIdentity"] is False and m[0]["matchScore"] == 0.0
    assert all(re.fullmatch(r"[0-9a-f]{32}", x["id"]) for x in m)


def test_create_legacy_format(raw, J, H, schema_id):
    r = post(raw, J, "/mappingSets", legacy(schema_id))
    assert r.status_code == 200, r.text
    doc = raw.get(f"{DP}/mappingSets/{r.json()['id']}", headers=H).json()
    assert [(x["source"], x["destination"]) for x in doc["mappings"]] == [
        ("Email", "personalEmail.address"), ("Shipping_Address_Phone", "mobilePhone.number")]
    assert doc["xdmVersion"] == "1.0" and doc["xdmSchema"] == schema_id


def test_flow_service_can_read_the_stored_document(local_server, raw, J, schema_id):
    """The stored document's top level is the latest version (Flow Service reads version and outputSchema)."""
    from aep_magics.local.engine.mapping_sets import engine_form, get_mapping_set
    from aep_magics.local.store import Tenant

    ms = post(raw, J, "/mappingSets", current(schema_id)).json()["id"]
    rec = local_server.platform.store.get(Tenant(ORG, SANDBOX), "mappingSet", ms)
    assert rec.doc["version"] == 0 and rec.doc["outputSchema"]["schemaRef"]["id"] == schema_id
    doc = get_mapping_set(local_server.platform, Tenant(ORG, SANDBOX), ms, 0)
    assert engine_form(doc)["mappings"][0] == {"sourceType": "ATTRIBUTE", "source": "id", "destination": "_id",
                                               "name": "id", "description": "Identifier field",
                                               "identity": False, "primaryIdentity": False,
                                               "identityGroup": None, "namespaceCode": None}


@pytest.mark.parametrize("mapping,fragment", [
    ({"sourceType": "ATTRIBUTE", "source": "x", "destination": "person.name.nickname"}, "person.name.nickname"),
    ({"sourceType": "ATTRIBUTE", "source": "x", "destination": "firstName"}, "firstName"),
    ({"sourceType": "EXPRESSION", "source": "nosuchfunction(x)", "destination": "personID"}, "nosuchfunction"),
    ({"sourceType": "EXPRESSION", "source": "concat(a, ", "destination": "personID"}, ""),
    ({"sourceType": "SOMETHING", "source": "x", "destination": "personID"}, "sourceType"),
    ({"sourceType": "ATTRIBUTE", "source": "x"}, "destination"),
    ({"sourceType": "ATTRIBUTE", "source": "x", "destination": "person.name\nfirstName"}, "person.name"),
    ({"sourceType": "EXPRESSION", "source": "upper(x) + \u00b2", "destination": "personID"}, "unexpected character"),
])
def test_invalid_mapping_refused(raw, J, schema_id, mapping, fragment):
    body = current(schema_id)
    body["mappings"].append(mapping)
    r = post(raw, J, "/mappingSets", body)
    assert r.status_code == 400, r.text
    err = r.json()
    assert err["status"] == 400 and err["title"] == "Invalid mapping set"
    problems = err["report"]["errors"]
    assert [p["mappingIndex"] for p in problems] == [3]
    assert fragment in problems[0]["message"] and fragment in err["detail"]


def test_all_problems_listed(raw, J, schema_id):
    body = current(schema_id, [
        {"sourceType": "ATTRIBUTE", "source": "a", "destination": "nope.one"},
        {"sourceType": "ATTRIBUTE", "source": "b", "destination": "_id"},
        {"sourceType": "EXPRESSION", "source": "unknownfn(b)", "destination": "personID"},
        {"sourceType": "ATTRIBUTE", "source": "c", "destination": "nope.two"},
    ])
    r = post(raw, J, "/mappingSets", body)
    assert r.status_code == 400
    assert [p["mappingIndex"] for p in r.json()["report"]["errors"]] == [0, 2, 3]


def test_target_schema_must_exist(raw, J):
    r = post(raw, J, "/mappingSets", current("https://ns.adobe.com/aeplocal/schemas/doesnotexist"))
    assert r.status_code == 400 and "does not exist" in r.json()["detail"]
    r = post(raw, J, "/mappingSets", {"mappings": []})
    assert r.status_code == 400 and r.json()["detail"].startswith("The mapping set has no target schema")
    r = post(raw, J, "/mappingSets", {"outputSchema": {"schemaRef": {"id": PROFILE}}, "mappings": "nope"})
    assert r.status_code == 400 and r.json()["detail"] == "'mappings' must be an array of mappings."


def test_array_and_map_destinations(raw, J, schema_id):
    body = current(schema_id, [
        {"sourceType": "ATTRIBUTE", "source": "email", "destination": "identityMap.Email[0].id"},
        {"sourceType": "STATIC", "source": True, "destination": "identityMap.Email[0].primary"},
        {"sourceType": "ATTRIBUTE", "source": "name", "destination": "person.name"},
    ])
    r = post(raw, J, "/mappingSets", body)
    assert r.status_code == 200, r.text
    stored = raw.get(f"{DP}/mappingSets/{r.json()['id']}", headers=J).json()
    assert [(m["source"], m["destination"]) for m in stored["mappings"]] == [
        ("email", "identityMap.Email[0].id"), ("true", "identityMap.Email[0].primary"), ("name", "person.name")]


def test_put_keeps_versions(raw, J, H, schema_id):
    ms = post(raw, J, "/mappingSets", current(schema_id)).json()["id"]
    body = current(schema_id)
    body["mappings"].append({"sourceType": "EXPRESSION", "source": "lower(email)",
                             "destination": "personalEmail.address"})
    r = raw.put(f"{DP}/mappingSets/{ms}", headers=J, json=body)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1 and len(r.json()["mappings"]) == 4
    latest = raw.get(f"{DP}/mappingSets/{ms}", headers=H).json()
    assert latest["version"] == 1 and latest["mappings"][3]["source"] == "lower(email)"
    assert latest["mappings"][0]["id"] == raw.get(f"{DP}/mappingSets/{ms}", headers=H,
                                                  params={"version": 0}).json()["mappings"][0]["id"]
    v0 = raw.get(f"{DP}/mappingSets/{ms}", headers=H, params={"version": 0}).json()
    assert v0["version"] == 0 and len(v0["mappings"]) == 3
    assert raw.get(f"{DP}/mappingSets/{ms}", headers=H, params={"version": 7}).status_code == 404
    assert raw.get(f"{DP}/mappingSets/{ms}", headers=H, params={"version": "x"}).status_code == 400
    bad = current(schema_id, [{"sourceType": "ATTRIBUTE", "source": "a", "destination": "nope"}])
    assert raw.put(f"{DP}/mappingSets/{ms}", headers=J, json=bad).status_code == 400
    # a GET body sent back (stored sourceType) is accepted and keeps the kinds
    r = raw.put(f"{DP}/mappingSets/{ms}", headers=J, json=latest)
    assert r.status_code == 200 and r.json()["version"] == 2
    assert raw.put(f"{DP}/mappingSets/{'0' * 32}", headers=J, json=body).status_code == 404


def test_mappings_endpoints(raw, J, H, schema_id):
    ms = post(raw, J, "/mappingSets", current(schema_id)).json()["id"]
    mappings = raw.get(f"{DP}/mappingSets/{ms}/mappings", headers=H).json()
    assert isinstance(mappings, list) and len(mappings) == 3
    one = raw.get(f"{DP}/mappingSets/{ms}/mappings/{mappings[1]['id']}", headers=H).json()
    assert one == mappings[1]
    assert raw.get(f"{DP}/mappingSets/{ms}/mappings/{'f' * 32}", headers=H).status_code == 404
    assert raw.get(f"{DP}/mappingSets/{'0' * 32}", headers=H).status_code == 404
    expanded = raw.get(f"{DP}/mappingSets/{ms}", headers=H, params={"expandSchema": "true"}).json()
    assert "personalEmail" in expanded["outputSchema"]["jsonSchema"]["properties"]


def test_schema_alt_id_is_stored_as_id(raw, J, H, schema_id):
    alt = "_aeplocal.schemas." + schema_id.rsplit("/", 1)[1]
    ms = post(raw, J, "/mappingSets", current(alt)).json()["id"]
    doc = raw.get(f"{DP}/mappingSets/{ms}", headers=H).json()
    assert doc["outputSchema"]["schemaRef"]["id"] == schema_id and doc["xdmSchema"] == schema_id


def test_list_mapping_sets(raw, J, H, schema_id):
    for _ in range(3):
        post(raw, J, "/mappingSets", current(schema_id))
    body = raw.get(f"{DP}/mappingSets", headers=H, params={"limit": 2, "start": 0}).json()
    assert set(body) >= {"data", "_page"} and len(body["data"]) == 2
    assert body["_page"]["limit"] == 2 and body["_page"]["count"] >= 3
    total = body["_page"]["count"]
    everything = raw.get(f"{DP}/mappingSets", headers=H, params={"limit": 100}).json()["data"]
    assert len(everything) == total
    newest = raw.get(f"{DP}/mappingSets", headers=H, params={"limit": 100, "orderBy": "-createdDate"}).json()["data"]
    assert [d["createdDate"] for d in newest] == sorted((d["createdDate"] for d in newest), reverse=True)
    page2 = raw.get(f"{DP}/mappingSets", headers=H, params={"limit": 2, "start": 2}).json()["data"]
    assert [d["id"] for d in page2] == [d["id"] for d in everything[2:4]]
    assert raw.get(f"{DP}/mappingSets", headers=H, params={"limit": 0}).status_code == 400
    assert raw.get(f"{DP}/mappingSets", headers=H, params={"orderBy": "name"}).status_code == 400


def test_validate(raw, J, schema_id):
    body = current(schema_id)
    body["mappings"] += [{"sourceType": "ATTRIBUTE", "source": "x", "destination": "person.nope"},
                         {"sourceType": "EXPRESSION", "source": "nofn(x)", "destination": "personID"}]
    r = post(raw, J, "/mappingSets/validate", body)
    assert r.status_code == 200
    resp = r.json()["validationResponse"]
    assert [v["status"] for v in resp] == ["SUCCESS"] * 3 + ["FAILED"] * 2
    assert resp[0]["errors"] is None
    err = resp[3]["errors"][0]
    assert set(err) == {"destination", "exception", "source", "columnName", "sourceType"}
    assert err["destination"] == "person.nope" and err["source"] == "x"
    assert "nofn" in resp[4]["errors"][0]["exception"]
    assert post(raw, J, "/mappingSets/validate", current("https://ns.adobe.com/aeplocal/schemas/none")
                ).status_code == 400


def test_preview_documented_example(raw, J, schema_id):
    r = post(raw, J, "/mappingSets/preview", {"data": [{"id": 1234, "firstName": "Jim", "lastName": "Seltzer"}],
                                               "mappingSet": current(schema_id)})
    assert r.status_code == 200, r.text
    assert r.json() == [{"data": {"person": {"name": {"firstName": "Jim", "lastName": "Seltzer"}}, "_id": "1234"},
                         "errors": None}]


def test_preview_coercion_and_errors(raw, J, schema_id):
    mapping = current(schema_id, [
        {"sourceType": "ATTRIBUTE", "source": "year", "destination": "person.birthYear"},
        {"sourceType": "EXPRESSION", "source": "upper(name)", "destination": "person.name.lastName"},
        {"sourceType": "STATIC", "source": "CUSTOMER", "destination": "person.type"},
    ])
    r = post(raw, J, "/mappingSets/preview", {"data": [{"year": "1990", "name": "doe"},
                                                        {"year": "nineteen", "name": "roe"}],
                                               "mappingSet": mapping})
    assert r.status_code == 200, r.text
    first, second = r.json()
    assert first == {"data": {"person": {"birthYear": 1990, "name": {"lastName": "DOE"}, "type": "CUSTOMER"}},
                     "errors": None}
    assert second["data"] == {"person": {"name": {"lastName": "ROE"}, "type": "CUSTOMER"}}
    assert [e["destination"] for e in second["errors"]] == ["person.birthYear"]


def test_preview_refuses_invalid_mapping_set(raw, J, schema_id):
    mapping = current(schema_id, [{"sourceType": "ATTRIBUTE", "source": "x", "destination": "nope"}])
    r = post(raw, J, "/mappingSets/preview", {"data": [{"x": 1}], "mappingSet": mapping})
    assert r.status_code == 400 and r.json()["title"] == "Invalid mapping set"
    assert [(e["mappingIndex"], e["destination"]) for e in r.json()["report"]["errors"]] == [(0, "nope")]
    r = post(raw, J, "/mappingSets/preview", {"data": "x", "mappingSet": mapping})
    assert r.status_code == 400 and r.json()["detail"] == "'data' must be an array of source records (JSON objects)."


def test_expression_language(raw, J, H):
    r = raw.get(f"{DP}/languages/el/functions", headers=H)
    assert r.status_code == 200
    fns = {f["function"]: f for f in r.json()}
    assert {"concat", "upper", "iif", "sha256", "to_integer", "now"} <= set(fns)
    first = fns["first"]
    assert first["category"] == "Hierarchies - Arrays" and first["syntax"] == "T first(T...)"
    assert first["returnType"] == "java.lang.Object" and first["example"] == 'first("1", "2", "3")'
    assert first["result"] == '"1"' and first["since"] == 1 and isinstance(first["params"], list)
    ok = post(raw, J, "/languages/el/validate", {"expression": {"expression": 'concat("Hi", ",", "there", "!")'}})
    assert ok.status_code == 200 and ok.json() is True
    assert post(raw, J, "/languages/el/validate", {"expression": {"expression": "nofn(1)"}}).json() is False
    assert post(raw, J, "/languages/el/validate", {"expression": "concat(a, b"}).json() is False
    assert post(raw, J, "/languages/el/validate", {"nothing": 1}).status_code == 400
    ops = raw.get(f"{DP}/languages/el/operators", headers=H).json()
    assert {"==", "+", "&&"} <= {o["operator"] for o in ops}
