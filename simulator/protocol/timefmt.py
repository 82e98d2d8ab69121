"""Wire timestamps: ISO 8601 in UTC with a literal `Z` and millisecond precision.

The real server refuses offsets such as `+00:00`, so formatting always writes `Z` and the
strict parser accepts nothing else.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

_ISO_Z = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?Z")
# Naive datetimes on the UTC scale: arithmetic on them is exact and needs no time zone.
_EPOCH = datetime(1970, 1, 1)
# The epoch milliseconds a datetime can hold: 0001-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z.
MIN_EPOCH_MS = -62_135_596_800_000
MAX_EPOCH_MS = 253_402_300_799_999


def iso_z(epoch_s: float) -> str:
    """Format seconds since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`."""
    moment = _EPOCH + timedelta(milliseconds=round(epoch_s * 1000))
    return moment.isoformat(timespec="milliseconds") + "Z"


def parse_iso_z(text: object) -> float | None:
    """Seconds since the epoch, or None when `text` is not a strict `Z` timestamp."""
    if not isinstance(text, str) or _ISO_Z.fullmatch(text) is None:
        return None
    try:
        moment = datetime.fromisoformat(text[:-1])
    except ValueError:  # the shape is right but the date is not (a 30th of February)
        return None
    return (moment - _EPOCH).total_seconds()


def parse_timestamp(value: object) -> float | None:
    """An entry timestamp: epoch milliseconds (a number) or a strict ISO `Z` string; None for
    anything else, a number that is no time (years before 1 or after 9999) included."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        # Compared before any conversion (float() of a 401-digit int overflows); NaN fails it.
        if not MIN_EPOCH_MS <= value <= MAX_EPOCH_MS:
            return None
        return float(value) / 1000.0
    return parse_iso_z(value)
