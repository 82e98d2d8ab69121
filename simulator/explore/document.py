"""A scenario as a plain YAML document the explorer varies and the shrinker cuts down.

The validated model dumped back to a mapping (times in seconds, defaults left out), which
loads again to the same scenario: every change is made to this mapping, and a candidate is
whatever the loader accepts.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from simulator.protocol.timefmt import iso_z
from simulator.scenario.loader import Loaded, load_text
from simulator.scenario.model import Scenario

Document = dict[str, Any]


def to_document(scenario: Scenario) -> Document:
    document: Document = scenario.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    document["start"] = iso_z(scenario.start)
    document.pop("server", None)  # explored and shrunk in simulation
    return document


def text_of(document: Document) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def load_document(document: Document, profile: str | None, source: str = "candidate") -> Loaded:
    return load_text(source, text_of(document), profile)


def copied(document: Document) -> Document:
    return copy.deepcopy(document)


def tidy(value: Any) -> Any:
    """The document without empty lists and mappings (what shrinking emptied), for reading."""
    if isinstance(value, dict):
        kept = {k: tidy(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in ([], {})}
    if isinstance(value, list):
        return [tidy(v) for v in value]
    return value
