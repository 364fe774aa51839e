"""The specs AEP Local serves, as data: the Shopify source connection spec, the Data Lake target connection spec and
the ``CRMToAEP`` flow spec (https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/create/ecommerce/shopify, https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/collect/ecommerce, https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/collect/ecommerce).

The flow spec is copied verbatim from the documentation (collect/ecommerce.md), including its ``scheduleSpec`` JSON
Schema, which Flow Service uses to validate ``scheduleParams``. The two connection specs are not published in full:
their shape follows ``ConnectionSpecItemDTO`` and the published specs of other table-based sources (UNCONFIRMED, see
docs/deviations.md).
"""

from __future__ import annotations

import copy
import json
from typing import Any

SHOPIFY_SPEC_ID = "4f63aa36-bd48-4e33-bb83-49fbcd11c708"
DATA_LAKE_SPEC_ID = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CRM_TO_AEP_FLOW_SPEC_ID = "14518937-270c-4525-bdec-c2ba7cce3860"
PROVIDER_ID = "0ed90a81-07f4-4586-8190-b40eccef1c5a"
#: Provider of the Data Lake target spec (UNCONFIRMED: as seen in public examples of the Data Lake target).
DATA_LAKE_PROVIDER_ID = "521eee4d-8cbe-4906-bb48-fb6bd4450033"
#: The fixed instant (ms) the built-in specs report as created/updated; not the platform clock, so serving the specs
#: never consumes deterministic time.
SPEC_EPOCH_MS = 1577836800000

_DRAFT7 = "http://json-schema.org/draft-07/schema#"

_PERMISSIONS = {
    "view": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["read"]}],
    "manage": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["write"]}],
}


def _shopify_auth(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "spec": {
            "$schema": _DRAFT7,
            "type": "object",
            "description": "Defines auth params required for connecting to Shopify.",
            "properties": {
                "host": {"type": "string", "description": "The end point of your Shopify server"},
                "accessToken": {
                    "type": "string",
                    "description": "The access token for your Shopify user account",
                    "format": "password",
                },
            },
            "required": ["host", "accessToken"],
        },
    }


SHOPIFY_CONNECTION_SPEC: dict[str, Any] = {
    "id": SHOPIFY_SPEC_ID,
    "name": "shopify",
    "providerId": PROVIDER_ID,
    "version": "1.0",
    "authSpec": [_shopify_auth("Basic Authentication"), _shopify_auth("Access Token Based")],
    "sourceSpec": {
        "name": "eCommerce",
        "type": "eCommerce",
        "attributes": {
            "uiAttributes": {
                "isSource": True,
                "documentationLink": "https://experienceleague.adobe.com/docs/experience-platform/sources/connectors/ecommerce/shopify.html",
                "category": "ecommerce",
                "icon": "shopify",
                "description": "Ingest orders, customers and products from a Shopify store.",
                "label": "Shopify",
            }
        },
        "spec": {
            "$schema": _DRAFT7,
            "type": "object",
            "description": "Defines params required when this connection is used as a source in a flow.",
            "properties": {
                "tableName": {"type": "string", "description": "The path of the table to read, e.g. Shopify.Orders."},
                "columns": {
                    "type": "array",
                    "description": "The columns of the table to read.",
                    "items": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}, "type": {"type": "string"}},
                        "required": ["name"],
                    },
                },
                "filters": {"type": "object", "description": "A PQL filter (format pql/json) on the rows to read."},
            },
            "required": ["tableName"],
        },
    },
    "exploreSpec": {
        "name": "Tabular",
        "type": "Tabular",
        "requestSpec": {"$schema": _DRAFT7, "type": "object"},
        "responseSpec": {
            "$schema": _DRAFT7,
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "type": {"type": "string"},
                    "name": {"type": "string"},
                    "path": {"type": "string"},
                    "canPreview": {"type": "boolean"},
                    "canFetchSchema": {"type": "boolean"},
                },
            },
        },
    },
    "attributes": {
        "category": "eCommerce",
        "connectorName": "Shopify",
        "isSource": True,
        "uiAttributes": {"apiFeatures": {"explorePaginationSupported": False}},
    },
    "permissionsInfo": copy.deepcopy(_PERMISSIONS),
}

#: The Data Lake target spec is named ``datalake``: Adobe's pages give only its id (e.g.
#: https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/collect/ecommerce), and the
#: community SDK aepp finds it by that exact name (``getConnectionSpecIdFromName("datalake")``). UNCONFIRMED, see
#: docs/deviations.md.
DATA_LAKE_CONNECTION_SPEC: dict[str, Any] = {
    "id": DATA_LAKE_SPEC_ID,
    "name": "datalake",
    "providerId": DATA_LAKE_PROVIDER_ID,
    "version": "1.0",
    "authSpec": [],
    "targetSpec": {
        "name": "Data Lake",
        "type": "DataSet",
        "spec": {
            "$schema": _DRAFT7,
            "type": "object",
            "description": "Defines params required when this connection is used as the target of a flow.",
            "properties": {
                "dataSetId": {"type": "string", "description": "The Catalog id of the dataset to write to."},
            },
            "required": ["dataSetId"],
        },
    },
    "attributes": {"category": "Data Lake", "connectorName": "Data Lake", "isSource": False, "isDestination": True},
    "permissionsInfo": copy.deepcopy(_PERMISSIONS),
}

#: The CRMToAEP flow spec, verbatim from https://experienceleague.adobe.com/en/docs/experience-platform/sources/api-tutorials/collect/ecommerce (EN collect/ecommerce.md).
CRM_TO_AEP_JSON = r"""
{
  "id": "14518937-270c-4525-bdec-c2ba7cce3860",
  "name": "CRMToAEP",
  "providerId": "0ed90a81-07f4-4586-8190-b40eccef1c5a",
  "version": "1.0",
  "attributes": {
    "isSourceFlow": true,
    "flacValidationSupported": true,
    "frequency": "batch",
    "notification": {"category": "sources", "flowRun": {"enabled": true}}
  },
  "sourceConnectionSpecIds": [
    "3416976c-a9ca-4bba-901a-1f08f66978ff", "38ad80fe-8b06-4938-94f4-d4ee80266b07", "d771e9c1-4f26-40dc-8617-ce58c4b53702",
    "3c9b37f8-13a6-43d8-bad3-b863b941fedd", "cc6a4487-9e91-433e-a3a3-9cf6626c1806", "3000eb99-cd47-43f3-827c-43caf170f015",
    "26d738e0-8963-47ea-aadf-c60de735468a", "74a1c565-4e59-48d7-9d67-7c03b8a13137", "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5",
    "4f63aa36-bd48-4e33-bb83-49fbcd11c708", "cb66ab34-8619-49cb-96d1-39b37ede86ea", "eb13cb25-47ab-407f-ba89-c0125281c563",
    "1f372ff9-38a4-4492-96f5-b9a4e4bd00ec", "37b6bf40-d318-4655-90be-5cd6f65d334b", "a49bcc7d-8038-43af-b1e4-5a7a089a7d79",
    "221c7626-58f6-4eec-8ee2-042b0226f03b", "a8b6a1a4-5735-42b4-952c-85dce0ac38b5", "6a8d82bc-1caf-45d1-908d-cadabc9d63a6",
    "aac9bbd4-6c01-46ce-b47e-51c6f0f6db3f", "8e6b41a8-d998-4545-ad7d-c6a9fff406c3", "ecde33f2-c56f-46cc-bdea-ad151c16cd69",
    "102706fb-a5cd-42ee-afe0-bc42f017ff43", "09182899-b429-40c9-a15a-bf3ddbc8ced7", "0479cc14-7651-4354-b233-7480606c2ac3",
    "d6b52d86-f0f8-475f-89d4-ce54c8527328", "a8f4d393-1a6b-43f3-931f-91a16ed857f4", "1fe283f6-9bec-11ea-bb37-0242ac130002",
    "fcad62f3-09b0-41d3-be11-449d5a621b69", "ea1c2a08-b722-11eb-8529-0242ac130003", "35d6c4d8-c9a9-11eb-b8bc-0242ac130003",
    "ff4274f2-c9a9-11eb-b8bc-0242ac130003", "ba5126ec-c9ac-11eb-b8bc-0242ac130003", "b2e08744-4f1a-40ce-af30-7abac3e23cf3",
    "929e4450-0237-4ed2-9404-b7e1e0a00309", "2acf109f-9b66-4d5e-bc18-ebb2adcff8d5", "2fa8af9c-2d1a-43ea-a253-f00a00c74412"
  ],
  "targetConnectionSpecIds": ["c604ff05-7f1a-43c0-8e18-33bf874cb11c"],
  "permissionsInfo": {
    "view": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["read"]}],
    "manage": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["write"]}]
  },
  "optionSpec": {
    "name": "OptionSpec",
    "spec": {
      "$schema": "http://json-schema.org/draft-07/schema#",
      "type": "object",
      "properties": {
        "errorDiagnosticsEnabled": {"title": "Error diagnostics.", "description": "Flag to enable detailed and sample error diagnostics summary.", "type": "boolean", "default": false},
        "partialIngestionPercent": {"title": "Partial ingestion threshold.", "description": "Percentage which defines the threshold of errors allowed before the run is marked as failed.", "type": "number", "exclusiveMinimum": 0}
      }
    }
  },
  "scheduleSpec": {
    "name": "PeriodicSchedule",
    "type": "Periodic",
    "spec": {
      "$schema": "http://json-schema.org/draft-07/schema#",
      "type": "object",
      "properties": {
        "startTime": {"description": "epoch time", "type": "integer"},
        "frequency": {"type": "string", "enum": ["once", "minute", "hour", "day", "week"]},
        "interval": {"type": "integer"},
        "backfill": {"type": "boolean", "default": true}
      },
      "required": ["startTime", "frequency"],
      "if": {"properties": {"frequency": {"const": "once"}}},
      "then": {"allOf": [{"not": {"required": ["interval"]}}, {"not": {"required": ["backfill"]}}]},
      "else": {
        "required": ["interval"],
        "if": {"properties": {"frequency": {"const": "minute"}}},
        "then": {"properties": {"interval": {"minimum": 15}}},
        "else": {"properties": {"interval": {"minimum": 1}}}
      }
    }
  },
  "transformationSpec": [
    {
      "name": "Copy",
      "spec": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
          "deltaColumn": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "dateFormat": {"type": "string"}, "timezone": {"type": "string"}},
            "required": ["name"]
          }
        },
        "required": ["deltaColumn"]
      }
    },
    {
      "name": "Mapping",
      "spec": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "description": "defines various params required for different mapping from source to target",
        "properties": {"mappingId": {"type": "string"}, "mappingVersion": {"type": "string"}}
      }
    }
  ],
  "runSpec": {
      "name": "ProviderParams",
      "spec": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "description": "defines various params required for creating flow run.",
        "properties": {
          "startTime": {"type": "integer", "description": "An integer that defines the start time of the run. The value is represented in Unix epoch time."},
          "windowStartTime": {"type": "integer", "description": "An integer that defines the start time of the window against which data is to be pulled. The value is represented in Unix epoch time."},
          "windowEndTime": {"type": "integer", "description": "An integer that defines the end time of the window against which data is to be pulled. The value is represented in Unix epoch time."},
          "deltaColumn": {
            "type": "object",
            "description": "The delta column is required to partition the data and separate newly ingested data from historic data.",
            "properties": {"name": {"type": "string"}, "dateFormat": {"type": "string"}, "timezone": {"type": "string"}},
            "required": ["name"]
          }
        },
        "required": ["startTime", "windowStartTime", "windowEndTime", "deltaColumn"]
      }
    }
}
"""

CRM_TO_AEP_FLOW_SPEC: dict[str, Any] = json.loads(CRM_TO_AEP_JSON)

CONNECTION_SPECS: list[dict[str, Any]] = [SHOPIFY_CONNECTION_SPEC, DATA_LAKE_CONNECTION_SPEC]
FLOW_SPECS: list[dict[str, Any]] = [CRM_TO_AEP_FLOW_SPEC]


def connection_spec(spec_id: str) -> dict[str, Any] | None:
    """A built-in connection spec by id (a deep copy), or None."""
    for spec in CONNECTION_SPECS:
        if spec["id"] == spec_id:
            return copy.deepcopy(spec)
    return None


def flow_spec(spec_id: str) -> dict[str, Any] | None:
    for spec in FLOW_SPECS:
        if spec["id"] == spec_id:
            return copy.deepcopy(spec)
    return None


def transformation_specs(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The transformation specs of a flow spec (documented as ``transformationSpec`` and ``transformationSpecs``)."""
    return list(spec.get("transformationSpec") or spec.get("transformationSpecs") or [])


def secret_params(spec: dict[str, Any], spec_name: str) -> set[str]:
    """Names of the auth params a connection spec marks ``"format": "password"``."""
    for auth in spec.get("authSpec", []):
        if auth.get("name") == spec_name:
            props = auth.get("spec", {}).get("properties", {})
            return {k for k, v in props.items() if isinstance(v, dict) and v.get("format") == "password"}
    return set()
