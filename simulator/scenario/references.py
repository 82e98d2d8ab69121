"""References in wire-level steps: `{{item.E1.id}}`, `{{now}}`, `{{user}}`, `{{device}}`.

A literal frame may name what is only known when the run gets there: the id the client gave
an item a step created, the device clock's time. The loader checks every reference when the
scenario loads; the lifecycle fills them in when the step runs (`fill_text`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

PATTERN = re.compile(r"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")
PLAIN_REFERENCES = frozenset({"now", "user", "device"})


def references(value: Any) -> Iterator[str]:
    """Every reference in a step's field, however deep in its mappings and lists."""
    if isinstance(value, str):
        yield from PATTERN.findall(value)
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from references(key)
            yield from references(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from references(inner)


def template(frame: dict[str, Any] | str) -> str:
    """The text a wire step sends, references still in it: a mapping as compact JSON (in
    the order written), a text as it is."""
    if isinstance(frame, str):
        return frame
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def fill_text(text: str, resolve: Callable[[str], str]) -> str:
    """A template with every reference replaced, escaped as inside a JSON string (where a
    reference stands in a frame): a value can never break out of its string."""
    return PATTERN.sub(
        lambda match: json.dumps(resolve(match.group(1)), ensure_ascii=False)[1:-1], text
    )
