"""Secrets stay masked; IMS tokens are fetched with the client_credentials grant, cached and refreshed in time."""

from __future__ import annotations

import base64
import json

import pytest
import requests
from helpers.fake_platform import FakePlatform, Reply, free_port, profile_for

from aep_magics.auth import EXPIRED_HINT, Secret, TokenProvider
from aep_magics.errors import AuthError, TransportError


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake():
    with FakePlatform(expires_in=3600) as f:
        yield f


def jwt(claims: dict) -> str:
    def part(d: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.signature"


def test_secret_is_masked_everywhere_but_reveal():
    s = Secret("hunter2-secret")
    assert repr(s) == str(s) == format(s) == f"{s}" == f"{s:>20}" == "********"
    assert s.reveal() == "hunter2-secret"
    assert s == Secret("hunter2-secret") and s != Secret("other-secret")
    assert s != "hunter2-secret"  # no equality with plain text
    assert hash(s) == hash(Secret(s)) and hash(s) != hash("hunter2-secret")
    assert "hunter2" not in repr([s, {"k": s}])
    with pytest.raises(TypeError, match="^Secret wants a str, not int$"):
        Secret(123)  # type: ignore[arg-type]


def test_client_credentials_grant(fake):
    tokens = TokenProvider(profile_for(fake, scopes="openid,AdobeID"), requests.Session())
    assert tokens.token() == "token-1"
    (call,) = fake.calls("POST", "/ims/token/v3")
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert call.form == {
        "client_id": "test-client",
        "client_secret": "test-secret-value",
        "grant_type": "client_credentials",
        "scope": "openid,AdobeID",
    }


def test_token_is_cached_then_refreshed_near_expiry(fake):
    clock = Clock()
    tokens = TokenProvider(profile_for(fake), clock=clock)
    assert tokens.token() == "token-1"
    assert tokens.expires_at == clock.now + 3600
    clock.now += 3600 - 301  # more than 5 minutes left
    assert tokens.token() == "token-1"
    clock.now += 2  # now within the 5-minute margin
    assert tokens.token() == "token-2"
    assert len(fake.calls("POST", "/ims/token/v3")) == 2


def test_refresh_margin_is_configurable(fake):
    clock = Clock()
    tokens = TokenProvider(profile_for(fake), clock=clock, refresh_margin=10)
    tokens.token()
    clock.now += 3600 - 11
    assert tokens.token() == "token-1"
    clock.now += 2
    assert tokens.token() == "token-2"


def test_invalidate_fetches_a_new_token(fake):
    tokens = TokenProvider(profile_for(fake))
    assert tokens.token() == "token-1"
    tokens.invalidate()
    assert tokens.token() == "token-2"


def test_static_token_is_used_without_ims_until_invalidated(fake):
    tokens = TokenProvider(profile_for(fake, client_secret=None, access_token="static-token"))
    assert tokens.token() == "static-token"
    assert not tokens.can_refresh
    tokens.invalidate()
    with pytest.raises(AuthError, match="^access token expired: ") as info:
        tokens.token()
    assert str(info.value) == EXPIRED_HINT
    assert fake.calls("POST", "/ims/token/v3") == []


def test_static_jwt_known_to_be_expired(fake):
    clock = Clock(now=2_000_000)
    expired = jwt({"created_at": str(1_000_000 * 1000), "expires_in": str(86_400_000)})
    with pytest.raises(AuthError, match="access token expired"):
        TokenProvider(profile_for(fake, client_secret=None, access_token=expired), clock=clock).token()
    valid = jwt({"exp": 2_000_100})
    assert TokenProvider(profile_for(fake, client_secret=None, access_token=valid), clock=clock).token() == valid


def test_expired_seed_token_falls_back_to_client_credentials(fake):
    clock = Clock(now=2_000_000)
    tokens = TokenProvider(profile_for(fake, access_token=jwt({"exp": 1_000})), clock=clock)
    assert tokens.token() == "token-1"


def test_ims_error_body_becomes_auth_error_without_the_secret(fake):
    fake.script(
        "POST",
        "/ims/token/v3",
        Reply(400, {"error": "invalid_client", "error_description": "invalid client_secret parameter"}),
    )
    with pytest.raises(AuthError, match="^400 invalid_client invalid client_secret parameter") as info:
        TokenProvider(profile_for(fake, client_secret="ims-secret-xyz")).token()
    text = str(info.value)
    assert text == f"400 invalid_client invalid client_secret parameter (POST {fake.url}/ims/token/v3)"
    assert "ims-secret-xyz" not in text + repr(info.value)
    assert info.value.code == "invalid_client" and info.value.status == 400


def test_ims_answer_without_token(fake):
    fake.script("POST", "/ims/token/v3", Reply(200, {"token_type": "bearer"}))
    with pytest.raises(AuthError, match="IMS answered without an access_token"):
        TokenProvider(profile_for(fake)).token()


def test_ims_unreachable_is_a_transport_error():
    port = free_port()
    profile = profile_for(FakePlatform(port=port))
    with pytest.raises(TransportError, match=f"cannot reach IMS at http://127.0.0.1:{port}"):
        TokenProvider(profile).token()


def test_repr_shows_state_not_token(fake):
    tokens = TokenProvider(profile_for(fake))
    tokens.token()
    assert "token-1" not in repr(tokens) and "token cached" in repr(tokens)
