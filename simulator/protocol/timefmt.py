"""Wire timestamps: ISO 8601 in UTC with a literal `Z` and millisecond precision.

The real server refuses offsets such as `+00:00`, so formatting always writes `Z` and the
strict parser accepts nothing else.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_ISO_Z = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?Z$")


def iso_z(epoch_s: float) -> str:
    """Format seconds since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`."""
    ms = round(epoch_s * 1000)
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def parse_iso_z(text: object) -> float | None:
    """Seconds since the epoch, or None when `text` is not a strict `Z` timestamp."""
    if not isinstance(text, str):
        return None
    match = _ISO_Z.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction = match.group(7) or "0"
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None
    return float(moment.timestamp() + int(fraction) / 10 ** len(fraction))


def parse_timestamp(value: object) -> float | None:
    """An entry timestamp: epoch milliseconds (a number) or a strict ISO `Z` string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) / 1000.0
    return parse_iso_z(value)
