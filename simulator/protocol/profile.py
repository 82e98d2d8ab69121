"""Protocol profiles: named sets of behaviour flags, defined here and nowhere else.

A profile describes one version of the modelled sync system. `legacy` is the system as
`seed/SYNC_TODO.md` describes it today. Scenarios pick a profile by name and may override
single flags; `resolve` refuses names that do not exist.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, fields, replace
from enum import StrEnum
from typing import Any

DAY = 86_400.0
HOUR = 3_600.0


class LwwRule(StrEnum):
    UPDATED_AT = "updated_at"


@dataclass(frozen=True)
class Profile:
    """Every behaviour flag of the modelled client and server."""

    name: str
    # Server: SYNC_REQUEST without a usable cursor answers with rows of the last N days.
    window_days: float = 7.0
    # Client offline queue: newest wins per entity, capped, items older than this dropped.
    queue_cap: int = 200
    queue_max_age_s: float = 48 * HOUR
    # Client: the conflict rule applied when merging an incoming item.
    lww: LwwRule = LwwRule.UPDATED_AT
    # Client: SYNC_REQUEST on connect when the last sync is older than this.
    sync_request_min_age_s: float = 30.0
    ping_interval_s: float = 30.0
    # Client: reconnect backoff, doubling from the first delay up to the cap, then giving up
    # until the network comes back.
    reconnect_first_delay_s: float = 1.0
    reconnect_max_delay_s: float = 30.0
    reconnect_tries: int = 5

    def flags(self) -> dict[str, Any]:
        return {k: (v.value if isinstance(v, StrEnum) else v) for k, v in asdict(self).items()}


PROFILES: dict[str, Profile] = {
    "legacy": Profile(name="legacy"),
}

FLAG_NAMES = frozenset(f.name for f in fields(Profile)) - {"name"}


class UnknownProfile(KeyError):
    """An unknown profile (`flag` None) or a bad flag override (`flag` names it)."""

    def __init__(self, message: str, flag: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.flag = flag


def resolve(name: str, overrides: dict[str, Any] | None = None) -> Profile:
    """The named profile with single flags overridden; unknown names raise `UnknownProfile`."""
    if name not in PROFILES:
        raise UnknownProfile(f"unknown profile {name!r}; known: {', '.join(sorted(PROFILES))}")
    overrides = overrides or {}
    unknown = sorted(set(overrides) - FLAG_NAMES)
    if unknown:
        known = ", ".join(sorted(FLAG_NAMES))
        close = difflib.get_close_matches(unknown[0], sorted(FLAG_NAMES), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownProfile(
            f"unknown profile flag {unknown[0]!r}{hint}; known: {known}", unknown[0]
        )
    base = PROFILES[name]
    return replace(base, **{k: _coerce(k, getattr(base, k), v) for k, v in overrides.items()})


def _coerce(flag: str, default: object, value: object) -> Any:
    """`value` in the type of the flag's default, or `UnknownProfile` saying what was wanted."""
    if isinstance(default, StrEnum):
        try:
            return type(default)(str(value))
        except ValueError:
            choices = ", ".join(m.value for m in type(default))
            raise UnknownProfile(
                f"flag {flag!r}: {value!r} is not one of {choices}", flag
            ) from None
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(default, float):
            return float(value)
        if isinstance(default, int) and value == int(value):
            return int(value)
    raise UnknownProfile(f"flag {flag!r}: expected {type(default).__name__}, got {value!r}", flag)
