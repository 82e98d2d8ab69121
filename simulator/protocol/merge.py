"""Conflict rules: whether an incoming item replaces the local copy, and the repertoire bulk
merge of the seed's plan (normalize the score id, dedupe, keep the max of updatedAt and
version)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from simulator.protocol.entities import normalize_score_id, piece_key, stamp_text
from simulator.protocol.profile import LwwRule
from simulator.protocol.timefmt import parse_iso_z

SERVER_FIELDS = ("version", "seq")


def stamp(entity: Mapping[str, Any] | None) -> float:
    """An item's last-written time (`stamp_text`) in seconds, or -inf when it has none."""
    moment = parse_iso_z(stamp_text(entity))
    return float("-inf") if moment is None else moment


def decide(
    rule: LwwRule,
    local: Mapping[str, Any] | None,
    local_version: int | None,
    incoming: Mapping[str, Any],
    incoming_version: int | None,
) -> tuple[bool, str]:
    """(accept, why) for an incoming item against the local copy, under `rule`."""
    if local is None:
        return True, "new"
    if rule is LwwRule.VERSION_FIRST and local_version is not None and incoming_version is not None:
        if incoming_version > local_version:
            return True, "higher version"
        return False, "not a higher version"
    if stamp(incoming) > stamp(local):
        return True, "newer updatedAt"
    return False, "not newer by updatedAt"


def split_version(item: Mapping[str, Any]) -> tuple[dict[str, Any], int | None]:
    """The item's data without server bookkeeping, and its version if it carries one."""
    version = item.get("version")
    data = {k: v for k, v in item.items() if k not in SERVER_FIELDS}
    ok = isinstance(version, int) and not isinstance(version, bool)
    return data, version if ok else None


@dataclass(frozen=True)
class BulkPiece:
    score_id: str
    data: dict[str, Any]
    version: int | None
    merged_from: tuple[str, ...]
    raw: str = ""  # the id the winning row came under


def _rank(data: Mapping[str, Any], version: int | None) -> tuple[float, int]:
    return (stamp(data), -1 if version is None else version)


def bulk_merge_pieces(items: Iterable[Mapping[str, Any]]) -> list[BulkPiece]:
    """Normalize every score id, and keep one piece per id: the max of (updatedAt, version)."""
    best: dict[str, BulkPiece] = {}
    for item in items:
        data, version = split_version(item)
        raw = piece_key(data)
        if raw is None or not isinstance(data.get("title"), str):
            continue
        score_id = normalize_score_id(data["title"], data.get("composer"), raw)
        data = {
            **{k: v for k, v in data.items() if k != "score_id"},
            "id": score_id,
            "scoreId": score_id,
        }
        held = best.get(score_id)
        merged = (raw,) if held is None else (*held.merged_from, raw)
        if held is None or _rank(data, version) > _rank(held.data, held.version):
            best[score_id] = BulkPiece(score_id, data, version, merged, raw)
        else:
            best[score_id] = BulkPiece(score_id, held.data, held.version, merged, held.raw)
    # A version numbers the row it came from: under another id it would outrank later real
    # versions of the normalized row, so it is kept only where the ids agree.
    return [
        p if p.raw == p.score_id else BulkPiece(p.score_id, p.data, None, p.merged_from, p.raw)
        for p in best.values()
    ]
