"""Profiles: precedence of arguments > environment > config file, and every supported config file shape."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from aep_magics.auth import Secret
from aep_magics.config import (
    CONFIG_ENV_VAR,
    DEFAULT_BASE_URL,
    DEFAULT_IMS_URL,
    DEFAULT_SCOPES,
    ENV_VARS,
    Profile,
    load_profile,
)
from aep_magics.errors import ConfigError

DEV_CONSOLE = {
    "CLIENT_SECRETS": ["p8e-dev-console-secret"],
    "ORG_ID": "ABCDEF1234567890ABCDEF12@AdobeOrg",
    "CLIENT_ID": "dc-client-id",
    "SCOPES": ["openid", "AdobeID", "read_organizations", "additional_info.projectedProductContext", "session"],
    "TECHNICAL_ACCOUNT_ID": "TECHACCT@techacct.adobe.com",
    "TECHNICAL_ACCOUNT_EMAIL": "tech@techacct.adobe.com",
}

PROJECT_EXPORT = {
    "project": {
        "id": "4566206088344794932",
        "name": "aep-project",
        "org": {"id": "123456", "name": "Acme", "ims_org_id": "PROJ1234567890ABCDEF1234@AdobeOrg"},
        "workspace": {
            "id": "4566206088344859372",
            "name": "Production",
            "details": {
                "credentials": [
                    {"id": "1", "name": "Old JWT", "integration_type": "service", "jwt": {"client_id": "jwt-id"}},
                    {
                        "id": "2",
                        "name": "OAuth Server-to-Server",
                        "integration_type": "oauth_server_to_server",
                        "oauth_server_to_server": {
                            "client_id": "proj-client-id",
                            "client_secrets": ["p8e-project-secret"],
                            "technical_account_email": "x@techacct.adobe.com",
                            "technical_account_id": "X@techacct.adobe.com",
                            "scopes": ["openid", "AdobeID", "read_organizations"],
                        },
                    },
                ]
            },
        },
    }
}

AEPP = {
    "org_id": "AEPP1234567890ABCDEF1234@AdobeOrg",
    "client_id": "aepp-client",
    "secret": "aepp-secret",
    "sandbox-name": "dev-sandbox",
    "environment": "prod",
    "scopes": "openid, AdobeID, read_organizations",
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for var in [*ENV_VARS.values(), CONFIG_ENV_VAR]:
        monkeypatch.delenv(var, raising=False)


def write(tmp_path, data, name="config.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_defaults_from_explicit_arguments():
    p = load_profile(client_id="cid", org_id="ORG@AdobeOrg", client_secret="sec")
    assert p.base_url == DEFAULT_BASE_URL
    assert p.ims_url == DEFAULT_IMS_URL
    assert p.sandbox == "prod"
    assert p.scopes == DEFAULT_SCOPES
    assert p.name == "default"
    assert isinstance(p.client_secret, Secret) and p.client_secret.reveal() == "sec"
    assert p.access_token is None


def test_precedence_explicit_over_env_over_file(tmp_path, monkeypatch):
    path = write(
        tmp_path,
        {
            "org_id": "FILE@AdobeOrg",
            "client_id": "file-id",
            "secret": "file-secret",
            "sandbox-name": "file-sb",
            "scopes": "a,b",
        },
    )
    monkeypatch.setenv("AEP_CONFIG", str(path))
    monkeypatch.setenv("AEP_CLIENT_ID", "env-id")
    monkeypatch.setenv("AEP_SANDBOX", "env-sb")
    p = load_profile(sandbox="arg-sb", client_secret=None)  # None never overrides
    assert p.sandbox == "arg-sb"
    assert p.client_id == "env-id"
    assert p.org_id == "FILE@AdobeOrg"
    assert p.client_secret == Secret("file-secret")
    assert p.scopes == "a,b"


def test_every_env_var_is_read(monkeypatch):
    values = {
        "AEP_CLIENT_ID": "e-id",
        "AEP_CLIENT_SECRET": "e-secret",
        "AEP_ORG_ID": "E@AdobeOrg",
        "AEP_SANDBOX": "e-sb",
        "AEP_SCOPES": "openid,session",
        "AEP_BASE_URL": "http://127.0.0.1:9/",
        "AEP_IMS_URL": "http://127.0.0.1:8",
        "AEP_ACCESS_TOKEN": "e-token",
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    p = load_profile()
    assert (p.client_id, p.org_id, p.sandbox, p.scopes) == ("e-id", "E@AdobeOrg", "e-sb", "openid,session")
    assert p.base_url == "http://127.0.0.1:9"  # trailing slash dropped
    assert p.ims_url == "http://127.0.0.1:8"
    assert p.client_secret.reveal() == "e-secret" and p.access_token.reveal() == "e-token"


def test_config_path_argument_beats_AEP_CONFIG(tmp_path, monkeypatch):
    monkeypatch.setenv("AEP_CONFIG", str(write(tmp_path, AEPP, "env.json")))
    p = load_profile(write(tmp_path, DEV_CONSOLE, "arg.json"))
    assert p.client_id == "dc-client-id"


def test_developer_console_credential_export(tmp_path):
    p = load_profile(write(tmp_path, DEV_CONSOLE))
    assert p.client_id == "dc-client-id"
    assert p.org_id == "ABCDEF1234567890ABCDEF12@AdobeOrg"
    assert p.client_secret.reveal() == "p8e-dev-console-secret"
    assert p.scopes.split(",") == DEV_CONSOLE["SCOPES"]
    assert p.sandbox == "prod"


def test_developer_console_project_export(tmp_path):
    p = load_profile(write(tmp_path, PROJECT_EXPORT))
    assert p.client_id == "proj-client-id"
    assert p.org_id == "PROJ1234567890ABCDEF1234@AdobeOrg"
    assert p.client_secret.reveal() == "p8e-project-secret"
    assert p.scopes == "openid,AdobeID,read_organizations"


def test_project_export_without_server_to_server_credential(tmp_path):
    data = json.loads(json.dumps(PROJECT_EXPORT))
    data["project"]["workspace"]["details"]["credentials"].pop()
    with pytest.raises(ConfigError, match="no OAuth Server-to-Server credential.*found: service"):
        load_profile(write(tmp_path, data))


def test_aepp_config(tmp_path):
    p = load_profile(write(tmp_path, AEPP))
    assert p.client_id == "aepp-client"
    assert p.client_secret.reveal() == "aepp-secret"
    assert p.org_id == "AEPP1234567890ABCDEF1234@AdobeOrg"
    assert p.sandbox == "dev-sandbox"
    assert p.scopes == "openid,AdobeID,read_organizations"
    assert p.base_url == DEFAULT_BASE_URL


def test_aepp_stage_environment_and_api_key(tmp_path):
    data = {k: v for k, v in AEPP.items() if k != "client_id"} | {"api_key": "old-name", "environment": "stage"}
    p = load_profile(write(tmp_path, data))
    assert p.client_id == "old-name"
    assert p.base_url == "https://platform-stage.adobe.io"
    assert p.ims_url == "https://ims-na1-stg1.adobelogin.com"


def test_kit_flat_config(tmp_path):
    p = load_profile(
        write(
            tmp_path,
            {
                "name": "local",
                "base_url": "http://127.0.0.1:1234",
                "ims_url": "http://127.0.0.1:1234",
                "org_id": "L@AdobeOrg",
                "client_id": "aep-local-dev",
                "client_secret": "aep-local-dev-secret",
                "sandbox": "prod",
            },
        )
    )
    assert p.name == "local" and p.base_url == "http://127.0.0.1:1234"


@pytest.mark.parametrize(
    "given, needle",
    [
        ({"org_id": "O@AdobeOrg", "client_secret": "s"}, "No client id: pass client_id=..., set AEP_CLIENT_ID"),
        ({"client_id": "c", "client_secret": "s"}, "No org id: pass org_id=..., set AEP_ORG_ID"),
        (
            {"client_id": "c", "org_id": "O@AdobeOrg"},
            "No client secret: pass client_secret=..., set AEP_CLIENT_SECRET, or put it in the config file (AEP_CONFIG)",
        ),
    ],
)
def test_missing_value_is_one_line_naming_its_sources(given, needle):
    with pytest.raises(ConfigError, match=re.escape(needle)) as info:
        load_profile(**given)
    text = str(info.value)
    assert needle in text
    assert "\n" not in text
    assert info.value._render_traceback_() == [f"ConfigError: {text}"]


def test_access_token_alone_is_enough():
    p = load_profile(client_id="c", org_id="O@AdobeOrg", access_token="tok")
    assert p.client_secret is None and p.access_token.reveal() == "tok"


def test_bad_config_files(tmp_path):
    with pytest.raises(ConfigError, match="Config file not found"):
        load_profile(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_profile(bad)
    with pytest.raises(ConfigError, match="placeholder <YourSecret> for client_secret"):
        load_profile(write(tmp_path, {"org_id": "O@AdobeOrg", "client_id": "c", "secret": "<YourSecret>"}))


def test_unknown_setting_is_refused():
    with pytest.raises(ConfigError, match="unknown profile setting 'sandbox_name'"):
        load_profile(sandbox_name="x", client_id="c", org_id="o", client_secret="s")


def test_profile_is_frozen_masked_and_switches_sandbox():
    p = Profile(org_id="O@AdobeOrg", client_id="c", client_secret="very-secret-1", scopes=["a", "b"])
    assert p.scopes == "a,b"
    assert "very-secret-1" not in repr(p) and "********" in repr(p)
    assert p.as_dict()["client_secret"] == "********"
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'sandbox'"):
        p.sandbox = "x"  # type: ignore[misc]
    q = p.with_sandbox("dev")
    assert (q.sandbox, p.sandbox) == ("dev", "prod")
    assert q.client_secret == p.client_secret
    assert hash(q) != hash(p) and q == p.with_sandbox("dev")
