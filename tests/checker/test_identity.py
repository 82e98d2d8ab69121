"""Identity by id and updatedAt: a server that stores a normalized copy holds the write."""

from __future__ import annotations

from histories import at, device_snapshot, found, holds, meta, run, sent, server_holds, write


def _rows(server_fp: str, server_stamp: str) -> list:  # type: ignore[type-arg]
    return [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1", fingerprint="fpA"),  # 2
        server_holds("e1", server_fp, server_stamp),  # 3
        device_snapshot("phone"),  # 4
        holds("phone", "e1", "fpA", at(10)),  # 5
        device_snapshot("laptop"),  # 6
        holds("laptop", "e1", server_fp, server_stamp),  # 7
    ]


def test_a_normalized_copy_with_the_writes_stamp_is_that_write() -> None:
    result = run(_rows("fpNormalized", at(10)))
    assert found(result) == {}
    assert result.metrics["server_rewrites"] == 1


def test_other_content_under_another_stamp_is_still_a_loss() -> None:
    result = run(_rows("fpOther", at(5)))
    assert found(result)["lost_write"] == 1 and result.metrics["server_rewrites"] == 0


def test_the_same_content_is_the_same_write_and_no_rewrite() -> None:
    result = run(_rows("fpA", at(10)))
    assert found(result) == {} and result.metrics["server_rewrites"] == 0
