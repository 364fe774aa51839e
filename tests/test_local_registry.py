"""Schema Registry of AEP Local over loopback HTTP (https://experienceleague.adobe.com/en/docs/experience-platform/xdm/api/getting-started): global library lookups in every Accept variant,
tenant schemas / field groups / descriptors, the documented error bodies."""

from __future__ import annotations

import copy
from urllib.parse import quote

import pytest

SR = "/data/foundation/schemaregistry"
SANDBOXES = "/data/foundation/sandbox-management/sandboxes"
PROFILE = "https://ns.adobe.com/xdm/context/profile"
PERSON = "https://ns.adobe.com/xdm/context/profile-person-details"
PERSONAL = "https://ns.adobe.com/xdm/context/profile-personal-details"
EE = "https://ns.adobe.com/xdm/context/experienceevent"
ID_LIST = "application/vnd.adobe.xed-id+json"
FULL_LIST = "application/vnd.adobe.xed+json"
RAW = "application/vnd.adobe.xed+json; version=1"
FULL = "application/vnd.adobe.xed-full+json; version=1"
NOTEXT = "application/vnd.adobe.xed-notext+json; version=1"
FULL_NOTEXT = "application/vnd.adobe.xed-full-notext+json; version=1"

#: https://experienceleague.adobe.com/en/docs/experience-platform/xdm/api/schemas, the Shopify tutorial's request, verbatim.
TUTORIAL_BODY = {
    "type": "object",
    "title": "Test Shopify schema",
    "description": "",
    "allOf": [
        {"$ref": "https://ns.adobe.com/xdm/context/profile"},
        {"$ref": "https://ns.adobe.com/xdm/context/profile-person-details"},
        {"$ref": "https://ns.adobe.com/xdm/context/profile-personal-details"}
    ],
    "meta:containerId": "tenant",
    "meta:resourceType": "schemas",
    "meta:xdmType": "object",
    "meta:class": "https://ns.adobe.com/xdm/context/profile"
}


@pytest.fixture(scope="module")
def H(raw):
    """Headers for a sandbox of this module's own (titles are unique per sandbox)."""
    name = "xdm-registry-tests"
    r = raw.post(SANDBOXES, headers=raw.headers(sandbox=None, json=True),
                 json={"name": name, "title": "Registry tests", "type": "development"})
    assert r.status_code in (201, 202, 409), r.text
    return raw.headers(sandbox=name)


def get(raw, H, path, accept=None, **kw):
    headers = dict(H)
    if accept is not None:
        headers["Accept"] = accept
    return raw.get(SR + path, headers=headers, **kw)


def send(raw, H, method, path, body):
    return raw.request(method, SR + path, headers={**H, "Content-Type": "application/json"}, json=body)


def enc(sid: str) -> str:
    return quote(sid, safe="")


def assert_xdm_error(r, status: int, code: str):
    assert r.status_code == status, r.text
    body = r.json()
    assert body["type"] == f"http://ns.adobe.com/aep/errors/XDM-{code}"
    assert body["status"] == status
    assert set(body) == {"type", "title", "status", "report", "detail"}
    assert set(body["report"]) == {"registryRequestId", "timestamp", "detailed-message", "sub-errors"}
    assert body["report"]["detailed-message"] == body["detail"]
    return body


# -- global container ------------------------------------------------------------------------------------------------
def test_global_classes_ids_only(raw, H):
    r = get(raw, H, "/global/classes", ID_LIST)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"results", "_page", "_links"}
    ids = {c["$id"]: c for c in body["results"]}
    assert ids[PROFILE] == {"$id": PROFILE, "meta:altId": "_xdm.context.profile", "version": "1.31.4",
                            "title": "XDM Individual Profile"}
    assert ids[EE]["title"] == "XDM ExperienceEvent"
    assert body["_page"] == {"orderby": "title", "next": None, "count": len(body["results"])}
    titles = [c["title"] for c in body["results"]]
    assert titles == sorted(titles, key=str.lower)


def test_global_full_list_and_aliases(raw, H):
    r = get(raw, H, "/global/fieldgroups", FULL_LIST)
    assert r.status_code == 200
    groups = {g["$id"]: g for g in r.json()["results"]}
    assert groups[PERSON]["meta:resourceType"] == "mixins" and "definitions" in groups[PERSON]
    r2 = get(raw, H, "/global/mixins", ID_LIST)
    assert {g["$id"] for g in r2.json()["results"]} == set(groups)
    assert get(raw, H, "/global/datatypes", ID_LIST).json()["_page"]["count"] == 167
    assert get(raw, H, "/global/behaviors", ID_LIST).json()["_page"]["count"] == 3
    assert get(raw, H, "/global/schemas", ID_LIST).json()["results"] == []


def test_global_list_paging_and_filters(raw, H):
    r = get(raw, H, "/global/classes", ID_LIST, params={"orderby": "title", "limit": 5})
    page1 = r.json()
    assert len(page1["results"]) == 5 and page1["_page"]["next"] is not None
    assert page1["_links"]["next"]["href"].startswith(f"{SR}/global/classes?")
    r = get(raw, H, "/global/classes", ID_LIST, params={"orderby": "title", "limit": 5,
                                                        "start": page1["_page"]["next"]})
    page2 = r.json()
    assert page2["results"][0]["title"] == page1["_page"]["next"]
    assert not {c["$id"] for c in page1["results"]} & {c["$id"] for c in page2["results"]}
    desc = get(raw, H, "/global/classes", ID_LIST, params={"orderby": "-title"}).json()
    assert [c["title"] for c in desc["results"]] == sorted((c["title"] for c in desc["results"]),
                                                           key=str.lower, reverse=True)
    r = get(raw, H, "/global/fieldgroups", ID_LIST, params={"property": f"meta:intendedToExtend=={EE}"})
    ids = {g["$id"] for g in r.json()["results"]}
    assert PERSON in ids and "https://ns.adobe.com/xdm/context/experienceevent-commerce" in ids
    r = get(raw, H, "/global/classes", ID_LIST, params={"property": "title~^XDM "})
    assert {c["title"] for c in r.json()["results"]} >= {"XDM Individual Profile", "XDM ExperienceEvent"}
    assert_xdm_error(get(raw, H, "/global/classes", ID_LIST, params={"limit": "many"}), 400, "1000-400")


@pytest.mark.parametrize("accept", [None, "application/json", "application/vnd.adobe.xed+json; version=1",
                                    "application/vnd.adobe.xed-full+json"])
def test_global_list_bad_accept(raw, H, accept):
    body = assert_xdm_error(get(raw, H, "/global/classes", accept), 400, "1006-400")
    assert body["title"] == "Accept header invalid"


def test_global_lookup_variants(raw, H):
    raw_doc = get(raw, H, "/global/classes/_xdm.context.profile", RAW).json()
    assert raw_doc["$id"] == PROFILE and "allOf" in raw_doc and "definitions" in raw_doc
    full = get(raw, H, "/global/classes/_xdm.context.profile", FULL).json()
    assert "allOf" not in full and "definitions" not in full
    assert set(full["properties"]) == {"repositoryCreatedBy", "repositoryLastModifiedBy", "createdByBatchID",
                                       "modifiedByBatchID", "_repo", "_id", "personID"}
    assert full["properties"]["personID"]["title"] == "Person ID"
    notext = get(raw, H, "/global/classes/_xdm.context.profile", NOTEXT).json()
    assert "allOf" in notext and "title" not in notext and "description" not in notext
    full_notext = get(raw, H, "/global/classes/_xdm.context.profile", FULL_NOTEXT).json()
    assert "title" not in full_notext["properties"]["personID"]
    desc = get(raw, H, "/global/classes/_xdm.context.profile",
               "application/vnd.adobe.xed-full-desc+json; version=1").json()
    assert desc["properties"] == full["properties"]


def test_global_lookup_by_encoded_id(raw, H):
    r = get(raw, H, "/global/fieldgroups/" + enc(PERSON), FULL)
    assert r.status_code == 200
    assert r.json()["properties"]["person"]["properties"]["name"]["properties"]["firstName"]["type"] == "string"
    r = get(raw, H, "/global/mixins/" + enc(PERSON), RAW)
    assert r.status_code == 200 and r.json()["meta:altId"] == "_xdm.context.profile-person-details"


def test_global_lookup_needs_version(raw, H):
    body = assert_xdm_error(get(raw, H, "/global/classes/_xdm.context.profile", "application/vnd.adobe.xed+json"),
                            400, "1007-400")
    assert "Version should be specified" in body["detail"]
    assert_xdm_error(get(raw, H, "/global/classes/_xdm.context.profile"), 400, "1007-400")
    assert_xdm_error(get(raw, H, "/global/classes/_xdm.context.profile", ID_LIST), 400, "1007-400")


@pytest.mark.parametrize("path,code,label", [
    ("/global/classes/_xdm.context.nope", "1010-404", "class"),
    ("/global/fieldgroups/_xdm.context.nope", "1011-404", "field group"),
    ("/global/schemas/_xdm.context.nope", "1012-404", "schema"),
    ("/global/datatypes/_xdm.context.nope", "1013-404", "data type"),
    ("/global/behaviors/_xdm.context.nope", "1016-404", "behavior"),
    ("/global/classes/" + enc(PERSON), "1010-404", "class"),          # exists, but is not a class
    ("/tenant/schemas/_aeplocal.schemas.0000", "1012-404", "schema"),
])
def test_not_found_bodies(raw, H, path, code, label):
    body = assert_xdm_error(get(raw, H, path, RAW), 404, code)
    assert body["title"] == "Resource not found"
    assert f"The requested {label} resource" in body["detail"] and "with version 1 is not found" in body["detail"]


# -- tenant schemas ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tutorial(raw, H):
    r = send(raw, H, "POST", "/tenant/schemas", TUTORIAL_BODY)
    assert r.status_code == 201, r.text
    return r.json()


def test_create_tutorial_schema(tutorial):
    s = tutorial
    assert s["$id"].startswith("https://ns.adobe.com/aeplocal/schemas/")
    hash_ = s["$id"].rsplit("/", 1)[1]
    assert len(hash_) == 48 and all(c in "0123456789abcdef" for c in hash_)
    assert s["meta:altId"] == f"_aeplocal.schemas.{hash_}"
    assert s["meta:extends"] == [PERSON, PERSONAL, "https://ns.adobe.com/xdm/common/auditable",
                                 "https://ns.adobe.com/xdm/data/record", PROFILE]
    assert s["refs"] == [PERSON, PERSONAL, PROFILE]
    assert s["version"] == "1.0" and s["title"] == "Test Shopify schema" and s["meta:class"] == PROFILE
    assert s["meta:resourceType"] == "schemas" and s["meta:containerId"] == "tenant"
    assert s["meta:abstract"] is False and s["meta:extensible"] is False and s["meta:xdmType"] == "object"
    assert s["imsOrg"] == "AEPLOCAL000000000000000@AdobeOrg"
    assert s["meta:tenantNamespace"] == "_aeplocal" and s["meta:sandboxType"] == "development"
    assert s["meta:sandboxId"]
    meta = s["meta:registryMetadata"]
    assert {"repo:createdDate", "repo:lastModifiedDate", "xdm:createdClientId", "xdm:lastModifiedClientId",
            "xdm:createdUserId", "xdm:lastModifiedUserId", "eTag", "meta:globalLibVersion"} == set(meta)
    assert [m["$ref"] for m in s["allOf"]] == [PROFILE, PERSON, PERSONAL]


def test_tenant_schema_lookups(raw, H, tutorial):
    sid = tutorial["$id"]
    raw_doc = get(raw, H, "/tenant/schemas/" + enc(sid), RAW).json()
    assert raw_doc["$id"] == sid and "allOf" in raw_doc and "refs" not in raw_doc
    assert raw_doc["meta:extends"] == tutorial["meta:extends"]
    by_alt = get(raw, H, "/tenant/schemas/" + tutorial["meta:altId"], RAW).json()
    assert by_alt == raw_doc
    full = get(raw, H, "/tenant/schemas/" + enc(sid), FULL).json()
    assert "allOf" not in full
    assert full["properties"]["personalEmail"]["properties"]["address"]["format"] == "email"
    assert full["properties"]["homeAddress"]["properties"]["_schema"]["properties"]["latitude"]["maximum"] == 90
    notext = get(raw, H, "/tenant/schemas/" + enc(sid), FULL_NOTEXT).json()
    assert "title" not in notext["properties"]["person"]
    assert get(raw, H, "/tenant/schemas/" + enc(sid), "application/vnd.adobe.xed+json; version=2").status_code == 404
    assert_xdm_error(get(raw, H, "/tenant/schemas/" + enc(sid), FULL_LIST), 400, "1007-400")
    # a tenant schema is not in the global container
    assert get(raw, H, "/global/schemas/" + enc(sid), RAW).status_code == 404


def test_unknown_ref_is_400(raw, H):
    body = {"title": "Bad ref schema", "type": "object",
            "allOf": [{"$ref": PROFILE}, {"$ref": "https://ns.adobe.com/xdm/context/profile-no-such-group"}]}
    err = assert_xdm_error(send(raw, H, "POST", "/tenant/schemas", body), 400, "1010-400")
    assert "profile-no-such-group" in err["detail"]


def test_one_class_must_be_provided(raw, H):
    err = assert_xdm_error(send(raw, H, "POST", "/tenant/schemas",
                                {"title": "No class", "allOf": [{"$ref": PERSON}]}), 400, "1520-400")
    assert "One class must be provided" in err["detail"]
    assert_xdm_error(send(raw, H, "POST", "/tenant/schemas", {"title": "Two classes",
                                                                "allOf": [{"$ref": PROFILE}, {"$ref": EE}]}),
                     400, "1520-400")
    assert_xdm_error(send(raw, H, "POST", "/tenant/schemas", {"allOf": [{"$ref": PROFILE}]}), 400, "1000-400")


def test_title_must_be_unique(raw, H, tutorial):
    err = assert_xdm_error(send(raw, H, "POST", "/tenant/schemas", TUTORIAL_BODY), 400, "1521-400")
    assert err["title"] == "Title not unique" and tutorial["$id"] in err["detail"]


def test_tenant_list_filters(raw, H, tutorial):
    sid = send(raw, H, "POST", "/tenant/schemas", {"title": "Events for listing", "allOf": [{"$ref": EE}]}).json()
    body = get(raw, H, "/tenant/schemas", ID_LIST).json()
    titles = [s["title"] for s in body["results"]]
    assert "Test Shopify schema" in titles and "Events for listing" in titles
    assert body["_links"]["global_schemas"]["href"].endswith("/global/schemas")
    r = get(raw, H, "/tenant/schemas", ID_LIST, params={"property": f"meta:class=={EE}"}).json()
    assert [s["$id"] for s in r["results"]] == [sid["$id"]]
    r = get(raw, H, "/tenant/schemas", ID_LIST, params={"property": "meta:immutableTags"}).json()
    assert r["results"] == []
    r = get(raw, H, "/tenant/schemas", ID_LIST, params={"property": "!meta:immutableTags", "orderby": "-title",
                                                         "limit": 1}).json()
    assert len(r["results"]) == 1 and r["_page"]["next"] is not None
    full = get(raw, H, "/tenant/schemas", FULL_LIST).json()
    assert all("allOf" in s and "refs" not in s for s in full["results"])


def test_patch_adds_field_group_and_bumps_version(raw, H):
    s = send(raw, H, "POST", "/tenant/schemas", {"title": "Patch me", "allOf": [{"$ref": PROFILE}]}).json()
    assert s["version"] == "1.0"
    r = send(raw, H, "PATCH", "/tenant/schemas/" + enc(s["$id"]), [
        {"op": "add", "path": "/meta:extends/-", "value": PERSON},
        {"op": "add", "path": "/allOf/-", "value": {"$ref": PERSON}},
    ])
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["version"] == "1.1" and p["$id"] == s["$id"]
    assert PERSON in p["meta:extends"] and PERSON in p["refs"]
    assert p["meta:registryMetadata"]["repo:createdDate"] == s["meta:registryMetadata"]["repo:createdDate"]
    assert p["meta:registryMetadata"]["eTag"] != s["meta:registryMetadata"]["eTag"]
    full = get(raw, H, "/tenant/schemas/" + enc(s["$id"]), FULL).json()
    assert "person" in full["properties"] and full["version"] == "1.1"
    r = send(raw, H, "PATCH", "/tenant/schemas/" + enc(s["$id"]),
             [{"op": "replace", "path": "/description", "value": "now described"}])
    assert r.json()["version"] == "1.2" and r.json()["description"] == "now described"
    r = send(raw, H, "PATCH", "/tenant/schemas/" + enc(s["$id"]),
             [{"op": "add", "path": "/meta:immutableTags", "value": ["union"]}])
    assert r.json()["meta:immutableTags"] == ["union"]
    # only meta:extends: the field group is composed in too
    r = send(raw, H, "PATCH", "/tenant/schemas/" + enc(s["$id"]),
             [{"op": "add", "path": "/meta:extends/-", "value": PERSONAL}])
    assert PERSONAL in [m["$ref"] for m in r.json()["allOf"]]
    # invalid patches
    assert_xdm_error(send(raw, H, "PATCH", "/tenant/schemas/" + enc(s["$id"]),
                          [{"op": "remove", "path": "/nope"}]), 400, "1000-400")
    assert_xdm_error(send(raw, H, "PATCH", "/tenant/schemas/" + enc(s["$id"]),
                          [{"op": "add", "path": "/allOf/-", "value": {"$ref": "https://ns.adobe.com/x/y"}}]),
                     400, "1010-400")
    assert_xdm_error(send(raw, H, "PATCH", "/tenant/schemas/" + enc(s["$id"]),
                          [{"op": "replace", "path": "/title", "value": "Test Shopify schema"}]), 400, "1521-400")


def test_put_replaces(raw, H):
    s = send(raw, H, "POST", "/tenant/schemas", {"title": "Put me", "allOf": [{"$ref": PROFILE}]}).json()
    r = send(raw, H, "PUT", "/tenant/schemas/" + enc(s["$id"]),
             {"title": "Put me (renamed)", "description": "d", "allOf": [{"$ref": EE}]})
    assert r.status_code == 200
    assert r.json()["meta:class"] == EE and r.json()["version"] == "1.1" and r.json()["title"] == "Put me (renamed)"
    assert get(raw, H, "/tenant/schemas/" + enc(s["$id"]), RAW).json()["meta:class"] == EE


def test_delete_schema(raw, H):
    s = send(raw, H, "POST", "/tenant/schemas", {"title": "Delete me", "allOf": [{"$ref": PROFILE}]}).json()
    r = raw.delete(SR + "/tenant/schemas/" + enc(s["$id"]), headers=H)
    assert r.status_code == 204 and r.content == b""
    assert get(raw, H, "/tenant/schemas/" + enc(s["$id"]), RAW).status_code == 404
    # the title is free again
    assert send(raw, H, "POST", "/tenant/schemas", {"title": "Delete me", "allOf": [{"$ref": PROFILE}]}
                ).status_code == 201


def test_delete_schema_used_by_dataset_is_refused(raw, H):
    s = send(raw, H, "POST", "/tenant/schemas", {"title": "In use", "allOf": [{"$ref": PROFILE}]}).json()
    r = raw.post("/data/foundation/catalog/dataSets", headers={**H, "Content-Type": "application/json"},
                 json={"name": "uses the schema", "schemaRef": {"id": s["$id"], "contentType": RAW}})
    assert r.status_code == 201, r.text
    err = assert_xdm_error(raw.delete(SR + "/tenant/schemas/" + enc(s["$id"]), headers=H), 400, "1522-400")
    assert r.json()[0].split("/")[-1] in err["detail"]


# -- field groups -----------------------------------------------------------------------------------------------------
LOYALTY_GROUP = {
    "type": "object",
    "title": "Loyalty details",
    "description": "Custom loyalty fields",
    "meta:intendedToExtend": [PROFILE],
    "definitions": {
        "loyalty": {
            "properties": {
                "_aeplocal": {
                    "type": "object",
                    "properties": {
                        "loyaltyId": {"title": "Loyalty ID", "type": "string"},
                        "points": {"title": "Points", "type": "integer", "minimum": 0},
                        "tier": {"title": "Tier", "type": "string", "enum": ["bronze", "silver", "gold"]},
                        "address": {"$ref": "https://ns.adobe.com/xdm/common/address"},
                    },
                }
            }
        }
    },
    "allOf": [{"$ref": "#/definitions/loyalty"}],
}


def test_field_group_create_and_use(raw, H):
    r = send(raw, H, "POST", "/tenant/fieldgroups", LOYALTY_GROUP)
    assert r.status_code == 201, r.text
    fg = r.json()
    assert fg["$id"].startswith("https://ns.adobe.com/aeplocal/mixins/")
    assert fg["meta:altId"].startswith("_aeplocal.mixins.")
    assert fg["meta:resourceType"] == "mixins" and fg["meta:abstract"] is True and fg["meta:extensible"] is True
    assert fg["meta:intendedToExtend"] == [PROFILE] and fg["version"] == "1.0"
    points = fg["definitions"]["loyalty"]["properties"]["_aeplocal"]["properties"]["points"]
    assert points["meta:xdmType"] == "int"
    assert get(raw, H, "/tenant/fieldgroups/" + enc(fg["$id"]), RAW).json()["title"] == "Loyalty details"
    assert get(raw, H, "/tenant/mixins/" + fg["meta:altId"], RAW).status_code == 200
    ids = [g["$id"] for g in get(raw, H, "/tenant/fieldgroups", ID_LIST).json()["results"]]
    assert fg["$id"] in ids
    s = send(raw, H, "POST", "/tenant/schemas", {"title": "Loyalty members",
                                                 "allOf": [{"$ref": PROFILE}, {"$ref": fg["$id"]}]})
    assert s.status_code == 201, s.text
    assert s.json()["meta:extends"][0] == fg["$id"]
    full = get(raw, H, "/tenant/schemas/" + enc(s.json()["$id"]), FULL).json()
    tenant = full["properties"]["_aeplocal"]["properties"]
    assert set(tenant) == {"loyaltyId", "points", "tier", "address"}
    assert "countryCode" in tenant["address"]["properties"]
    # in use: the field group cannot be deleted; the schema first, then the group
    assert_xdm_error(raw.delete(SR + "/tenant/fieldgroups/" + enc(fg["$id"]), headers=H), 400, "1522-400")
    assert raw.delete(SR + "/tenant/schemas/" + enc(s.json()["$id"]), headers=H).status_code == 204
    assert raw.delete(SR + "/tenant/fieldgroups/" + enc(fg["$id"]), headers=H).status_code == 204
    assert get(raw, H, "/tenant/fieldgroups/" + enc(fg["$id"]), RAW).status_code == 404


def test_field_group_namespace_error(raw, H):
    body = copy.deepcopy(LOYALTY_GROUP)
    body["title"] = "Bad namespace"
    body["definitions"]["loyalty"]["properties"] = {"loyaltyId": {"type": "string"}}
    err = assert_xdm_error(send(raw, H, "POST", "/tenant/fieldgroups", body), 400, "1020-400")
    assert err["title"] == "Namespace validation error" and "_aeplocal" in err["detail"]


def test_field_group_patch_changes_schema_resolution(raw, H):
    body = copy.deepcopy(LOYALTY_GROUP)
    body["title"] = "Patchable group"
    fg = send(raw, H, "POST", "/tenant/fieldgroups", body).json()
    s = send(raw, H, "POST", "/tenant/schemas", {"title": "Uses patchable group",
                                                 "allOf": [{"$ref": PROFILE}, {"$ref": fg["$id"]}]}).json()
    before = get(raw, H, "/tenant/schemas/" + enc(s["$id"]), FULL).json()
    assert "nickname" not in before["properties"]["_aeplocal"]["properties"]
    r = send(raw, H, "PATCH", "/tenant/fieldgroups/" + enc(fg["$id"]), [
        {"op": "add", "path": "/definitions/loyalty/properties/_aeplocal/properties/nickname",
         "value": {"title": "Nickname", "type": "string"}}])
    assert r.status_code == 200 and r.json()["version"] == "1.1"
    after = get(raw, H, "/tenant/schemas/" + enc(s["$id"]), FULL).json()
    assert after["properties"]["_aeplocal"]["properties"]["nickname"]["type"] == "string"


# -- descriptors and stats ----------------------------------------------------------------------------------------------
def test_identity_descriptors(raw, H, tutorial):
    sid = tutorial["$id"]
    desc = {"@type": "xdm:descriptorIdentity", "xdm:sourceSchema": sid, "xdm:sourceVersion": 1,
            "xdm:sourceProperty": "/personalEmail/address", "xdm:namespace": "Email", "xdm:property": "xdm:code",
            "xdm:isPrimary": True}
    r = send(raw, H, "POST", "/tenant/descriptors", desc)
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["@id"] and d["xdm:namespace"] == "Email" and d["meta:containerId"] == "tenant" and d["version"] == "1"
    assert get(raw, H, f"/tenant/descriptors/{d['@id']}").json()["xdm:sourceProperty"] == "/personalEmail/address"
    grouped = get(raw, H, "/tenant/descriptors", "application/vnd.adobe.xdm+json").json()
    assert d["@id"] in [x["@id"] for x in grouped["xdm:descriptorIdentity"]]
    ids = get(raw, H, "/tenant/descriptors", "application/vnd.adobe.xdm-id+json").json()
    assert d["@id"] in ids["xdm:descriptorIdentity"]
    v2 = get(raw, H, "/tenant/descriptors", "application/vnd.adobe.xdm-v2+json",
             params={"property": f"xdm:sourceSchema=={sid}"}).json()
    assert [x["@id"] for x in v2["results"]] == [d["@id"]]
    assert_xdm_error(get(raw, H, "/tenant/descriptors", RAW), 400, "1008-400")
    # a second primary identity, a missing field, an unknown schema
    second = {**desc, "xdm:sourceProperty": "/mobilePhone/number", "xdm:namespace": "Phone"}
    assert_xdm_error(send(raw, H, "POST", "/tenant/descriptors", second), 400, "1000-400")
    assert send(raw, H, "POST", "/tenant/descriptors", {**second, "xdm:isPrimary": False}).status_code == 201
    assert_xdm_error(send(raw, H, "POST", "/tenant/descriptors", {**desc, "xdm:sourceProperty": "/nope"}),
                     400, "1000-400")
    assert_xdm_error(send(raw, H, "POST", "/tenant/descriptors",
                          {**desc, "xdm:sourceSchema": "https://ns.adobe.com/aeplocal/schemas/none"}),
                     400, "1010-400")
    r = raw.delete(SR + f"/tenant/descriptors/{d['@id']}", headers=H)
    assert r.status_code == 204
    assert_xdm_error(get(raw, H, f"/tenant/descriptors/{d['@id']}"), 404, "1014-404")


def test_stats(raw, H, tutorial):
    body = get(raw, H, "/stats").json()
    assert body["imsOrg"] == "AEPLOCAL000000000000000@AdobeOrg" and body["tenantId"] == "aeplocal"
    assert set(body["counts"]) == {"schemas", "mixins", "datatypes", "classes", "unions"}
    assert body["counts"]["schemas"] >= 1
    usage = {u["$id"]: u for u in body["classUsage"]}
    assert tutorial["$id"] in [s["$id"] for s in usage[PROFILE]["schemas"]]
    assert usage[PROFILE]["title"] == "XDM Individual Profile"
    assert body["recentlyCreatedResources"]


def test_helpers_for_other_services(local_server, raw, H, tutorial):
    from aep_magics.local.services import schemaregistry
    from aep_magics.local.store import Tenant

    tenant = Tenant("AEPLOCAL000000000000000@AdobeOrg", "xdm-registry-tests")
    platform = local_server.platform
    resolved = schemaregistry.resolved_schema(platform, tenant, tutorial["meta:altId"])
    assert "personalEmail" in resolved["properties"] and "title" not in resolved["properties"]["person"]
    assert schemaregistry.resolved_schema(platform, tenant, PROFILE)["properties"]["personID"]
    assert schemaregistry.resolved_schema(platform, tenant, "https://ns.adobe.com/aeplocal/schemas/none") is None
    assert schemaregistry.get_schema(platform, tenant, tutorial["$id"])["title"] == "Test Shopify schema"


# -- sample data and unions -------------------------------------------------------------------------------------------
def test_sample_data_follows_the_resolved_schema(raw, H, tutorial):
    """``GET /rpc/sampledata/{SCHEMA_ID}`` (schema-registry.yaml ``retrieveSampleData``): a record of the schema."""
    r = get(raw, H, f"/rpc/sampledata/{enc(tutorial['$id'])}", RAW)
    assert r.status_code == 200, r.text
    sample = r.json()
    assert sample["personalEmail"]["address"] == "jane.doe@example.com"            # format: email
    assert isinstance(sample["mobilePhone"]["number"], str)
    assert isinstance(sample["person"]["name"]["firstName"], str)
    assert get(raw, H, f"/rpc/sampledata/{tutorial['meta:altId']}", RAW).json() == sample
    assert_xdm_error(get(raw, H, "/rpc/sampledata/_aeplocal.schemas.0000", RAW), 404, "1012-404")


def test_unions_list_the_classes_of_profile_enabled_schemas(raw, H):
    """``GET /tenant/unions``: one union per class with a Profile-enabled schema (``meta:immutableTags: union``)."""
    union_id = f"{EE}__union"
    before = get(raw, H, "/tenant/unions", ID_LIST)
    assert before.status_code == 200, before.text
    assert union_id not in {u["$id"] for u in before.json()["results"]}
    r = send(raw, H, "POST", "/tenant/schemas", {
        "title": "Union member events", "type": "object", "meta:immutableTags": ["union"],
        "allOf": [{"$ref": EE}, {"$ref": "https://ns.adobe.com/xdm/context/experienceevent-environment-details"}]})
    assert r.status_code == 201, r.text
    unions = {u["$id"]: u for u in get(raw, H, "/tenant/unions", FULL_LIST).json()["results"]}
    union = unions[union_id]
    assert union["meta:altId"] == "_xdm.context.experienceevent__union"
    assert union["meta:resourceType"] == "unions" and union["allOf"][0] == {"$ref": EE}
    assert {"$ref": "https://ns.adobe.com/xdm/context/experienceevent-environment-details"} in union["allOf"]
    one = get(raw, H, f"/tenant/unions/{enc(union_id)}", RAW)
    assert one.status_code == 200 and one.json()["$id"] == union_id
    assert_xdm_error(get(raw, H, "/tenant/unions", "application/json"), 400, "1006-400")
