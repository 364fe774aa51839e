#!/usr/bin/env python
"""Build the tutorial notebooks from the cell lists below, execute them, and store their outputs.

    python tools/build_notebooks.py              # every notebook
    python tools/build_notebooks.py --only 03    # notebooks whose file name starts with 03 (03 and fr/03)
    python tools/build_notebooks.py --no-execute # write the cells only (no outputs)

Each notebook is written from scratch (same cells, same ids, same tags every time), executed top to bottom with
nbclient in a fresh kernel against AEP Local (``%aep_auth --local --seed 42``: same ids, etags and timestamps every
run), then checked: no error output, no access token or client secret anywhere in the file (outputs and widget
state), no ``application/json`` output. Widget model ids are renumbered deterministically so a rebuild changes only
what really changed. Cells tagged ``nbval-skip`` are not executed (they would talk to a real sandbox).

The notebooks follow the rules of the notebook practice notes: ``%reload_ext aep_magics`` first, tags (never
comments) on cell-magic cells, no ``clear_output``/``display_id`` updates, no trailing ``;``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = ROOT / "notebooks"

AUTH = "%aep_auth --local --seed 42"
SHOPIFY_SPEC = "4f63aa36-bd48-4e33-bb83-49fbcd11c708"
DATA_LAKE_SPEC = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"

#: Strings that must never appear in a built notebook (outputs or widget state).
FORBIDDEN = [
    re.compile(r"aeplocal\.[0-9a-f]{16,}"),  # an AEP Local access token
    re.compile(r"aep-local-dev-secret"),  # the dev client secret
    re.compile(r"shpat_aep_local_demo"),  # the demo Shopify access token (only the cell source may hold it)
]
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


# -- cell helpers ----------------------------------------------------------------------------------------------------


def md(text: str) -> tuple[str, str, tuple[str, ...]]:
    return ("markdown", _dedent(text), ())


def code(text: str, *tags: str) -> tuple[str, str, tuple[str, ...]]:
    return ("code", _dedent(text), tags)


def _dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text).strip("\n")


# ====================================================================================================================
# 01 - getting started
# ====================================================================================================================


def nb01() -> list:
    return [
        md("""
        # 1 · Getting started with `aep-magics`

        This series of notebooks teaches **Adobe Experience Platform (AEP) data ingestion** from Jupyter. Each step
        is one IPython magic that wraps one AEP REST call, shows the answer as a readable card or table, and can show
        the same call as the `curl` command Adobe's documentation would print (`--curl`), so you learn the raw API as
        you go.

        In this notebook:

        1. load the extension,
        2. sign in (to **AEP Local**, the emulator that ships with the kit, or to your own sandbox),
        3. list and choose a sandbox,
        4. meet the AEP services the tutorials use,
        5. make a first raw API call.
        """),
        md("""
        ## 1. Load the extension

        `%reload_ext` (rather than `%load_ext`) works whether or not the extension is already loaded, so the notebook
        can be re-run from the top at any time.
        """),
        code("%reload_ext aep_magics"),
        md("""
        ## 2. Sign in

        `%aep_auth --local` starts **AEP Local** inside this kernel: a local server that speaks the same REST APIs
        as Adobe Experience Platform (IMS token endpoint, Flow Service, Schema Registry, Catalog, Data Prep, Data
        Access, Sandbox Management) and really runs dataflows. It uses well-known development credentials, so
        nothing needs configuring.

        `--seed 42` makes it deterministic: the same ids, etags and timestamps on every run, and a platform clock
        that only moves when we move it (notebook 4 fast-forwards it). Running this cell again starts a fresh,
        empty AEP Local. (When the environment variable `AEP_LOCAL_URL` names an AEP Local that is already
        running, such as `aep-local serve` or `aep-local demo`, the notebook joins that one instead.)

        The card shows who you are: org, sandbox, base URL, client id and how long the token stays valid. The token
        itself is never shown, nor is the client secret.
        """),
        code(AUTH),
        md("""
        ### Using a real sandbox instead

        The same notebooks run against your own Adobe Experience Platform sandbox. Create an **OAuth
        Server-to-Server** credential in the Adobe Developer Console, then either

        * set environment variables before starting Jupyter (never type secrets into a notebook cell):

          | variable | value |
          |---|---|
          | `AEP_CLIENT_ID` | the credential's client id (it is also the `x-api-key`) |
          | `AEP_CLIENT_SECRET` | its client secret |
          | `AEP_ORG_ID` | your IMS org id, `…@AdobeOrg` |
          | `AEP_SANDBOX` | the sandbox to work in, e.g. `dev` (default `prod`) |

        * or download the credential's JSON from the Developer Console and point `AEP_CONFIG` at it, or pass it
          explicitly: `%aep_auth --config ~/.config/aep/credentials.json --sandbox dev`.

        Then run `%aep_auth` with no `--local`. The cell below does that only when credentials are configured, so
        running it here changes nothing; it is never run by the automated tests (tag `nbval-skip`), which always
        use AEP Local.
        """),
        code("""
        import os

        if os.environ.get("AEP_CLIENT_ID") or os.environ.get("AEP_CONFIG"):
            %aep_auth
        else:
            print("No AEP_CLIENT_ID / AEP_CONFIG in this environment: staying on AEP Local.")
        """, "nbval-skip"),
        md("""
        ## 3. Sandboxes

        Every Platform resource lives in a **sandbox**, a virtual partition of your org (`prod` plus any development
        sandboxes). Every API call names its sandbox in the `x-sandbox-name` header. `%aep_sandbox` lists the
        sandboxes your credentials can see:
        """),
        code("%aep_sandbox"),
        md("""
        and `%aep_sandbox NAME` switches the session to one of them (same org, same token). AEP Local has a single
        `prod` sandbox; more can be created with the Sandbox Management API.
        """),
        code("%aep_sandbox prod"),
        md("""
        ## 4. The AEP services used by the tutorials

        Every call goes to `https://platform.adobe.io` (here: AEP Local's URL) with four headers:
        `Authorization: Bearer {ACCESS_TOKEN}`, `x-api-key: {API_KEY}`, `x-gw-ims-org-id: {ORG_ID}` and
        `x-sandbox-name: {SANDBOX_NAME}`. The magics add them for you; `--curl` shows them with these placeholders.

        | service | base path | what it does | magics |
        |---|---|---|---|
        | **IMS** (Identity Management) | `/ims/token/v3` | exchanges a client id and secret for an access token (OAuth Server-to-Server) | `%aep_auth` |
        | **Sandbox Management** | `/data/foundation/sandbox-management` | the org's sandboxes (`prod`, `dev`, …) | `%aep_sandbox` |
        | **Flow Service** | `/data/foundation/flowservice` | connection specs, base / source / target connections, exploring a source, flow specs, dataflows and their runs | `%%aep_connection`, `%aep_explore`, `%%aep_source`, `%%aep_target`, `%aep_flowspec`, `%%aep_flow`, `%aep_runs` |
        | **Schema Registry** | `/data/foundation/schemaregistry` | the Experience Data Model (XDM): classes, field groups, data types and your own schemas | `%%aep_schema` |
        | **Catalog Service** | `/data/foundation/catalog` | the system of record of where data lives: datasets, batches, lineage | `%%aep_dataset`, `%aep_lineage` |
        | **Data Prep** (conversion) | `/data/foundation/conversion` | mapping sets: source columns to XDM fields, with expressions; validation and preview | `%%aep_mapping` |
        | **Data Access** (export) | `/data/foundation/export` | the files of an ingested batch, and its error diagnostics | `%aep_read` |
        | **Batch Ingestion** (import) | `/data/foundation/import` | upload your own files as batches (not needed here: a dataflow does it) | `%aep` |

        `%aep METHOD PATH` calls anything else. AEP Local adds a control plane under `/aep-local/` (health, clock,
        clients) that is not part of Adobe's API.
        """),
        md("""
        ## 5. A first raw call

        The Shopify source is described by a **connection spec**: which authentication it takes and which
        parameters its connections need. `%aep GET` fetches it; `--curl` shows the same request as a `curl` command
        you could paste in a terminal; `-o shopify_spec` keeps the result in a variable.
        """),
        code(f"%aep GET /data/foundation/flowservice/connectionSpecs/{SHOPIFY_SPEC} --curl -o shopify_spec"),
        md("""
        A result is a Python object: `.body` is the response JSON, `["key"]` reads it, `.status` is the HTTP status
        and `.curl` the command. For example, the authentication types a Shopify connection accepts:
        """),
        code("""
        spec = shopify_spec["items"][0]
        [auth["name"] for auth in spec["authSpec"]]
        """),
        md("""
        Collections render as tables. Here are all the connection specs of this platform:
        """),
        code("%aep GET /data/foundation/flowservice/connectionSpecs"),
        md("""
        `--dry-run` shows a request without sending it (and without fetching a token), handy to check a payload
        before creating anything:
        """),
        code("%aep GET /data/foundation/catalog/dataSets?limit=5 --dry-run"),
        md("""
        Every magic documents itself: `%aep_source?` opens its help, with every option. The full list is in
        `docs/magics.md`.

        **Next:** [2 · Explore the Shopify source](02-explore-shopify.ipynb).
        """),
    ]


# ====================================================================================================================
# shared cells
# ====================================================================================================================

SHOP_TOKEN = '''
import os

# The store's access token comes from the environment; the demo value only works with AEP Local.
shop_token = os.environ.get("SHOPIFY_ACCESS_TOKEN", "shpat_aep_local_demo")
'''

SHOP_TOKEN_FR = '''
import os

# Le jeton d’accès de la boutique vient de l’environnement ; la valeur de démonstration ne marche qu’avec AEP Local.
shop_token = os.environ.get("SHOPIFY_ACCESS_TOKEN", "shpat_aep_local_demo")
'''

CONNECTION = '''
%%aep_connection -o conn --if-exists reuse{curl}
{
    "name": "Shopify base connection",
    "description": "Base connection to the Shopify store",
    "auth": {
        "specName": "Basic Authentication",
        "params": {
            "host": "https://aep-local-demo.myshopify.com",
            "accessToken": "{{shop_token}}"
        }
    },
    "connectionSpec": {
        "id": "SHOPIFY",
        "version": "1.0"
    }
}
'''


def connection_cell(curl: bool = False) -> tuple:
    return code(CONNECTION.replace("{curl}", " --curl" if curl else "").replace("SHOPIFY", SHOPIFY_SPEC))


SCHEMA = '''
%%aep_schema -o schema --if-exists reuse{curl}
{
    "type": "object",
    "title": "Shopify target XDM schema",
    "description": "Shopify target XDM schema",
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
'''


def schema_cell(curl: bool = False) -> tuple:
    return code(SCHEMA.replace("{curl}", " --curl" if curl else ""))


def dataset_cell(name: str, curl: bool = False) -> tuple:
    return code('''
    %%aep_dataset -o dataset --if-exists reuse{curl}
    {
        "name": "NAME",
        "schemaRef": {
            "id": "{{schema.id}}",
            "contentType": "application/vnd.adobe.xed-full-notext+json; version=1"
        }
    }
    '''.replace("NAME", name).replace("{curl}", " --curl" if curl else ""))


def target_cell(name: str, curl: bool = False) -> tuple:
    return code('''
    %%aep_target -o tgt --if-exists reuse{curl}
    {
        "name": "NAME",
        "description": "NAME",
        "data": {
            "format": "parquet_xdm",
            "schema": {
                "id": "{{schema.id}}",
                "version": "application/vnd.adobe.xed-full-notext+json; version=1"
            }
        },
        "params": {
            "dataSetId": "{{dataset.id}}"
        },
        "connectionSpec": {
            "id": "DATA_LAKE",
            "version": "1.0"
        }
    }
    '''.replace("NAME", name).replace("DATA_LAKE", DATA_LAKE_SPEC).replace("{curl}", " --curl" if curl else ""))


SOURCE_03 = '''
%%aep_source -o src --if-exists reuse --curl
{
    "name": "Shopify source connection",
    "baseConnectionId": "{{conn.id}}",
    "description": "Shopify source connection",
    "data": {
        "format": "tabular"
    },
    "params": {
        "tableName": "Shopify.Orders",
        "columns": [
            {"name": "Email", "type": "string"},
            {"name": "Phone", "type": "string"},
            {"name": "Shipping_Address_Phone", "type": "string"}
        ]
    },
    "connectionSpec": {
        "id": "SHOPIFY",
        "version": "1.0"
    }
}
'''.replace("SHOPIFY", SHOPIFY_SPEC)

MAPPING_03 = '''
%%aep_mapping -o mapping --if-exists reuse --curl
{
    "version": 0,
    "xdmSchema": "{{schema.id}}",
    "xdmVersion": "1.0",
    "id": null,
    "mappings": [
        {
            "destinationXdmPath": "personalEmail.address",
            "sourceAttribute": "Email",
            "identity": false,
            "version": 0
        },
        {
            "destinationXdmPath": "mobilePhone.number",
            "sourceAttribute": "Shipping_Address_Phone",
            "identity": false,
            "version": 0
        }
    ]
}
'''

FLOW_03 = '''
%%aep_flow -o flow --if-exists reuse --curl
{
    "name": "Test Shopify dataflow",
    "description": "Shopify With mapping ingestion",
    "flowSpec": {
        "id": "{{spec.id}}",
        "version": "1.0"
    },
    "sourceConnectionIds": [
        "{{src.id}}"
    ],
    "targetConnectionIds": [
        "{{tgt.id}}"
    ],
    "transformations": [
        {
            "name": "Mapping",
            "params": {
                "mappingId": "{{mapping.id}}",
                "mappingVersion": "{{mapping['version']}}"
            }
        }
    ],
    "scheduleParams": {
        "startTime": "1604961070",
        "frequency": "once"
    }
}
'''


# ====================================================================================================================
# 02 - explore the Shopify source
# ====================================================================================================================


def nb02() -> list:
    return [
        md("""
        # 2 · Explore the Shopify source

        Before ingesting anything, look at the source: which tables the eCommerce system exposes, which columns a
        table has, and what its rows look like. This is the *explore* step of Adobe's
        [eCommerce exploration tutorial](https://experienceleague.adobe.com/docs/experience-platform/sources/api-tutorials/explore/ecommerce.html),
        followed by a first look at data quality with pandas.
        """),
        code("%reload_ext aep_magics"),
        code(AUTH),
        md("""
        ## A base connection

        A **base connection** stores how to reach the source: the Shopify connection spec id
        (`4f63aa36-bd48-4e33-bb83-49fbcd11c708`), the store's host and its access token. The token is read from an
        environment variable, so it never sits in the notebook; in the outputs and in `curl` commands it is masked.
        """),
        code(SHOP_TOKEN),
        md("""
        `--if-exists reuse` returns the connection of the same name if there is one already, so running the cell
        again does not pile up duplicates. `--curl` shows both calls: the lookup by name, then the create.
        """),
        connection_cell(curl=True),
        md("""
        The result keeps the new connection's id; later cells refer to it as `{{conn.id}}`:
        """),
        code("conn.id"),
        md("""
        ## Tables

        `%aep_explore` lists the tables of the source (`GET /connections/{id}/explore?objectType=root`):
        """),
        code("%aep_explore {{conn.id}}"),
        md("""
        ## Columns of `Shopify.Orders`

        With `--table`, the columns of one table, with their source type and the XDM type they map to
        (`objectType=table&object=Shopify.Orders`). `-o columns` keeps the list; `.to_dataframe()` turns it into a
        pandas DataFrame.
        """),
        code("%aep_explore {{conn.id}} --table Shopify.Orders -o columns"),
        code("""
        orders_columns = columns.to_dataframe()
        print(len(orders_columns), "columns")
        orders_columns["type"].value_counts()
        """),
        md("""
        ## Preview rows

        `--preview` adds `preview=true`: the source answers with a few sample rows, which the magic returns as a
        pandas DataFrame.
        """),
        code("%aep_explore {{conn.id}} --table Shopify.Orders --preview -o orders"),
        md("""
        ## A quick look with pandas

        The preview is a plain DataFrame:
        """),
        code("""
        orders[["Name", "Email", "Phone", "Currency", "Total_Price", "Shipping_Address_Country_Code"]]
        """),
        md("""
        Ten rows are a small sample. The explore API also takes a **PQL filter** (`filters`: a base64-encoded
        `pql/json` expression) and then returns the first rows that match it, so we can page through the table:
        "orders whose number is greater than the last one seen", twenty times. A magic works inside a Python loop
        like any function; `{{filters}}` in the path is URL-encoded for you, `-o page -q` stores each answer
        without showing it.
        """),
        code("""
        import base64
        import json

        import pandas as pd


        def pql(expression):
            \"\"\"The `filters` parameter of an explore call: a PQL expression, base64-encoded.\"\"\"
            document = {"type": "PQL", "format": "pql/json", "value": expression}
            return base64.b64encode(json.dumps(document).encode()).decode()


        def field(name):
            return {"nodeType": "fieldLookup", "fieldName": name}


        def literal(value):
            return {"nodeType": "literal", "value": value}


        def fn(name, *params):
            return {"nodeType": "fnApply", "fnName": name, "params": list(params)}


        pages = [orders]
        for _ in range(19):
            filters = pql(fn(">", field("Order_Number"), literal(int(pages[-1]["Order_Number"].max()))))
            %aep GET /data/foundation/flowservice/connections/{{conn.id}}/explore?objectType=table&object=Shopify.Orders&preview=true&filters={{filters}} -o page -q
            pages.append(pd.DataFrame(page.items))
        sample = pd.concat(pages, ignore_index=True)
        print(f"{len(sample)} orders, #{sample['Order_Number'].min()} to #{sample['Order_Number'].max()}")
        """),
        md("""
        Which currencies do these orders use, how many have no phone number, and do the e-mail addresses look like
        e-mail addresses? The pattern is the one of XDM's `format: email`: something, `@`, something, a dot,
        something, and no spaces.
        """),
        code("sample[\"Currency\"].value_counts()"),
        code("""
        EMAIL = r"^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$"
        emails = sample["Email"].dropna()
        malformed = emails[~emails.str.match(EMAIL)]
        print(f"orders without a phone:        {sample['Phone'].isna().mean():.1%}")
        print(f"orders without an e-mail:      {sample['Email'].isna().mean():.1%}")
        print(f"e-mails that are not e-mails:  {len(malformed) / len(emails):.1%}")
        malformed.to_list()
        """),
        md("""
        ## Looking for the dirty rows

        A filter can also go straight to the problem: orders whose e-mail is set but does not even look like
        `x@y.z`.
        """),
        code("""
        filters = pql(fn("and", fn("not", fn("isNull", field("Email"))), fn("not", fn("like", field("Email"), literal("%@%.%")))))
        """),
        code(
            "%aep GET /data/foundation/flowservice/connections/{{conn.id}}/explore?objectType=table"
            "&object=Shopify.Orders&preview=true&filters={{filters}} -o bad"
        ),
        code("""
        bad_orders = pd.DataFrame(bad.items)
        bad_orders[["Name", "Email", "Customer_First_Name", "Customer_Last_Name"]]
        """),
        md("""
        Mapped to `personalEmail.address` as they are, these addresses are **ingested** all the same: batch
        ingestion checks data types, enums, ranges and required fields, but not `format` or `pattern` (Adobe's
        [Data quality](https://experienceleague.adobe.com/en/docs/experience-platform/ingestion/quality/overview)
        page; streaming ingestion checks both). Cleaning them is the mapping's job: notebook 5 does it with a Data
        Prep expression. What batch ingestion does reject, such as a number out of its range, notebook 4 meets in
        the shipping addresses' coordinates.

        **Next:** [3 · eCommerce ingestion, step by step](03-ecommerce-ingestion.ipynb).
        """),
    ]


# ====================================================================================================================
# 03 - the tutorial (English)
# ====================================================================================================================


def nb03() -> list:
    return [
        md("""
        # 3 · Collect eCommerce data using source connectors and APIs

        This notebook reproduces Adobe's tutorial *Collect eCommerce data using source connectors and APIs*, step
        by step and in its order: it retrieves data from a third-party **eCommerce** system (Shopify) and brings it
        into Platform through the source connectors and the
        [Flow Service API](https://www.adobe.io/apis/experienceplatform/home/api-reference.html#!acpdr/swagger-specs/flow-service.yaml).

        Each step is one magic; `--curl` shows beside it the request Adobe's documentation prints, with
        `{ACCESS_TOKEN}`, `{API_KEY}`, `{ORG_ID}` and `{SANDBOX_NAME}` as placeholders. Every create uses
        `-o NAME` (the result goes into a variable) and `--if-exists reuse` (re-running finds the resource again
        instead of creating a second one); ids pass from cell to cell only as `{{name.id}}`.
        """),
        md("""
        ## Getting started

        The tutorial needs access to an eCommerce system through a valid connection, and some knowledge of the
        table you want to bring into Platform. If you do not have those, see notebook 2
        ([Explore the Shopify source](02-explore-shopify.ipynb)) first.

        It also relies on these Experience Platform components:

        * [Experience Data Model (XDM) System](https://experienceleague.adobe.com/docs/experience-platform/xdm/home.html):
          the standardized framework by which Experience Platform organizes customer experience data.
          * [Basics of schema composition](https://experienceleague.adobe.com/docs/experience-platform/xdm/schema/composition.html):
            the building blocks of XDM schemas, key principles and best practices.
          * [Schema Registry API](https://experienceleague.adobe.com/docs/experience-platform/xdm/api/getting-started.html):
            your `{TENANT_ID}`, the concept of containers, and the headers required (especially `Accept`).
        * [Catalog Service](https://experienceleague.adobe.com/docs/experience-platform/catalog/home.html): the
          system of record for data location and lineage within Experience Platform.
        * [Batch ingestion](https://experienceleague.adobe.com/docs/experience-platform/ingestion/batch/overview.html):
          ingest data into Experience Platform as batch files.
        * [Sandboxes](https://experienceleague.adobe.com/docs/experience-platform/sandbox/home.html): virtual
          sandboxes that partition a single Platform instance into separate virtual environments.

        ### Reading sample API calls

        Each step shows the request it sends (paths, required headers, payload) and the answer, as the tutorial
        does with its sample calls.

        ### Gathering values for required headers

        To call Platform APIs you first complete the authentication tutorial, which gives the values of the headers
        every call needs:

        * `Authorization: Bearer {ACCESS_TOKEN}`
        * `x-api-key: {API_KEY}`
        * `x-gw-ims-org-id: {IMS_ORG}`

        All resources in Experience Platform, including those of Flow Service, are isolated to a virtual sandbox;
        every request names it:

        * `x-sandbox-name: {SANDBOX_NAME}`

        Requests with a payload (POST, PUT, PATCH) also need `Content-Type: application/json`.

        Here `%aep_auth` does all of this: it fetches the token and adds the headers to every call. We use AEP
        Local (see notebook 1 to use your own sandbox instead).
        """),
        code("%reload_ext aep_magics"),
        code(AUTH),
        md("""
        The source connection needs a **base connection** to the Shopify store (created in the exploration
        tutorial; `--if-exists reuse` finds it if it exists already). The store's access token is read from the
        environment and masked in every output.
        """),
        code(SHOP_TOKEN),
        connection_cell(curl=False),
        md("""
        ## Create a source connection

        You create a source connection with a POST request to the Flow Service API. A source connection is made of
        a connection id (the base connection), a path to the source data (here a table) and a connection spec id.

        To create a source connection you also define an enum value for the data format attribute. For file-based
        connectors:

        | data format | enum value |
        |---|---|
        | Delimited | `delimited` |
        | JSON | `json` |
        | Parquet | `parquet` |

        For all table-based connectors, set the value to `tabular`.

        **API format:** `POST /sourceConnections`

        | property | description |
        |---|---|
        | `baseConnectionId` | the connection id of your eCommerce source |
        | `params.tableName` | the table to read (the tutorial's table lists `params.path` for file sources) |
        | `connectionSpec.id` | the connection spec id of your eCommerce source |

        The tutorial's request selects the `Email` and `Phone` columns. Its mapping, further down, reads
        `Shipping_Address_Phone`, so that column is selected too. (The tutorial's JSON also has a trailing comma
        after the last column, which strict JSON rejects: it is removed here.)
        """),
        code(SOURCE_03),
        md("""
        A successful response returns the unique identifier (`id`) of the new source connection, and its `etag`.
        This id is needed in the next steps to create a dataflow.
        """),
        code("src.id, src.etag"),
        md("""
        ## Create a target XDM schema

        For the source data to be used in Platform, a target schema structures it to your needs. The target schema
        is then used to create a Platform dataset that holds the source data. This target XDM schema extends the
        XDM **Individual Profile** class, with the *Profile Person Details* and *Profile Personal Details* field
        groups.

        **API format:** `POST /tenant/schemas` (Schema Registry API)
        """),
        schema_cell(curl=True),
        md("""
        A successful response returns the details of the new schema, including its unique identifier (`$id`),
        which the next steps need to create a target dataset, a mapping and a dataflow. (`--if-exists reuse` looks a
        schema up by its `title`: the Schema Registry refuses a second schema with the same title.)
        """),
        code("""
        schema.id, schema["meta:altId"], schema["meta:class"]
        """),
        md("""
        ## Create a target dataset

        A target dataset is created with a POST request to the Catalog Service API, giving the target schema's id
        in the payload.

        **API format:** `POST /dataSets`

        | property | description |
        |---|---|
        | `schemaRef.id` | the `$id` of the target XDM schema |
        """),
        dataset_cell("Shopify target dataset", curl=True),
        md("""
        A successful response returns an array with the id of the new dataset, as `"@/dataSets/{DATASET_ID}"`.
        The dataset id is a read-only, system-generated string used to reference the dataset in API calls; the
        magic keeps it as `dataset.id`. It is needed to create a target connection and a dataflow.
        """),
        code("dataset.id"),
        md(f"""
        ## Create a target connection

        A target connection represents the connection to the destination where the ingested data lands. To create
        it, you provide the fixed connection spec id of the Data Lake: `{DATA_LAKE_SPEC}`.

        You now have the unique identifiers of a target schema, a target dataset, and the connection spec id of the
        Data Lake. With them, the Flow Service API creates a target connection, naming the dataset that will hold
        the inbound source data.

        **API format:** `POST /targetConnections`

        | property | description |
        |---|---|
        | `data.schema.id` | the `$id` of the target XDM schema |
        | `params.dataSetId` | the id of the target dataset |
        | `connectionSpec.id` | the connection spec id of the Data Lake: `{DATA_LAKE_SPEC}` |
        """),
        target_cell("Shopify target connection", curl=True),
        md("""
        A successful response returns the new target connection's unique identifier (`id`), needed later to
        create a dataflow.
        """),
        code("tgt.id"),
        md("""
        ## Create a mapping

        For the source data to be ingested into a target dataset, it must first be mapped to the target schema the
        dataset adheres to. This is done with a POST request to the Data Prep (conversion service) API, with the
        mappings defined in the payload: here the order's `Email` goes to `personalEmail.address` and
        `Shipping_Address_Phone` to `mobilePhone.number`.

        **API format:** `POST /mappingSets`

        | property | description |
        |---|---|
        | `xdmSchema` | the `$id` of the target XDM schema |

        (This legacy payload has no `name`; with `--if-exists reuse` the magic names the mapping set after a hash
        of its content, so the same mapping is found again when the cell re-runs.)
        """),
        code(MAPPING_03),
        md("""
        A successful response returns the details of the new mapping, including its unique identifier (`id`),
        needed in a later step to create a dataflow.
        """),
        code("mapping.id, mapping[\"version\"]"),
        md("""
        ## Look up dataflow specifications

        A dataflow collects data from sources and brings it into Platform. To create one, you first get the
        dataflow specification with a GET request to the Flow Service API. Dataflow specs are responsible for
        collecting data from an eCommerce source.

        **API format:** `GET /flowSpecs?property=name=="CRMToAEP"`
        """),
        code("%aep_flowspec CRMToAEP -o spec --curl"),
        md("""
        A successful response returns the details of the dataflow spec that brings data from your source into
        Platform, including its unique `id`, needed to create a new dataflow. Its `scheduleSpec` says which
        schedules are allowed; its `optionSpec` lists the flow's options (error diagnostics, partial ingestion):
        """),
        code("""
        spec.id, spec["scheduleSpec"]["spec"]["properties"]["frequency"]["enum"], list(spec["optionSpec"]["spec"]["properties"])
        """),
        md("""
        ## Create a dataflow

        The last step towards collecting data is to create a dataflow. At this point, you have:

        * the [source connection id](#Create-a-source-connection): `src.id`
        * the [target connection id](#Create-a-target-connection): `tgt.id`
        * the [mapping id](#Create-a-mapping): `mapping.id`
        * the [dataflow spec id](#Look-up-dataflow-specifications): `spec.id`

        A dataflow schedules and collects data from a source. To schedule an ingestion, you first set the start
        time in epoch seconds, then the frequency: `once`, `minute`, `hour`, `day` or `week`. The interval is the
        period between two consecutive ingestions; a one-time ingestion (`once`) takes no interval. For every other
        frequency, the interval must be `15` or more. The magic checks `scheduleParams` against the flow spec's
        schedule schema before sending anything.

        **API format:** `POST /flows`

        | property | description |
        |---|---|
        | `flowSpec.id` | the flow spec id from the previous step |
        | `sourceConnectionIds` | the source connection id |
        | `targetConnectionIds` | the target connection id |
        | `transformations.params.mappingId` | the mapping id |
        | `scheduleParams.startTime` | the start time of the dataflow, in epoch seconds |
        | `scheduleParams.frequency` | how often the dataflow collects data: `once`, `minute`, `hour`, `day` or `week` |
        | `scheduleParams.interval` | the period between two consecutive runs; not for `once`, at least `15` otherwise |

        The request is the tutorial's, unchanged. Without `options.partialIngestionPercent` a single failed record
        would fail the whole run; none fails here: the e-mail addresses and phone numbers are strings, and batch
        ingestion does not check their format (notebook 2 found a few malformed e-mail addresses; they are ingested
        as they are). Notebook 4 meets records that batch ingestion does reject, and the partial-ingestion threshold.

        The start time is the tutorial's, in the past: the dataflow runs once, right away.
        """),
        code(FLOW_03),
        md("""
        A successful response returns the `id` of the new dataflow.
        """),
        code("flow.id"),
        md("""
        ## Monitor your dataflow

        Once the dataflow exists, you can monitor the data ingested through it: its runs, their completion status
        and errors (`GET /runs?property=flowId=={FLOW_ID}`). `--wait` polls until every run has finished, with a
        progress bar; the table shows records read, ingested and failed, and the error codes.
        """),
        code("%aep_runs {{flow.id}} --wait -o runs"),
        md("""
        The run's details are plain JSON: its metrics, and the Catalog batch its promotion activity wrote.
        """),
        code("""
        from aep_magics import run_batch_ids

        run = runs[0]
        metrics = run["metrics"]
        print("status:  ", metrics["statusSummary"]["status"])
        print("records: ", metrics["recordSummary"])
        (batch_id,) = run_batch_ids(run)
        print("batch:   ", batch_id)
        """),
        md("""
        ## Read the ingested data back

        `%aep_read` reads the dataset's rows through the Data Access API (Catalog batches, their files, the Parquet
        parts) into a pandas DataFrame; XDM objects become dotted column names.
        """),
        code("%aep_read {{dataset.id}} --limit 10 --curl"),
        md("""
        ## Next steps

        By following this tutorial, you created a source connector to collect **eCommerce** data on a schedule.
        Incoming data can now be used by downstream Platform services such as Real-time Customer Profile and Data
        Science Workspace. See:

        * [Real-time Customer Profile overview](https://experienceleague.adobe.com/docs/experience-platform/profile/home.html)
        * [Data Science Workspace overview](https://experienceleague.adobe.com/docs/experience-platform/data-science-workspace/home.html)

        In this series: [4 · Monitor and troubleshoot](04-monitor-and-troubleshoot.ipynb) schedules an incremental
        flow and fixes its failures; [5 · Beyond the basics](05-beyond-the-basics.ipynb) builds a richer mapping and
        cleans everything up.
        """),
    ]


# ====================================================================================================================
# 03 - fr
# ====================================================================================================================


def nb03_fr() -> list:
    return [
        md("""
        # 3 · Collecte de données eCommerce à l’aide des connecteurs source et des API

        Ce notebook reproduit le didacticiel d’Adobe *Collecte de données eCommerce à l’aide de connecteurs et d’API
        source*, étape par étape et dans son ordre : il récupère les données d’un système **eCommerce** tiers
        (Shopify) et les intègre dans Platform par l’intermédiaire des connecteurs source et de
        l’[API Flow Service](https://www.adobe.io/apis/experienceplatform/home/api-reference.html#!acpdr/swagger-specs/flow-service.yaml).

        Chaque étape est une magic ; `--curl` affiche à côté la requête que la documentation d’Adobe imprime, avec
        `{ACCESS_TOKEN}`, `{API_KEY}`, `{ORG_ID}` et `{SANDBOX_NAME}` comme variables. Chaque création utilise
        `-o NOM` (le résultat est rangé dans une variable) et `--if-exists reuse` (une nouvelle exécution retrouve la
        ressource au lieu d’en créer une deuxième) ; les identifiants passent d’une cellule à l’autre uniquement sous
        la forme `{{nom.id}}`.
        """),
        md("""
        ## Prise en main

        Ce didacticiel vous demande d’avoir accès à un système **eCommerce** via une connexion valide, ainsi qu’à des
        informations sur la table que vous souhaitez importer dans Platform. Si vous ne disposez pas de ces
        informations, consultez d’abord le notebook 2 ([Explorer la source Shopify](../02-explore-shopify.ipynb)).

        Ce didacticiel nécessite également une bonne compréhension des composants suivants d’Adobe Experience
        Platform :

        * [Système XDM (Experience Data Model)](https://experienceleague.adobe.com/docs/experience-platform/xdm/home.html?lang=fr) :
          cadre normalisé selon lequel Experience Platform organise les données d’expérience client.
          * [Principes de base de la composition des schémas](https://experienceleague.adobe.com/docs/experience-platform/xdm/schema/composition.html?lang=fr) :
            les blocs de création de base des schémas XDM, y compris les principes clés et les bonnes pratiques en
            matière de composition de schémas.
          * [API Schema Registry](https://experienceleague.adobe.com/docs/experience-platform/xdm/api/getting-started.html?lang=fr) :
            votre `{TENANT_ID}`, le concept de « conteneurs » et les en-têtes requis pour effectuer des requêtes
            (avec une attention particulière à l’en-tête `Accept` et à ses valeurs possibles).
        * [Catalog Service](https://experienceleague.adobe.com/docs/experience-platform/catalog/home.html?lang=fr) :
          le catalogue est le système d’enregistrement pour l’emplacement et le lignage des données à l’intérieur
          d’Experience Platform.
        * [Ingestion par lots](https://experienceleague.adobe.com/docs/experience-platform/ingestion/batch/overview.html?lang=fr) :
          l’API Batch Ingestion vous permet d’ingérer des données dans Experience Platform sous forme de fichiers de
          lots.
        * [Sandbox](https://experienceleague.adobe.com/docs/experience-platform/sandbox/home.html?lang=fr) :
          Experience Platform fournit des sandbox virtuels qui partitionnent une instance unique de Platform en
          environnements virtuels distincts.

        ### Lecture d’exemples d’appels API

        Chaque étape montre la requête envoyée (chemin, en-têtes requis, payload) et la réponse, comme le font les
        exemples d’appels du didacticiel.

        ### Collecte des valeurs des en-têtes requis

        Pour lancer des appels aux API Platform, vous devez d’abord suivre le didacticiel d’authentification, qui
        fournit les valeurs de chacun des en-têtes requis dans tous les appels d’API :

        * `Authorization: Bearer {ACCESS_TOKEN}`
        * `x-api-key: {API_KEY}`
        * `x-gw-ims-org-id: {IMS_ORG}`

        Toutes les ressources d’Experience Platform, y compris celles de Flow Service, sont isolées dans des sandbox
        virtuels spécifiques ; chaque requête nomme le sien :

        * `x-sandbox-name: {SANDBOX_NAME}`

        Toutes les requêtes qui contiennent un payload (POST, PUT, PATCH) nécessitent en plus
        `Content-Type: application/json`.

        Ici, `%aep_auth` s’occupe de tout cela : il obtient le jeton et ajoute les en-têtes à chaque appel. Nous
        utilisons AEP Local (le notebook 1 montre comment utiliser votre propre sandbox).
        """),
        code("%reload_ext aep_magics"),
        code(AUTH),
        md("""
        La connexion source a besoin d’une **connexion de base** à la boutique Shopify (créée dans le didacticiel
        d’exploration ; `--if-exists reuse` la retrouve si elle existe déjà). Le jeton d’accès de la boutique est lu
        dans l’environnement et masqué dans toutes les sorties.
        """),
        code(SHOP_TOKEN_FR),
        connection_cell(curl=False),
        md("""
        ## Créer une connexion source

        Vous pouvez créer une connexion source en adressant une requête POST à l’API Flow Service. Une connexion
        source se compose d’un identifiant de connexion (la connexion de base), d’un chemin d’accès aux données
        source (ici une table) et d’un identifiant de spécification de connexion.

        Pour créer une connexion source, vous devez également définir une valeur d’énumération pour l’attribut de
        format de données. Pour les connecteurs basés sur des fichiers :

        | format des données | valeur d’énumération |
        |---|---|
        | Délimité | `delimited` |
        | JSON | `json` |
        | Parquet | `parquet` |

        Pour tous les connecteurs basés sur une table, définissez la valeur sur `tabular`.

        **Format d’API :** `POST /sourceConnections`

        | propriété | description |
        |---|---|
        | `baseConnectionId` | ID de connexion de votre source eCommerce |
        | `params.tableName` | la table à lire (le tableau du didacticiel cite `params.path`, pour les sources de fichiers) |
        | `connectionSpec.id` | ID de spécification de connexion de votre source eCommerce |

        La requête du didacticiel sélectionne les colonnes `Email` et `Phone`. Son mappage, plus bas, lit
        `Shipping_Address_Phone` : cette colonne est donc sélectionnée aussi. (Le JSON du didacticiel a en outre une
        virgule après la dernière colonne, que le JSON strict refuse : elle est retirée ici.)
        """),
        code(SOURCE_03),
        md("""
        Une réponse réussie renvoie l’identifiant unique (`id`) de la connexion source nouvellement créée, et son
        `etag`. Cet identifiant est requis lors des étapes suivantes pour créer un flux de données.
        """),
        code("src.id, src.etag"),
        md("""
        ## Créer un schéma XDM de cible

        Pour que les données source soient utilisées dans Platform, un schéma de cible doit être créé pour
        structurer les données source en fonction de vos besoins. Le schéma de cible est ensuite utilisé pour créer
        un jeu de données Platform contenant les données source. Ce schéma XDM de cible étend la classe XDM
        **Individual Profile**, avec les groupes de champs *Profile Person Details* et *Profile Personal Details*.

        **Format d’API :** `POST /tenant/schemas` (API Schema Registry)
        """),
        schema_cell(curl=True),
        md("""
        Une réponse réussie renvoie les détails du schéma nouvellement créé, y compris son identifiant unique
        (`$id`). Cet identifiant est requis dans les étapes suivantes pour créer un jeu de données de cible, un
        mappage et un flux de données. (`--if-exists reuse` recherche un schéma par son `title` : le Schema Registry
        refuse un deuxième schéma portant le même titre.)
        """),
        code("""
        schema.id, schema["meta:altId"], schema["meta:class"]
        """),
        md("""
        ## Création d’un jeu de données cible

        Un jeu de données de cible peut être créé en exécutant une requête POST à l’API Catalog Service, en
        fournissant l’identifiant du schéma de cible dans la charge utile.

        **Format d’API :** `POST /dataSets`

        | propriété | description |
        |---|---|
        | `schemaRef.id` | `$id` du schéma XDM de cible |
        """),
        dataset_cell("Shopify target dataset", curl=True),
        md("""
        Une réponse réussie renvoie un tableau contenant l’ID du jeu de données nouvellement créé au format
        `"@/dataSets/{DATASET_ID}"`. L’identifiant du jeu de données est une chaîne en lecture seule générée par le
        système et utilisée pour référencer le jeu de données dans les appels API ; la magic le range dans
        `dataset.id`. Il est requis dans les étapes suivantes pour créer une connexion à une cible et un flux de
        données.
        """),
        code("dataset.id"),
        md(f"""
        ## Créer une connexion de cible

        Une connexion de cible représente la connexion à la destination où se trouvent les données ingérées. Pour
        créer une connexion de cible, vous devez fournir l’identifiant de spécification de connexion fixe associé au
        lac de données : `{DATA_LAKE_SPEC}`.

        Vous disposez désormais des identifiants uniques d’un schéma de cible, d’un jeu de données de cible et de
        l’identifiant de spécification de connexion au lac de données. L’API Flow Service vous permet de créer une
        connexion de cible en spécifiant ces identifiants ainsi que le jeu de données qui contiendra les données
        source entrantes.

        **Format d’API :** `POST /targetConnections`

        | propriété | description |
        |---|---|
        | `data.schema.id` | `$id` du schéma XDM de cible |
        | `params.dataSetId` | ID du jeu de données de cible |
        | `connectionSpec.id` | ID de spécification de connexion au lac de données : `{DATA_LAKE_SPEC}` |
        """),
        target_cell("Shopify target connection", curl=True),
        md("""
        Une réponse réussie renvoie l’identifiant unique de la nouvelle connexion de cible (`id`). Cette valeur est
        requise à une étape ultérieure pour créer un flux de données.
        """),
        code("tgt.id"),
        md("""
        ## Créer un mappage

        Pour que les données source soient ingérées dans un jeu de données de cible, elles doivent d’abord être
        mises en correspondance avec le schéma de cible auquel adhère le jeu de données. Pour ce faire, on adresse
        une requête POST à l’API Data Prep (service de conversion) avec les mappages définis dans la charge utile :
        ici, l’`Email` de la commande va dans `personalEmail.address` et `Shipping_Address_Phone` dans
        `mobilePhone.number`.

        **Format d’API :** `POST /mappingSets`

        | propriété | description |
        |---|---|
        | `xdmSchema` | `$id` du schéma XDM de cible |

        (Ce payload historique n’a pas de `name` ; avec `--if-exists reuse`, la magic nomme le mappage d’après une
        empreinte de son contenu, si bien que le même mappage est retrouvé quand la cellule est réexécutée.)
        """),
        code(MAPPING_03),
        md("""
        Une réponse réussie renvoie les détails du nouveau mappage, y compris son identifiant unique (`id`). Cet
        identifiant est nécessaire à une étape ultérieure pour créer un flux de données.
        """),
        code("mapping.id, mapping[\"version\"]"),
        md("""
        ## Rechercher les spécifications de flux de données

        Un flux de données est chargé de collecter les données provenant de sources et de les intégrer à Platform.
        Pour créer un flux de données, vous devez d’abord obtenir les spécifications du flux de données en exécutant
        une requête GET à l’API Flow Service. Les spécifications de flux de données sont chargées de collecter les
        données provenant d’une source eCommerce.

        **Format d’API :** `GET /flowSpecs?property=name=="CRMToAEP"`
        """),
        code("%aep_flowspec CRMToAEP -o spec --curl"),
        md("""
        Une réponse réussie renvoie les détails de la spécification de flux de données responsable de l’introduction
        des données de votre source dans Platform, dont l’`id` unique requis pour créer un nouveau flux de données.
        Son `scheduleSpec` indique les planifications permises ; son `optionSpec` liste les options du flux
        (diagnostic d’erreurs, ingestion partielle) :
        """),
        code("""
        spec.id, spec["scheduleSpec"]["spec"]["properties"]["frequency"]["enum"], list(spec["optionSpec"]["spec"]["properties"])
        """),
        md("""
        ## Création d’un flux de données

        La dernière étape de la collecte des données consiste à créer un flux de données. À ce stade, les valeurs
        requises suivantes sont prêtes :

        * [ID de connexion source](#Créer-une-connexion-source) : `src.id`
        * [ID de connexion de cible](#Créer-une-connexion-de-cible) : `tgt.id`
        * [ID de mappage](#Créer-un-mappage) : `mapping.id`
        * [ID de spécification du flux de données](#Rechercher-les-spécifications-de-flux-de-données) : `spec.id`

        Un flux de données est responsable de la planification et de la collecte des données d’une source. Pour
        planifier une ingestion, vous devez d’abord définir l’heure de début en secondes (époque Unix). Ensuite, vous
        devez définir la fréquence sur l’une des cinq options suivantes : `once`, `minute`, `hour`, `day` ou `week`.
        L’intervalle désigne la période entre deux ingestions consécutives ; une ingestion ponctuelle (`once`) ne
        nécessite pas d’intervalle. Pour toutes les autres fréquences, l’intervalle doit être égal ou supérieur à
        `15`. La magic vérifie `scheduleParams` par rapport au schéma de planification de la spécification avant
        d’envoyer quoi que ce soit.

        **Format d’API :** `POST /flows`

        | propriété | description |
        |---|---|
        | `flowSpec.id` | ID de la spécification de flux récupéré à l’étape précédente |
        | `sourceConnectionIds` | ID de connexion source |
        | `targetConnectionIds` | ID de connexion de cible |
        | `transformations.params.mappingId` | ID de mappage |
        | `scheduleParams.startTime` | heure de début du flux de données, en secondes depuis l’époque |
        | `scheduleParams.frequency` | fréquence à laquelle le flux de données collecte des données : `once`, `minute`, `hour`, `day` ou `week` |
        | `scheduleParams.interval` | période entre deux exécutions consécutives ; pas pour `once`, au moins `15` sinon |

        La requête est celle du didacticiel, sans changement. Sans `options.partialIngestionPercent`, un seul
        enregistrement en échec ferait échouer toute l’exécution ; aucun n’échoue ici : les adresses e-mail et les
        numéros de téléphone sont des chaînes, et l’ingestion par lots ne vérifie pas leur format (le notebook 2 a
        trouvé quelques adresses mal formées ; elles sont ingérées telles quelles). Le notebook 4 rencontre des
        enregistrements que l’ingestion par lots refuse, et le seuil d’ingestion partielle.

        L’heure de début est celle du didacticiel, dans le passé : le flux de données s’exécute une fois, tout de
        suite.
        """),
        code(FLOW_03),
        md("""
        Une réponse réussie renvoie l’`id` du flux de données nouvellement créé.
        """),
        code("flow.id"),
        md("""
        ## Surveiller votre flux de données

        Une fois votre flux de données créé, vous pouvez surveiller les données qui y sont ingérées afin d’afficher
        des informations sur les exécutions de flux, l’état d’achèvement et les erreurs
        (`GET /runs?property=flowId=={FLOW_ID}`). `--wait` interroge jusqu’à ce que toutes les exécutions soient
        terminées, avec une barre de progression ; le tableau montre les enregistrements lus, ingérés et en échec,
        et les codes d’erreur.
        """),
        code("%aep_runs {{flow.id}} --wait -o runs"),
        md("""
        Le détail d’une exécution est du JSON ordinaire : ses métriques, et le lot Catalog écrit par son activité de
        promotion.
        """),
        code("""
        from aep_magics import run_batch_ids

        run = runs[0]
        metrics = run["metrics"]
        print("statut :        ", metrics["statusSummary"]["status"])
        print("enregistrements :", metrics["recordSummary"])
        (batch_id,) = run_batch_ids(run)
        print("lot :           ", batch_id)
        """),
        md("""
        ## Relire les données ingérées

        `%aep_read` lit les lignes du jeu de données via l’API Data Access (les lots Catalog, leurs fichiers, les
        parties Parquet) dans un DataFrame pandas ; les objets XDM deviennent des noms de colonnes pointés.
        """),
        code("%aep_read {{dataset.id}} --limit 10 --curl"),
        md("""
        ## Étapes suivantes

        En suivant ce didacticiel, vous avez créé un connecteur source pour collecter des données **eCommerce** de
        manière planifiée. Les données entrantes peuvent désormais être utilisées par les services Platform en aval
        tels que Real-time Customer Profile et Data Science Workspace. Pour plus d’informations, voir les documents
        suivants :

        * [Présentation du profil client en temps réel](https://experienceleague.adobe.com/docs/experience-platform/profile/home.html?lang=fr)
        * [Présentation de Data Science Workspace](https://experienceleague.adobe.com/docs/experience-platform/data-science-workspace/home.html?lang=fr)

        Dans cette série : [4 · Surveiller et dépanner](../04-monitor-and-troubleshoot.ipynb) planifie un flux
        incrémentiel et corrige ses échecs ; [5 · Aller plus loin](../05-beyond-the-basics.ipynb) construit un
        mappage plus riche et nettoie tout.
        """),
    ]


# ====================================================================================================================
# 04 - monitor and troubleshoot
# ====================================================================================================================


#: Notebook 4's coordinate expressions: swap a pair back when its latitude is out of range; the third mapping set
#: also empties pairs that no swap repairs.
SWAP_LAT = ("iif(Shipping_Address_Latitude > 90 || Shipping_Address_Latitude < -90, Shipping_Address_Longitude, "
            "Shipping_Address_Latitude)")
SWAP_LON = ("iif(Shipping_Address_Latitude > 90 || Shipping_Address_Latitude < -90, Shipping_Address_Latitude, "
            "Shipping_Address_Longitude)")
LAT_OK = "Shipping_Address_Latitude >= -90 && Shipping_Address_Latitude <= 90"
LON_OK = "Shipping_Address_Longitude >= -90 && Shipping_Address_Longitude <= 90"


def nb04() -> list:
    return [
        md("""
        # 4 · Monitor and troubleshoot a scheduled dataflow

        Notebook 3 ingested the orders once. Real pipelines run on a schedule and pick up only what changed since
        the last run. In this notebook:

        1. a **scheduled incremental** dataflow: every 15 minutes, the orders whose `Updated_At` moved on;
        2. AEP Local's clock is **fast-forwarded** to make runs fall due;
        3. a run **fails** because of shipping coordinates out of range: read its **error diagnostics**;
        4. the **partial-ingestion threshold**, both ways: over it the run fails, under it the run succeeds and
           reports the failed rows;
        5. **fix the mapping**, re-run, and watch the **run metrics over time**.
        """),
        code("%reload_ext aep_magics"),
        code(AUTH),
        md("""
        ## The pieces of the dataflow

        Same base connection and schema as notebook 3 (`--if-exists reuse` finds them when they exist). The source
        connection selects one more column, `Updated_At`, the **delta column** of incremental runs, plus the
        shipping address' country code and its coordinates (latitude and longitude, as Shopify geocodes them). This
        flow gets its own dataset and target connection.
        """),
        code(SHOP_TOKEN),
        connection_cell(),
        code('''
        %%aep_source -o src --if-exists reuse
        {
            "name": "Shopify orders, incremental",
            "baseConnectionId": "{{conn.id}}",
            "description": "Orders with their last update time, for incremental runs",
            "data": {"format": "tabular"},
            "params": {
                "tableName": "Shopify.Orders",
                "columns": [
                    {"name": "Email", "type": "string"},
                    {"name": "Shipping_Address_Phone", "type": "string"},
                    {"name": "Shipping_Address_Country_Code", "type": "string"},
                    {"name": "Shipping_Address_Latitude", "type": "double"},
                    {"name": "Shipping_Address_Longitude", "type": "double"},
                    {"name": "Updated_At", "type": "string"}
                ]
            },
            "connectionSpec": {"id": "SHOPIFY", "version": "1.0"}
        }
        '''.replace("SHOPIFY", SHOPIFY_SPEC)),
        schema_cell(),
        dataset_cell("Shopify monitored dataset"),
        target_cell("Shopify monitored target connection"),
        md("""
        The mapping: the e-mail, the phone, and the shipping address' country code and coordinates into the
        profile's shipping address. Data Prep's current format (`outputSchema` + `mappings` with `sourceType`) this
        time; `name` makes it easy to find again.
        """),
        code('''
        %%aep_mapping -o mapping --if-exists reuse
        name: Shopify orders to profile (v1)
        outputSchema:
          schemaRef:
            id: "{{schema.id}}"
            contentType: application/vnd.adobe.xed-full+json;version=1
        mappings:
          - sourceType: ATTRIBUTE
            source: Email
            destination: personalEmail.address
          - sourceType: ATTRIBUTE
            source: Shipping_Address_Phone
            destination: mobilePhone.number
          - sourceType: ATTRIBUTE
            source: Shipping_Address_Country_Code
            destination: shippingAddress.countryCode
          - sourceType: ATTRIBUTE
            source: Shipping_Address_Latitude
            destination: shippingAddress._schema.latitude
          - sourceType: ATTRIBUTE
            source: Shipping_Address_Longitude
            destination: shippingAddress._schema.longitude
        '''),
        code("%aep_flowspec CRMToAEP -o spec -q"),
        md("""
        ## A scheduled, incremental dataflow

        * The **Copy** transformation names the delta column: each run reads the rows whose `Updated_At` falls in
          its window, from where the last successful run stopped up to the run's scheduled time.
        * `frequency: minute` with `interval: 15`: a run every 15 minutes (the flow spec allows no less). The first
          run reads everything up to its start time (`backfill`).
        * `options.errorDiagnosticsEnabled` keeps the failed rows and a sample of their errors next to the batch.
        * `options.partialIngestionPercent`: the share of failed records a run tolerates. We start strict, at 1 %.

        The start time is one minute from **now on the platform's clock**. AEP Local in deterministic mode has
        its own clock (it started on 2026-03-02 09:00 UTC and only moves when told to), so we ask it for the time.
        On Adobe Experience Platform you would use the real time: `int(time.time()) + 60`.
        """),
        code("%aep GET /aep-local/clock -o clock"),
        code("""
        start_time = clock["now"] // 1000 + 60
        start_time
        """),
        code('''
        %%aep_flow -o flow --if-exists reuse
        {
            "name": "Shopify incremental dataflow",
            "description": "Orders updated since the last run, every 15 minutes",
            "flowSpec": {"id": "{{spec.id}}", "version": "1.0"},
            "sourceConnectionIds": ["{{src.id}}"],
            "targetConnectionIds": ["{{tgt.id}}"],
            "transformations": [
                {
                    "name": "Copy",
                    "params": {"deltaColumn": {"name": "Updated_At"}}
                },
                {
                    "name": "Mapping",
                    "params": {"mappingId": "{{mapping.id}}", "mappingVersion": 0}
                }
            ],
            "scheduleParams": {
                "startTime": "{{start_time}}",
                "frequency": "minute",
                "interval": 15
            },
            "options": {
                "errorDiagnosticsEnabled": true,
                "partialIngestionPercent": 1
            }
        }
        '''),
        md("""
        Nothing has run yet: the start time is still ahead.
        """),
        code("%aep_runs {{flow.id}}"),
        md("""
        ## Fast-forward the clock

        AEP Local's control plane moves its clock forward: `POST /aep-local/clock {"advance": seconds}` (not an
        Adobe API). The scheduler then creates every run that fell due and executes it. Two minutes pass the start
        time:
        """),
        code('''
        %%aep POST /aep-local/clock
        {"advance": 120}
        '''),
        code("%aep_runs {{flow.id}} --wait -o runs"),
        md("""
        ## Why did it fail? Error diagnostics

        The run read every order but ingested none: more than 1 % of the records failed XDM validation, so the whole
        run failed. Its promotion activity names the Catalog **batch** it wrote, and, because error diagnostics are
        on, where the failed rows and a sample of errors are kept:
        """),
        code("""
        from aep_magics import promotion_activity, run_batch_ids

        run = runs[-1]
        promotion = promotion_activity(run)
        (batch_id,) = run_batch_ids(run)
        print("batch:", batch_id)
        for error in promotion["statusSummary"]["extensions"]["errors"]:
            print(f'{error["code"]:16} {error.get("recordCount", ""):>6}  {error["message"]}')
        promotion["statusSummary"]["extensions"]["manifest"]
        """),
        md("""
        The Data Access API serves those files: `GET /export/batches/{BATCH_ID}/meta?path=row_error_samples.json`
        returns the error counts and the first failed rows, each with its source record and its `_errors`.
        """),
        code("%aep GET /data/foundation/export/batches/{{batch_id}}/meta?path=row_error_samples.json -o samples -q"),
        code("""
        import pandas as pd

        pd.set_option("display.max_colwidth", 90)
        print("failed records:", samples["failedRecordCount"])
        print("errors by code:", samples["errorCounts"])
        failures = pd.DataFrame(
            [
                {"row": s["rowNumber"], "column": e["columnName"], "code": e["code"], "message": e["message"]}
                for s in samples["samples"]
                for e in s["_errors"]
            ]
        )
        failures.groupby(["column", "code"]).size()
        """),
        code("failures.head(8)"),
        md("""
        Every failure is a **range** error (`INGEST-1405-400`): XDM's geo coordinates allow latitudes from -90 to 90
        and longitudes from -180 to 180. Batch ingestion checks data types, enums, ranges and required fields (it
        does not check formats or patterns: the few malformed e-mail addresses and lower-case country codes of the
        store are ingested as they are; see Adobe's
        [Data quality](https://experienceleague.adobe.com/en/docs/experience-platform/ingestion/quality/overview)
        page). The failed records show two kinds of bad coordinates:

        * latitude and longitude **swapped** (`-118.2…` as a latitude is Los Angeles' longitude); a swap is only
          caught where the longitude is beyond ±90°, so in the Americas' west, Asia and Australia;
        * coordinates in **Web Mercator metres** (millions) instead of degrees.

        ## Fix the swapped coordinates

        Data Prep **expressions** swap the pair back when the latitude is out of range. `--validate --preview
        --rows` checks the new mapping on the failed source records from the diagnostics before creating it.
        """),
        code("""
        failed_records = [s["record"] for s in samples["samples"]]
        len(failed_records)
        """),
        code('''
        %%aep_mapping -o mapping_v2 --if-exists reuse --validate --preview --rows failed_records
        name: Shopify orders to profile (v2, swapped coordinates fixed)
        outputSchema:
          schemaRef:
            id: "{{schema.id}}"
            contentType: application/vnd.adobe.xed-full+json;version=1
        mappings:
          - sourceType: ATTRIBUTE
            source: Email
            destination: personalEmail.address
          - sourceType: ATTRIBUTE
            source: Shipping_Address_Phone
            destination: mobilePhone.number
          - sourceType: ATTRIBUTE
            source: Shipping_Address_Country_Code
            destination: shippingAddress.countryCode
          - sourceType: EXPRESSION
            source: "SWAP_LAT"
            destination: shippingAddress._schema.latitude
          - sourceType: EXPRESSION
            source: "SWAP_LON"
            destination: shippingAddress._schema.longitude
        '''.replace("SWAP_LAT", SWAP_LAT).replace("SWAP_LON", SWAP_LON)),
        md("""
        Point the flow at the new mapping set. Flow Service updates use **JSON Patch** and optimistic concurrency:
        the `If-Match` header carries the flow's current `etag` (the create answer gave it), and the answer carries
        the new one.
        """),
        code('''
        %%aep PATCH /data/foundation/flowservice/flows/{{flow.id}} -H "If-Match: {{flow.etag}}" -o patched
        [
            {"op": "replace", "path": "/transformations/1/params/mappingId", "value": "{{mapping_v2.id}}"}
        ]
        '''),
        md("""
        ## Re-run, and the threshold the other way

        No need to wait for the next quarter hour: an **ad hoc run** (`POST /runs` with the flow id) runs the flow
        now. Its window starts where the last *successful* run stopped; the failed run moved nothing, so it reads
        all the orders again. (Adobe documents ad hoc runs of table sources for flows scheduled `once`; on a
        scheduled flow you can also simply let the next run come.)

        The swapped coordinates are fixed, the Web Mercator ones are not: fewer than 1 % of the records fail now,
        which is under the threshold, so the run **succeeds**. The valid rows are ingested; the failed ones are
        counted and kept in the diagnostics.
        """),
        code('''
        %%aep POST /data/foundation/flowservice/runs -o adhoc
        {"flowId": "{{flow.id}}"}
        '''),
        code("%aep_runs {{flow.id}} --wait -o runs"),
        code("""
        second_run = runs[-1]["metrics"]["recordSummary"]
        failed_share = second_run["failedRecordCount"] / second_run["inputRecordCount"]
        print(f"{second_run['failedRecordCount']} of {second_run['inputRecordCount']} records failed ({failed_share:.2%}), under the 1 % threshold")
        """),
        md("""
        ## Drop what cannot be repaired

        Coordinates that are not degrees at all cannot be swapped back; the third mapping set leaves them empty, so
        the rest of the record lands. While at it, `upper()` turns the lower-case country codes (`us`) into what XDM
        describes (`US`): not a check of batch ingestion, but what a profile's consumers expect. A second patch
        (with the etag of the first patch's answer):
        """),
        code('''
        %%aep_mapping -o mapping_v3 --if-exists reuse --validate
        name: Shopify orders to profile (v3, coordinates checked)
        outputSchema:
          schemaRef:
            id: "{{schema.id}}"
            contentType: application/vnd.adobe.xed-full+json;version=1
        mappings:
          - sourceType: ATTRIBUTE
            source: Email
            destination: personalEmail.address
          - sourceType: ATTRIBUTE
            source: Shipping_Address_Phone
            destination: mobilePhone.number
          - sourceType: EXPRESSION
            source: upper(Shipping_Address_Country_Code)
            destination: shippingAddress.countryCode
          - sourceType: EXPRESSION
            source: "iif(LAT_OK, Shipping_Address_Latitude, iif(LON_OK, Shipping_Address_Longitude, null))"
            destination: shippingAddress._schema.latitude
          - sourceType: EXPRESSION
            source: "iif(LAT_OK, Shipping_Address_Longitude, iif(LON_OK, Shipping_Address_Latitude, null))"
            destination: shippingAddress._schema.longitude
        '''.replace("LAT_OK", LAT_OK).replace("LON_OK", LON_OK)),
        code('''
        %%aep PATCH /data/foundation/flowservice/flows/{{flow.id}} -H "If-Match: {{patched.etag}}" -o patched
        [
            {"op": "replace", "path": "/transformations/1/params/mappingId", "value": "{{mapping_v3.id}}"}
        ]
        '''),
        md("""
        ## Run metrics over time

        Now let the schedule work. A small helper moves the clock on (the same call as above, from Python), and a
        loop lets two hours pass, a quarter of an hour at a time: each step makes one run fall due, which reads only
        the orders created or updated in its window. Like a real quarter of an hour, each step lets its run finish
        before time moves on (`runs.finished` is true once no run is scheduled or in progress).
        """),
        code('''
        import json
        import time


        def fast_forward(seconds):
            """AEP Local only: move the platform clock forward; the scheduler creates the runs that fall due."""
            get_ipython().run_cell_magic("aep", "POST /aep-local/clock -q", json.dumps({"advance": seconds}))


        for _ in range(8):
            fast_forward(15 * 60)
            %aep_runs {{flow.id}} -o runs -q
            while not runs.finished:
                time.sleep(0.5)
                %aep_runs {{flow.id}} -o runs -q
        '''),
        code("%aep_runs {{flow.id}} --wait -o runs"),
        md("""
        The card above charts the records ingested (green) and failed (red) per run, oldest first; the first two
        runs read the whole history, so the quarter-hourly ones hardly show next to them. Here are those alone, and
        the same numbers as a DataFrame for your own analysis:
        """),
        code("""
        from aep_magics.display import RunsResult

        RunsResult(flow.id, runs[2:], title="Scheduled incremental runs")
        """),
        code("""
        history = runs.to_dataframe()
        history[["status", "started", "records in", "records out", "failed", "errors"]]
        """),
        md("""
        ## What landed

        The dataset holds the rows of the successful runs. Every coordinate in it is now in range or empty:
        """),
        code("%aep_read {{dataset.id}} -o landed -q"),
        code("""
        latitude = landed["shippingAddress._schema.latitude"].dropna()
        print(len(landed), "rows;", len(latitude), "with coordinates;", (latitude.abs() > 90).sum(), "out of range")
        landed["shippingAddress.countryCode"].value_counts().head(5)
        """),
        md("""
        To pause the schedule, `POST /flows/{{flow.id}}/action?op=disable`; notebook 5 deletes the flows.

        **Next:** [5 · Beyond the basics](05-beyond-the-basics.ipynb).
        """),
    ]


# ====================================================================================================================
# 05 - beyond the basics
# ====================================================================================================================


#: The richer mapping set of notebook 05: previewed first, then created with the same body.
MAPPING_05 = '''
name: Shopify orders to profile with address
outputSchema:
  schemaRef:
    id: "{{schema.id}}"
    contentType: application/vnd.adobe.xed-full+json;version=1
mappings:
  - sourceType: ATTRIBUTE
    source: Customer_First_Name
    destination: person.name.firstName
  - sourceType: ATTRIBUTE
    source: Customer_Last_Name
    destination: person.name.lastName
  - sourceType: EXPRESSION
    source: concat(Customer_First_Name, " ", Customer_Last_Name)
    destination: person.name.fullName
  - sourceType: EXPRESSION
    source: 'iif(matches_regex(trim(Email), "[^@ ]+@[^@ ]+[.][^@ ]+"), lower(trim(Email)), null)'
    destination: personalEmail.address
    identity: true
    primaryIdentity: true
    namespaceCode: Email
  - sourceType: ATTRIBUTE
    source: Shipping_Address_Phone
    destination: mobilePhone.number
  - sourceType: ATTRIBUTE
    source: Shipping_Address_Address1
    destination: homeAddress.street1
  - sourceType: ATTRIBUTE
    source: Shipping_Address_City
    destination: homeAddress.city
  - sourceType: ATTRIBUTE
    source: Shipping_Address_Zip
    destination: homeAddress.postalCode
  - sourceType: EXPRESSION
    source: upper(Shipping_Address_Country_Code)
    destination: homeAddress.countryCode
'''


def nb05() -> list:
    return [
        md("""
        # 5 · Beyond the basics

        A richer mapping (names, the shipping address, expressions, the e-mail as primary identity), checked with
        a **preview** on sample rows before any dataflow exists; the **lineage** of the resulting flow; and the
        **cleanup** of everything the tutorials created.
        """),
        code("%reload_ext aep_magics"),
        code(AUTH),
        md("""
        ## Source, schema, dataset and target

        The source connection selects the customer's name, the shipping address and the contact columns. The
        schema adds the **IdentityMap** field group to notebook 3's: the record's identities go there.
        """),
        code(SHOP_TOKEN),
        connection_cell(),
        code('''
        %%aep_source -o src --if-exists reuse
        {
            "name": "Shopify orders with addresses",
            "baseConnectionId": "{{conn.id}}",
            "description": "Customer name, contact and shipping address of each order",
            "data": {"format": "tabular"},
            "params": {
                "tableName": "Shopify.Orders",
                "columns": [
                    {"name": "Email", "type": "string"},
                    {"name": "Customer_First_Name", "type": "string"},
                    {"name": "Customer_Last_Name", "type": "string"},
                    {"name": "Shipping_Address_Phone", "type": "string"},
                    {"name": "Shipping_Address_Address1", "type": "string"},
                    {"name": "Shipping_Address_City", "type": "string"},
                    {"name": "Shipping_Address_Zip", "type": "string"},
                    {"name": "Shipping_Address_Country_Code", "type": "string"}
                ]
            },
            "connectionSpec": {"id": "SHOPIFY", "version": "1.0"}
        }
        '''.replace("SHOPIFY", SHOPIFY_SPEC)),
        code('''
        %%aep_schema -o schema --if-exists reuse
        {
            "type": "object",
            "title": "Shopify profile schema with identities",
            "description": "Individual Profile with person and personal details, and the identity map",
            "allOf": [
                {"$ref": "https://ns.adobe.com/xdm/context/profile"},
                {"$ref": "https://ns.adobe.com/xdm/context/profile-person-details"},
                {"$ref": "https://ns.adobe.com/xdm/context/profile-personal-details"},
                {"$ref": "https://ns.adobe.com/xdm/context/identitymap"}
            ],
            "meta:containerId": "tenant",
            "meta:resourceType": "schemas",
            "meta:xdmType": "object",
            "meta:class": "https://ns.adobe.com/xdm/context/profile"
        }
        '''),
        dataset_cell("Shopify profiles dataset"),
        target_cell("Shopify profiles target connection"),
        md("""
        ## A richer mapping, previewed first

        * plain attributes: first and last name, street, city, postal code, phone;
        * **expressions**: the full name built with `concat`, the country code upper-cased, the e-mail trimmed,
          lower-cased and kept only when it is well formed;
        * a **primary identity**: the e-mail, in the `Email` identity namespace. Ingestion adds it to the record's
          `identityMap`, which is how Real-time Customer Profile stitches records together.

        `--validate` checks every mapping (`POST /mappingSets/validate`); `--preview --source {{src.id}}` maps the
        source's preview rows (`POST /mappingSets/preview`) and shows the XDM result; `--no-create` stops there.
        """),
        code("%%aep_mapping --validate --preview --source {{src.id}} --no-create" + MAPPING_05),
        md("""
        The preview looks right: create the mapping set (same cell body, without `--no-create`; `--validate` still
        refuses to create a mapping set that does not validate).
        """),
        code("%%aep_mapping -o mapping --validate --if-exists reuse" + MAPPING_05),
        md("""
        ## The dataflow

        A one-time run, as in notebook 3, with error diagnostics on and partial ingestion allowed.
        """),
        code("%aep_flowspec CRMToAEP -o spec -q"),
        code('''
        %%aep_flow -o flow --if-exists reuse
        name: Shopify profiles dataflow
        description: Names, addresses and e-mail identity of the Shopify customers
        flowSpec:
          id: "{{spec.id}}"
          version: "1.0"
        sourceConnectionIds: ["{{src.id}}"]
        targetConnectionIds: ["{{tgt.id}}"]
        transformations:
          - name: Mapping
            params:
              mappingId: "{{mapping.id}}"
              mappingVersion: 0
        scheduleParams:
          startTime: "1604961070"
          frequency: once
        options:
          errorDiagnosticsEnabled: true
          partialIngestionPercent: 5
        '''),
        code("%aep_runs {{flow.id}} --wait"),
        code("%aep_read {{dataset.id}} --limit 5 --nested -o profiles"),
        md("""
        With `--nested`, XDM objects stay objects. The `identityMap` holds each record's identities, by namespace:
        """),
        code("""
        first = profiles.iloc[0]
        print(first["person"]["name"]["fullName"], "·", first["homeAddress"]["city"], first["homeAddress"]["countryCode"])
        for namespace, identities in first["identityMap"]:
            for identity in identities:
                print(f"identity in namespace {namespace}: {identity['id']} (primary: {identity['primary']})")
        """),
        md("""
        ## Lineage

        Where the data comes from and where it lands: base connection → source connection → dataflow (mapping,
        schedule) → target connection → dataset → batches.
        """),
        code("%aep_lineage {{flow.id}}"),
        md("""
        ## Clean up

        Delete in the reverse order of creation: dataflows first (they use the connections), then source and target
        connections, the base connection, datasets, and last the schema (a schema still used by a dataset cannot be
        deleted). One delete with its `curl`:
        """),
        code("%aep_delete flow {{flow.id}} --curl"),
        md("""
        The rest, for everything the tutorials of this series created (on AEP Local each notebook starts from an
        empty platform, but on a shared sandbox all of them add up). Resources are found by the names the
        notebooks gave them. Mapping sets stay: the Data Prep API has no delete operation, and an unused mapping set
        costs nothing.
        """),
        code('''
        TUTORIAL_NAMES = {
            "flows": ["Test Shopify dataflow", "Shopify incremental dataflow", "Shopify profiles dataflow"],
            "sourceConnections": ["Shopify source connection", "Shopify orders, incremental", "Shopify orders with addresses"],
            "targetConnections": ["Shopify target connection", "Shopify monitored target connection", "Shopify profiles target connection"],
            "connections": ["Shopify base connection"],
        }
        DATASETS = ["Shopify target dataset", "Shopify monitored dataset", "Shopify profiles dataset"]
        SCHEMAS = ["Shopify target XDM schema", "Shopify profile schema with identities"]
        KIND = {"flows": "flow", "sourceConnections": "source", "targetConnections": "target", "connections": "connection"}
        '''),
        code('''
        import pandas as pd
        from aep_magics.magics import ops, state

        client = state.current.require()
        deleted = []
        for collection, names in TUTORIAL_NAMES.items():
            for name in names:
                found = ops.call(client, "GET", f'/data/foundation/flowservice/{collection}?property=name=="{name}"')
                for item in found.items:
                    ops.delete(client, KIND[collection], item["id"])
                    deleted.append({"kind": KIND[collection], "name": name, "id": item["id"]})
        for name in DATASETS:
            found = ops.call(client, "GET", f"/data/foundation/catalog/dataSets?name={name}")
            for item in found.items:
                ops.delete(client, "dataset", item["id"])
                deleted.append({"kind": "dataset", "name": name, "id": item["id"]})
        for title in SCHEMAS:
            found = ops.call(client, "GET", f"/data/foundation/schemaregistry/tenant/schemas?property=title=={title}")
            for item in found.items:
                ops.delete(client, "schema", item["$id"])
                deleted.append({"kind": "schema", "name": title, "id": item["$id"]})
        pd.DataFrame(deleted, columns=["kind", "name", "id"])
        '''),
        md("""
        Nothing of the tutorials is left:
        """),
        code("%aep GET /data/foundation/flowservice/flows"),
        code("%aep GET /data/foundation/catalog/dataSets"),
        md("""
        That is the whole series. The magics' reference is in `docs/magics.md`; every magic also answers `%magic?`.
        """),
    ]


NOTEBOOKS: dict[str, tuple[str, Any, str]] = {
    # key: (path under notebooks/, cell list, language)
    "01": ("01-getting-started.ipynb", nb01, "en"),
    "02": ("02-explore-shopify.ipynb", nb02, "en"),
    "03": ("03-ecommerce-ingestion.ipynb", nb03, "en"),
    "04": ("04-monitor-and-troubleshoot.ipynb", nb04, "en"),
    "05": ("05-beyond-the-basics.ipynb", nb05, "en"),
    "fr-03": ("fr/03-ingestion-ecommerce.ipynb", nb03_fr, "fr"),
}


# -- building ---------------------------------------------------------------------------------------------------------


def make_notebook(key: str) -> nbformat.NotebookNode:
    relpath, cells, language = NOTEBOOKS[key]
    nb = new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    if language != "en":
        nb.metadata["language"] = language
    stem = Path(relpath).stem.split("-", 1)[0]
    for index, (kind, source, tags) in enumerate(cells(), start=1):
        if kind == "markdown":
            cell = new_markdown_cell(source)
        else:
            cell = new_code_cell(source)
            if tags:
                cell.metadata["tags"] = list(tags)
        cell.id = f"{'fr-' if language == 'fr' else ''}{stem}-{index:02d}"
        nb.cells.append(cell)
    lint(nb, relpath)
    return nb


def lint(nb: nbformat.NotebookNode, name: str) -> None:
    """The notebook-practice rules (docs: shared/notes/notebook-practice.md), checked on the cell sources."""
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert code_cells[0].source == "%reload_ext aep_magics", f"{name}: the first code cell must load the extension"
    for cell in code_cells:
        src = cell.source
        first = src.lstrip().splitlines()[0] if src.strip() else ""
        assert "%load_ext" not in src, f"{name}: use %reload_ext, not %load_ext"
        assert "%%" not in src or src.startswith("%%"), f"{name}: a cell magic must be the first line: {first!r}"
        assert "NBVAL" not in src, f"{name}: use tags, not # NBVAL comments"
        assert not src.rstrip().endswith(";"), f"{name}: no trailing ';' (nbval still sees the result)"
        assert "clear_output" not in src and "display_id" not in src, f"{name}: no clear_output/display_id"


def kernel_env() -> dict[str, str]:
    """The environment of the executing kernel: no AEP_* variable (no real credentials, no external AEP Local)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AEP_") and k != "SHOPIFY_ACCESS_TOKEN"}


def execute(nb: nbformat.NotebookNode, path: Path, timeout: int = 300) -> float:
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        skip_cells_with_tag="nbval-skip",
        store_widget_state=True,
        allow_errors=False,
    )
    started = time.monotonic()
    try:
        client.execute(env=kernel_env())
    except Exception:
        failed = Path(os.environ.get("TMPDIR", "/tmp")) / f"failed-{path.name}"
        nbformat.write(nb, failed)
        print(f"  execution failed; the partly executed notebook is in {failed}", file=sys.stderr)
        raise
    return time.monotonic() - started


def renumber_widgets(nb: nbformat.NotebookNode, key: str) -> nbformat.NotebookNode:
    """Replace the random widget model ids by ids derived from the notebook and their order of appearance."""
    state = (nb.metadata.get("widgets") or {}).get(WIDGET_STATE, {}).get("state", {})
    ids = list(state)
    if not ids:
        return nb
    text = json.dumps(nb, ensure_ascii=False)
    order = sorted(ids, key=lambda i: (text.find(i), i))
    for n, old in enumerate(order):
        new = uuid.uuid5(uuid.NAMESPACE_URL, f"aep-magics/notebooks/{key}/widget/{n}").hex
        text = text.replace(old, new)
    return nbformat.from_dict(json.loads(text))


def check(nb: nbformat.NotebookNode, name: str) -> None:
    """No secret in outputs or widget state, no error output, no application/json output."""
    widgets = json.dumps(nb.metadata.get("widgets", {}))
    for pattern in FORBIDDEN:
        assert not pattern.search(widgets), f"{name}: {pattern.pattern} appears in the widget state"
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = json.dumps(cell.get("outputs", []))
        for pattern in FORBIDDEN:
            assert not pattern.search(outputs), f"{name}: {pattern.pattern} appears in the outputs of cell {cell.id}"
        for output in cell.get("outputs", []):
            assert output.get("output_type") != "error" or "raises-exception" in cell.metadata.get("tags", []), (
                f"{name}: cell {cell.id} raised {output.get('ename')}: {output.get('evalue')}"
            )
            assert "application/json" not in output.get("data", {}), f"{name}: cell {cell.id} has application/json output"
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                print(f"  warning: {name} cell {cell.id} wrote to stderr: {output.get('text', '')[:300]!r}")


def build(key: str, run: bool = True) -> tuple[Path, int, float | None]:
    relpath = NOTEBOOKS[key][0]
    path = NOTEBOOKS_DIR / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = make_notebook(key)
    seconds = None
    if run:
        seconds = execute(nb, path)
        nb = renumber_widgets(nb, key)
        check(nb, relpath)
    nbformat.validate(nb)
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        nbformat.write(nb, handle)
    return path, len(nb.cells), seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", metavar="PREFIX",
                        help="build only notebooks whose key or file name starts with PREFIX (01, 03, fr ...)")
    parser.add_argument("--no-execute", action="store_true", help="write the cells without executing them")
    args = parser.parse_args(argv)
    keys = list(NOTEBOOKS)
    if args.only:
        keys = [k for k in keys if any(k.startswith(p) or Path(NOTEBOOKS[k][0]).name.startswith(p) for p in args.only)]
        if not keys:
            parser.error(f"no notebook matches {args.only}")
    for key in keys:
        path, cells, seconds = build(key, run=not args.no_execute)
        timing = f" executed in {seconds:.1f} s" if seconds is not None else ""
        print(f"{path.relative_to(ROOT)}: {cells} cells{timing}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
