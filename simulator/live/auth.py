"""Tokens as the modelled server checks them: HS256 JWTs whose `sub` is the userId.

Refusals are plain HTTP answers before the WebSocket upgrade: 400 when userId or token is
missing, 401 when the token is bad or expired, 403 when its subject is another user.
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"


def mint(secret: str, user: str, now: float, ttl_s: float = 24 * 3600.0) -> str:
    """A token for `user`, valid from `now` for `ttl_s` seconds."""
    claims = {"sub": user, "iat": int(now), "nbf": int(now) - 60, "exp": int(now + ttl_s)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str


def check(secret: str, user: str | None, token: str | None) -> Refusal | None:
    """None when `token` lets `user` in, else the HTTP refusal the server answers with."""
    if not user or not token:
        return Refusal(400, "userId and token are required")
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["sub"]})
    except jwt.ExpiredSignatureError:
        return Refusal(401, "token expired")
    except jwt.PyJWTError as error:
        return Refusal(401, f"bad token: {error}")
    if claims.get("sub") != user:
        return Refusal(403, "token subject is another user")
    return None
