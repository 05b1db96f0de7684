"""A small OpenID Provider on a real local HTTP server (pytest-httpserver) for the OIDC tests.

It serves discovery, a JWK Set, a token endpoint and a userinfo endpoint. Keys are generated with
``cryptography`` and ID tokens are signed with PyJWT, so the product verifies real signatures. The token
endpoint really checks the client's credentials, the code, the redirect URI and the PKCE verifier (RFC 7636
§4.6); a test decides which ID token (good, or breaking exactly one rule) it hands out.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

CLIENT_ID = "orgsec-acme"
CLIENT_SECRET = "correct-client-secret-7d1f"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class SigningKey:
    kid: str | None
    alg: str
    private_key: Any

    def public_jwk(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.get_default_algorithms()[self.alg].to_jwk(self.private_key.public_key()))
        if self.kid is not None:
            jwk["kid"] = self.kid
        jwk["use"] = "sig"
        return jwk

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: dict[str, Any], *, alg: str | None = None, headers: dict[str, Any] | None = None) -> str:
        header = {"kid": self.kid} if self.kid is not None else {}
        return jwt.encode(claims, self.private_key, algorithm=alg or self.alg, headers={**header, **(headers or {})})


@functools.cache
def _private_key(kind: str, name: str | None) -> Any:
    # One key per (type, kid) for the session: generating RSA keys is slow, and each test's database is fresh.
    if kind == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def rsa_key(kid: str | None = "rsa-1") -> SigningKey:
    return SigningKey(kid, "RS256", _private_key("RSA", kid))


def ec_key(kid: str | None = "ec-1") -> SigningKey:
    return SigningKey(kid, "ES256", _private_key("EC", kid))


def unsigned_token(claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    """A JWT with ``alg: none`` and an empty signature (RFC 7519 §6)."""
    head = {"alg": "none", "typ": "JWT", **(header or {})}
    return f"{b64url(json.dumps(head).encode())}.{b64url(json.dumps(claims).encode())}."


def hmac_token(claims: dict[str, Any], secret: bytes, header: dict[str, Any] | None = None) -> str:
    """An HS256 JWT signed by hand with ``secret`` (PyJWT rightly refuses PEM keys as HMAC secrets)."""
    head = {"alg": "HS256", "typ": "JWT", **(header or {})}
    signing_input = f"{b64url(json.dumps(head).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def payload_of(token: str | None) -> dict[str, Any]:
    """The claims of a JWT without checking anything (what the provider itself put in)."""
    if not token or token.count(".") != 2:
        return {}
    segment = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


@dataclass
class Authorization:
    """What the product sent the browser to the provider with (the authorization request's parameters)."""

    params: dict[str, str]

    @property
    def state(self) -> str:
        return self.params["state"]

    @property
    def nonce(self) -> str:
        return self.params["nonce"]


@dataclass
class LocalProvider:
    """The provider's state: its keys (what the JWK Set publishes), the next token response, and counters."""

    server: HTTPServer
    keys: list[SigningKey] = field(default_factory=lambda: [rsa_key()])
    issued_codes: dict[str, Authorization] = field(default_factory=dict)
    token_response: dict[str, Any] | None = None
    userinfo: dict[str, Any] | None = None
    jwks_requests: int = 0
    token_requests: int = 0
    token_request_forms: list[dict[str, str]] = field(default_factory=list)

    @property
    def issuer(self) -> str:
        return self.server.url_for("").rstrip("/")

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
        }

    def serve(self) -> None:
        self.server.expect_request("/.well-known/openid-configuration").respond_with_handler(
            lambda request: Response(json.dumps(self.discovery()), content_type="application/json")
        )
        self.server.expect_request("/jwks").respond_with_handler(self._jwks)
        self.server.expect_request("/token", method="POST").respond_with_handler(self._token)
        self.server.expect_request("/userinfo").respond_with_handler(self._userinfo)

    # --- endpoints ---------------------------------------------------------------------------------------

    def _jwks(self, request: Request) -> Response:
        self.jwks_requests += 1
        return Response(json.dumps({"keys": [key.public_jwk() for key in self.keys]}), content_type="application/json")

    def _token(self, request: Request) -> Response:
        self.token_requests += 1
        form = {name: request.form[name] for name in request.form}
        self.token_request_forms.append(form)
        authorization = request.headers.get("Authorization", "")
        if authorization.startswith("Basic "):
            client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
            client_id, secret = unquote(client_id), unquote(secret)
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if client_id != CLIENT_ID or secret != CLIENT_SECRET:
            return self._error(401, "invalid_client", "client authentication failed")
        issued = self.issued_codes.pop(form.get("code", ""), None)
        if issued is None or form.get("grant_type") != "authorization_code":
            return self._error(400, "invalid_grant", "unknown or used code")
        if form.get("redirect_uri") != issued.params["redirect_uri"]:
            return self._error(400, "invalid_grant", "redirect_uri mismatch")
        challenge = b64url(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
        if issued.params.get("code_challenge_method") != "S256" or challenge != issued.params["code_challenge"]:
            return self._error(400, "invalid_grant", "PKCE verification failed")
        body = self.token_response or {}
        return Response(json.dumps(body), content_type="application/json")

    def _userinfo(self, request: Request) -> Response:
        if request.headers.get("Authorization") != "Bearer access-token-1":
            return self._error(401, "invalid_token", "bad access token")
        return Response(json.dumps(self.userinfo or {}), content_type="application/json")

    @staticmethod
    def _error(status: int, error: str, description: str) -> Response:
        return Response(
            json.dumps({"error": error, "error_description": description}),
            status=status,
            content_type="application/json",
        )

    # --- what tests use ----------------------------------------------------------------------------------

    def authorization(self, response: Any) -> Authorization:
        """Read the authorization request from the product's redirect (a 302 to our /authorize)."""
        assert response.status_code == 302, response.content[:500]
        location = response["Location"]
        assert location.startswith(f"{self.issuer}/authorize?"), location
        params = {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}
        return Authorization(params)

    def claims(self, authorization: Authorization, **overrides: Any) -> dict[str, Any]:
        """Good ID token claims for ``authorization``; ``overrides`` replace them (None removes a claim)."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": "mia-sub-123",
            "aud": CLIENT_ID,
            "exp": now + 300,
            "iat": now,
            "auth_time": now - 5,
            "nonce": authorization.nonce,
            "email": "member@acme.test",
            "email_verified": True,
            "name": "Mia Member",
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def respond_with(
        self, authorization: Authorization, id_token: str | None, *, userinfo: dict[str, Any] | None = None
    ) -> str:
        """Prepare the token (and userinfo) response for this authorization; return the callback query string."""
        code = secrets.token_urlsafe(16)
        self.issued_codes[code] = authorization
        self.token_response = {"access_token": "access-token-1", "token_type": "Bearer", "expires_in": 300}
        if id_token is not None:
            self.token_response["id_token"] = id_token
        # By default userinfo answers for the ID token's subject, as a real provider does.
        self.userinfo = userinfo if userinfo is not None else {"sub": payload_of(id_token).get("sub")}
        return f"code={code}&state={authorization.state}"

    def sign(self, claims: dict[str, Any], **kwargs: Any) -> str:
        return self.keys[0].sign(claims, **kwargs)
