"""When the checker cannot know: reasons a run's verdict is inconclusive, not pass or fail.

A verdict is evidence. Against a live endpoint, syncsim sees the server only through its
observer and the frames it answers; when the observer could not read the final state, when the
endpoint stored nothing at all of what it was sent (it may not be the server it claims, or
drops everything), when it refused the preload the scenario starts from, when a server outage
could not be carried out, or when the run never went quiet before the snapshot, the findings
say more about the observation than about the system, so no count of them is judged.
"""

from __future__ import annotations

from typing import Any

from simulator.checker.preflight import blocking
from simulator.checker.view import View, tuples
from simulator.history import SERVER, Kind
from simulator.protocol.kinds import KINDS


def _rows(view: View, kind: Kind) -> list[Any]:
    return list(tuples(view.rows(kind)))


def _observer(view: View) -> list[str]:
    observed = _rows(view, Kind.OBSERVER)
    if not observed:
        return ["no observation of the live server's final state was recorded"]
    failed = sorted(str(r.user) for r in observed if not _observed_all(r.detail or {}))
    if not failed:
        return []
    return [f"the observer could not read the server's final state for {', '.join(failed)}"]


def _observed_all(detail: dict[str, Any]) -> bool:
    """The REST pull holds every kind; a catch-up only the kinds it carried batches of."""
    if detail.get("rest"):
        return True
    carried = set(detail.get("catch_up_kinds") or ())
    return bool(detail.get("catch_up")) and carried >= {k.name for k in KINDS}


def _stored_nothing(view: View) -> list[str]:
    sent = view.frames_sent
    writes = sent[(sent["device"] != SERVER) & sent["write_id"].notna()]
    if writes.empty or view.server:
        return []
    return [
        f"the endpoint holds nothing, though {len(writes)} write frames were sent to it: "
        "it stored nothing, or the observer saw none of it"
    ]


def _quiescence(view: View) -> list[str]:
    reasons = []
    for row in _rows(view, Kind.QUIESCENCE):
        detail = row.detail or {}
        if not detail.get("reached", True):
            waited = detail.get("waited")
            pending = detail.get("pending")
            reasons.append(
                "the run never went quiet before the snapshot"
                + (f" (waited {waited:g} s" if isinstance(waited, int | float) else " (")
                + (f", pending: {pending})" if pending else ")")
            )
    return reasons


def _preload(view: View) -> list[str]:
    """A live run's premise is its preload: a history it could not push is not the history the
    scenario describes."""
    return [
        f"the endpoint did not take the preload for {row.user}: {row.reason}"
        for row in _rows(view, Kind.PRELOAD)
        if isinstance(row.reason, str)
    ]


def _preflight(view: View) -> list[str]:
    profile = view.meta.get("profile", {}).get("name", "?")
    return [
        f"the endpoint does not do what profile {profile} relies on: {line}; "
        "what became of every write follows from that, not from the run"
        for line in blocking(_rows(view, Kind.PREFLIGHT))
    ]


def _outages(view: View) -> list[str]:
    """A server outage the user's commands could not carry out: the run is not the scenario."""
    return [
        f"a server outage could not be carried out: {row.reason}"
        for row in _rows(view, Kind.SERVER_OUTAGE)
        if isinstance(row.reason, str)
    ]


def doubts(view: View) -> tuple[str, ...]:
    """Why the verdict cannot be trusted; empty when it can. Only live runs have doubts: the
    simulated server is syncsim's own and its final state is read directly."""
    if view.meta.get("mode") != "live":
        return ()
    checks = (_preflight, _preload, _outages, _observer, _stored_nothing, _quiescence)
    return tuple(reason for check in checks for reason in check(view))
