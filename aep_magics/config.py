"""Profiles: who to call and as whom. Sources, first wins: explicit arguments > ``AEP_*`` environment > config file.

The config file (``config_path=`` or ``AEP_CONFIG``) may be an Adobe Developer Console OAuth Server-to-Server
credential export (flat or nested project export), a community ``aepp`` config, or this kit's own flat JSON.
See ``docs/configuration.md``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .auth import Secret
from .errors import ConfigError

DEFAULT_BASE_URL = "https://platform.adobe.io"
DEFAULT_IMS_URL = "https://ims-na1.adobelogin.com"
DEFAULT_SCOPES = "openid,AdobeID,read_organizations,additional_info.projectedProductContext,session"
DEFAULT_SANDBOX = "prod"

#: Profile field -> environment variable.
ENV_VARS = {
    "client_id": "AEP_CLIENT_ID",
    "client_secret": "AEP_CLIENT_SECRET",
    "org_id": "AEP_ORG_ID",
    "sandbox": "AEP_SANDBOX",
    "scopes": "AEP_SCOPES",
    "base_url": "AEP_BASE_URL",
    "ims_url": "AEP_IMS_URL",
    "access_token": "AEP_ACCESS_TOKEN",
}
CONFIG_ENV_VAR = "AEP_CONFIG"


@dataclass(frozen=True, kw_only=True)
class Profile:
    """Everything needed to call one org's sandbox. Secrets are :class:`Secret` and print as ``********``."""

    name: str = "default"
    base_url: str = DEFAULT_BASE_URL
    ims_url: str = DEFAULT_IMS_URL
    org_id: str
    sandbox: str = DEFAULT_SANDBOX
    client_id: str
    client_secret: Secret | None = None
    scopes: str = DEFAULT_SCOPES
    access_token: Secret | None = None

    def __post_init__(self) -> None:
        fix = {
            "base_url": self.base_url.rstrip("/"),
            "ims_url": self.ims_url.rstrip("/"),
            "scopes": _scopes(self.scopes),
            "client_secret": _secret(self.client_secret),
            "access_token": _secret(self.access_token),
        }
        for key, value in fix.items():
            object.__setattr__(self, key, value)

    def with_sandbox(self, name: str) -> Profile:
        """The same profile aimed at another sandbox."""
        if not name:
            raise ConfigError("sandbox name must not be empty")
        return dataclasses.replace(self, sandbox=name)

    def as_dict(self) -> dict[str, str | None]:
        """Every field as text, secrets masked: safe to print or log."""
        return {f.name: None if (v := getattr(self, f.name)) is None else str(v) for f in dataclasses.fields(self)}


def load_profile(config_path: str | os.PathLike[str] | None = None, **explicit: Any) -> Profile:
    """Build a :class:`Profile` from ``explicit`` arguments, then ``AEP_*`` variables, then the config file.

    ``explicit`` takes :class:`Profile` field names; ``None`` values are ignored. The config file is
    ``config_path`` or else the file named by ``AEP_CONFIG`` (none is fine when everything else is given).
    """
    fields = {f.name for f in dataclasses.fields(Profile)}
    unknown = sorted(set(explicit) - fields)
    if unknown:
        raise ConfigError(f"unknown profile setting {unknown[0]!r}; known: {', '.join(sorted(fields))}")

    path = config_path or os.environ.get(CONFIG_ENV_VAR) or None
    from_file = read_config_file(path, origin="config_path" if config_path else CONFIG_ENV_VAR) if path else {}
    from_env = {key: os.environ[var] for key, var in ENV_VARS.items() if os.environ.get(var)}
    values = {**from_file, **from_env, **{k: v for k, v in explicit.items() if v is not None}}

    for key, label in (("client_id", "client id"), ("org_id", "org id")):
        if not values.get(key):
            raise ConfigError(f"No {label}: {_where(key)}")
    if not values.get("client_secret") and not values.get("access_token"):
        raise ConfigError(f"No client secret: {_where('client_secret')} (or give an access token: AEP_ACCESS_TOKEN)")
    return Profile(**values)


def read_config_file(path: str | os.PathLike[str], *, origin: str = "config_path") -> dict[str, Any]:
    """Read a JSON config file of any supported shape into :class:`Profile` field names."""
    file = Path(path).expanduser()
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"Config file not found: {file} (from {origin})") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {file}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"Config file {file} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"Config file {file} must hold a JSON object")
    values = parse_config(data, source=str(file))
    for key, value in values.items():
        if isinstance(value, str) and re.fullmatch(r"<[^<>]*>", value.strip()):
            raise ConfigError(f"Config file {file} still has the template placeholder {value} for {key}")
    return values


def parse_config(data: dict[str, Any], *, source: str = "config") -> dict[str, Any]:
    """Map a Developer Console export, an ``aepp`` config or the kit's flat JSON onto :class:`Profile` fields."""
    if "project" in data and isinstance(data["project"], dict):
        return _project_export(data["project"], source)
    if "CLIENT_ID" in data:  # Developer Console: OAuth Server-to-Server credential "Download JSON"
        return _clean(
            client_id=data.get("CLIENT_ID"),
            client_secret=_first(data.get("CLIENT_SECRETS")) or data.get("CLIENT_SECRET"),
            org_id=data.get("ORG_ID"),
            scopes=data.get("SCOPES"),
        )
    # aepp's config (org_id, client_id|api_key, secret, sandbox-name, scopes, environment) and the kit's own keys
    environment = data.get("environment")
    base_url, ims_url = data.get("base_url"), data.get("ims_url")
    if environment and environment != "prod":  # aepp's rule for its stage / int environments
        base_url = base_url or f"https://platform-{environment}.adobe.io"
        ims_url = ims_url or "https://ims-na1-stg1.adobelogin.com"
    return _clean(
        name=data.get("name"),
        client_id=data.get("client_id") or data.get("api_key"),
        client_secret=data.get("client_secret") or data.get("secret"),
        org_id=data.get("org_id"),
        sandbox=data.get("sandbox") or data.get("sandbox-name") or data.get("sandbox_name"),
        scopes=data.get("scopes"),
        base_url=base_url,
        ims_url=ims_url,
        access_token=data.get("access_token"),
    )


def _project_export(project: dict[str, Any], source: str) -> dict[str, Any]:
    """Developer Console project export: ``project.org.ims_org_id`` + the OAuth S2S credential of the workspace."""
    credentials = (((project.get("workspace") or {}).get("details") or {}).get("credentials")) or []
    s2s = next(
        (c["oauth_server_to_server"] for c in credentials if isinstance(c.get("oauth_server_to_server"), dict)), None
    )
    if s2s is None:
        kinds = ", ".join(str(c.get("integration_type", "?")) for c in credentials) or "none"
        raise ConfigError(f"{source}: the project export has no OAuth Server-to-Server credential (found: {kinds})")
    return _clean(
        client_id=s2s.get("client_id"),
        client_secret=_first(s2s.get("client_secrets")) or s2s.get("client_secret"),
        org_id=(project.get("org") or {}).get("ims_org_id"),
        scopes=s2s.get("scopes"),
    )


def _clean(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v not in (None, "", [])}


def _first(values: Any) -> Any:
    return values[0] if isinstance(values, list) and values else None


def _scopes(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    return ",".join(part.strip() for part in str(value).split(",") if part.strip())


def _secret(value: Any) -> Secret | None:
    if value is None or isinstance(value, Secret):
        return value
    return Secret(value)


def _where(key: str) -> str:
    return f"pass {key}=..., set {ENV_VARS[key]}, or put it in the config file ({CONFIG_ENV_VAR})"
