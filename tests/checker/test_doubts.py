"""Doubts: the live evidence a verdict needs, found missing in literal histories."""

from __future__ import annotations

from histories import at, meta, run, sent, server_holds, write

from simulator.history import Kind, Record


def live_meta() -> Record:
    record = meta()
    return Record(t=0.0, kind=Kind.META, detail={**(record.detail or {}), "mode": "live"})


ALL_KINDS = ["logbook_entry", "repertoire_piece"]


def observer(rest: bool, catch_up: bool, kinds: list[str] = ALL_KINDS) -> Record:
    detail = {"rest": rest, "catch_up": catch_up, "catch_up_kinds": kinds}
    return Record(t=1000.0, kind=Kind.OBSERVER, user="alice", detail=detail)


WRITES = [
    write(10, "phone", "phone#1", "create", "e1", "fpA"),
    sent(10, "phone", "phone#1", "e1", fingerprint="fpA"),
]


def test_a_failed_observer_makes_the_run_inconclusive() -> None:
    result = run([live_meta(), *WRITES, observer(False, False), server_holds("e1", "fpA", at(10))])
    assert result.doubts == ("the observer could not read the server's final state for alice",)


def test_one_working_source_is_enough() -> None:
    result = run([live_meta(), *WRITES, observer(False, True), server_holds("e1", "fpA", at(10))])
    assert result.doubts == ()


def test_a_catch_up_without_pieces_does_not_stand_for_a_failed_rest_pull() -> None:
    # Legacy sends no repertoire batch: the pieces are only in the REST pull.
    rows = [live_meta(), *WRITES, observer(False, True, ["logbook_entry"])]
    result = run([*rows, server_holds("e1", "fpA", at(10))])
    assert result.doubts == ("the observer could not read the server's final state for alice",)


def test_an_endpoint_holding_nothing_of_what_it_was_sent_is_doubted() -> None:
    (doubt,) = run([live_meta(), *WRITES, observer(True, True)]).doubts
    assert doubt.startswith("the endpoint holds nothing, though 1 write frames were sent")


def test_a_run_that_never_went_quiet_is_doubted() -> None:
    quiet = Record(t=990.0, kind=Kind.QUIESCENCE, detail={"reached": False, "waited": 30.0})
    rows = [live_meta(), *WRITES, observer(True, True), server_holds("e1", "fpA", at(10)), quiet]
    assert run(rows).doubts == ("the run never went quiet before the snapshot (waited 30 s)",)


def test_a_simulated_run_is_never_doubted() -> None:
    assert run([meta(), *WRITES]).doubts == ()


def preload(reason: str | None) -> Record:
    detail = {"entries": 10, "pieces": 0, "over": 86400.0, "pushed": 0, "via": "rest_push"}
    return Record(t=0.0, kind=Kind.PRELOAD, user="alice", reason=reason, detail=detail)


def test_a_preload_the_endpoint_refused_is_doubted() -> None:
    rows = [live_meta(), preload("REST push refused: HTTP 400: changes[0]: id"), *WRITES]
    result = run([*rows, observer(True, True), server_holds("e1", "fpA", at(10))])
    (doubt,) = result.doubts
    assert doubt == "the endpoint did not take the preload for alice: " + rows[1].reason


def test_a_preload_the_endpoint_took_is_not_doubted() -> None:
    rows = [live_meta(), preload(None), *WRITES, observer(True, True)]
    assert run([*rows, server_holds("e1", "fpA", at(10))]).doubts == ()


def preflight_row(matches: bool, relied_on: bool) -> Record:
    capability = {
        "name": "the ack names the messageId",
        "flag": "acks",
        "expected": "yes",
        "observed": "yes" if matches else "no",
        "matches": matches,
        "relied_on": relied_on,
    }
    detail = {"capabilities": [capability]}
    return Record(t=0.0, kind=Kind.PREFLIGHT, user="syncsim-preflight-x", detail=detail)


def test_an_endpoint_lacking_what_the_client_relies_on_is_doubted() -> None:
    rows = [live_meta(), preflight_row(False, True), *WRITES, observer(True, True)]
    (doubt,) = run([*rows, server_holds("e1", "fpA", at(10))]).doubts
    assert doubt.startswith("the endpoint does not do what profile legacy relies on: the ack")
    assert "(flag acks: profile yes, endpoint no)" in doubt


def test_a_mismatch_the_client_does_not_rely_on_or_none_is_not_doubted() -> None:
    for row in (preflight_row(False, False), preflight_row(True, True)):
        rows = [live_meta(), row, *WRITES, observer(True, True)]
        assert run([*rows, server_holds("e1", "fpA", at(10))]).doubts == ()
