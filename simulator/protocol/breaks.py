"""Ways to break the reference server, one protocol rule at a time: for testing the tests.

A conformance probe (scenarios/conformance/) is only worth something if it fails against a
server that breaks its rule. `syncsim serve --break RULE` (and a simulation given `breaks`)
runs the reference Coordinator with one rule broken in the smallest way that breaks it; the
mutation test of the suite runs each probe against its broken server and requires a failure.
The names are the checker's server rules (checker/server_rules.py); a test keeps them equal.
"""

from __future__ import annotations

from enum import StrEnum


class Break(StrEnum):
    AUTH = "auth"  # a token whose subject is another user is let in
    WELCOME = "welcome"  # no WELCOME on open
    FRAME_SHAPE = "frame_shape"  # timestamps with +00:00 instead of Z
    PONG = "pong"  # PING goes unanswered
    ANSWERED = "answered"  # mutations are applied but not acknowledged
    BROADCAST = "broadcast"  # mutations reach no other connection
    REFUSED_UNCHANGED = "refused_unchanged"  # a refused mutation is broadcast all the same
    VALIDATION = "validation"  # a mutation that breaks the data rules is acknowledged
    SEQ_ORDER = "seq_order"  # the seqs told to clients count down
    VERSION_ORDER = "version_order"  # every version told is 1
    CATCH_UP = "catch_up"  # a lastSeq catch-up leaves out the first change after the cursor
    CATCH_UP_END = "catch_up_end"  # a catch-up ends with lastSeq 0
    CATCH_UP_FRAMES = "catch_up_frames"  # deleted rows go into the batch as live items
    IDEMPOTENT = "idempotent"  # a mutation sent again is applied again
    DURABLE = "durable"  # an update is acknowledged, then the item is put back as it was
    REST_PULL = "rest_pull"  # a REST pull leaves out the newest live row
    REST_PUSH = "rest_push"  # a REST push ignores its X-Idempotency-Key
    STORED_FORM = "stored_form"  # unknown fields are kept and sent back


def parse_breaks(names: object) -> frozenset[Break]:
    """Break names as given (a list of strings); ValueError naming the unknown one."""
    if not isinstance(names, list | tuple | set | frozenset):
        raise ValueError("breaks: expected a list of rule names")
    found = set()
    for name in names:
        try:
            found.add(Break(name))
        except ValueError:
            known = ", ".join(b.value for b in Break)
            raise ValueError(f"unknown rule to break {name!r}; known: {known}") from None
    return frozenset(found)
