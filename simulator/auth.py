"""Tokens as the modelled server checks them: HS256 JWTs whose `sub` is the userId.

Both executors use it: live mode mints the tokens its devices connect with, `syncsim serve`
checks them, and the simulated server checks what a `connect` step presents, so an auth probe
gets the same answer in both.

Refusals are plain HTTP answers before the WebSocket upgrade: 400 when userId or token is
missing (or the userId is longer than an id may be), 401 when the token is bad, expired, has no
`exp` or an `exp` more than `MAX_TOKEN_AHEAD_S` (a year) ahead, 403 when its subject is another
user. A year bounds how long a leaked token is good for: nothing revokes one.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import jwt

from simulator.errors import UsageError
from simulator.protocol.entities import MAX_ID_LENGTH, fits_id

ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32  # RFC 7518: an HS256 key must be at least as long as the hash output
MAX_TOKEN_AHEAD_S = 365 * 24 * 3600.0  # the furthest `exp` a token may have, from now


def secret_from(env: str) -> str:
    """The shared secret from environment variable `env`, refused unless 32 bytes or more."""
    secret = os.environ.get(env)
    if not secret:
        raise UsageError(f"environment variable {env} (the JWT secret) is not set")
    if len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
        raise UsageError(
            f"environment variable {env}: the JWT secret must be {MIN_SECRET_BYTES} bytes or "
            f"more (HS256), it is {len(secret.encode('utf-8'))}"
        )
    return secret


def mint(secret: str, user: str, now: float, ttl_s: float = 24 * 3600.0) -> str:
    """A token for `user`, valid from `now` for `ttl_s` seconds."""
    claims = {"sub": user, "iat": int(now), "nbf": int(now) - 60, "exp": int(now + ttl_s)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str


def bearer_token(header: str | None) -> tuple[str | None, Refusal | None]:
    """The token of an `Authorization: Bearer TOKEN` header (the scheme in any case); None
    without a header, a 401 refusal for any other header, a bare token included."""
    if header is None or not header.strip():
        return None, None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None, Refusal(401, "Authorization: expected 'Bearer TOKEN'")
    return token.strip(), None


def check(
    secret: str, user: str | None, token: str | None, *, any_subject: bool = False
) -> Refusal | None:
    """None when `token` lets `user` in now, else the HTTP refusal the server answers with.
    `any_subject` lets another user's token in: the rule `auth` broken on purpose."""
    if not user or not token:
        return Refusal(400, "userId and token are required")
    if not fits_id(user):
        return Refusal(400, f"userId: longer than {MAX_ID_LENGTH} characters")
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]}
        )
    except jwt.ExpiredSignatureError:
        return Refusal(401, "token expired")
    except jwt.PyJWTError as error:
        return Refusal(401, f"bad token: {error}")
    # PyJWT has checked that int() takes `exp`, and that it is not in the past.
    if int(claims["exp"]) > time.time() + MAX_TOKEN_AHEAD_S:
        return Refusal(401, "token exp is more than a year ahead")
    if claims.get("sub") != user and not any_subject:
        return Refusal(403, "token subject is another user")
    return None


# What a `connect` step presents: each kind of credentials (scenario.model.TOKENS). What a
# server following the protocol answers to each is the checker's rule `auth`.
OTHER_USER = "syncsim-probe-somebody-else"


def credentials(kind: str, secret: str, user: str, now: float) -> tuple[str | None, str | None]:
    """The (userId, token) a `connect` step of this kind puts in its query."""
    token = mint(secret, user, now)
    if kind == "no_token":
        return user, None
    if kind == "no_user":
        return None, token
    if kind == "bad_signature":
        return user, mint("not-the-secret-" + "x" * MIN_SECRET_BYTES, user, now)
    if kind == "expired":
        claims = {"sub": user, "iat": int(now) - 7200, "exp": int(now) - 3600}
        return user, jwt.encode(claims, secret, algorithm=ALGORITHM)
    if kind == "other_user":
        return user, mint(secret, OTHER_USER, now)
    return user, token


def status(refusal: Refusal | None) -> int:
    """The HTTP status of the answer to an upgrade: 101 when it goes ahead."""
    return 101 if refusal is None else refusal.status
