"""Bad realism values are refused at load time, naming file, line and field."""

from __future__ import annotations

import pytest

from simulator.cli import main
from simulator.errors import ScenarioError
from simulator.scenario.loader import load_text

BASE = "duration: 1d\ndevices:\n  - name: phone\n    {line}\n  - name: laptop\n{extra}"


@pytest.mark.parametrize(
    ("line", "extra", "where", "message"),
    [
        ("link: {latency: -5ms}", "", (4, "devices[0].link.latency"), "must not be negative"),
        (
            "link: {latency: {dist: lognormal, median: 80ms, p99: 50ms}}",
            "",
            (4, "devices[0].link.latency"),
            "p99 must not be below the median",
        ),
        ("link: {loss: 1.5}", "", (4, "devices[0].link.loss"), "less than or equal to 1"),
        (
            "link: {up: {duplicate: -0.1}}",
            "",
            (4, "devices[0].link.up.duplicate"),
            "greater than or equal to 0",
        ),
        (
            "clock: {drift_ppm: 1}",
            "faults:\n  - kind: partition\n    devices: [phone, tablet]\n"
            "    from: 1h\n    to: 2h\n",
            (8, "faults[0].devices[1]"),
            "unknown device 'tablet'",
        ),
        (
            "clock: {drift_ppm: 1}",
            "faults:\n  - {kind: flap, devices: [phone], from: 1h, to: 2h, period: 1m, down: 2m}\n",
            (7, "faults[0]"),
            "need 0 < down < period",
        ),
        (
            "clock: {drift_ppm: 1}",
            "hot_items:\n  - {devices: [phone, ghost]}\n",
            (7, "hot_items[0].devices[1]"),
            "unknown device 'ghost'",
        ),
        ("joins: 2d", "", (4, "devices[0].joins"), "before the end"),
    ],
    ids=[
        "negative-latency",
        "p99-below-median",
        "loss-above-1",
        "negative-duplicate",
        "unknown-partition-device",
        "flap-down-too-long",
        "unknown-hot-device",
        "joins-after-end",
    ],
)
def test_bad_realism_values(line: str, extra: str, where: tuple[int, str], message: str) -> None:
    with pytest.raises(ScenarioError) as refused:
        load_text("bad.yaml", BASE.format(line=line, extra=extra))
    assert (refused.value.line, refused.value.field) == where
    assert message in refused.value.message
    assert str(refused.value).startswith(f"bad.yaml:{where[0]}: {where[1]}: ")


def test_live_scenarios_refuse_what_cannot_be_done_live(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    text = (
        'duration: 1d\nserver: {kind: live, url: "ws://127.0.0.1:1/sync/ws"}\n'
        "devices:\n  - name: phone\nfaults:\n  - {kind: server_outage, from: 1h, to: 2h}\n"
    )
    path = tmp_path / "live.yaml"
    path.write_text(text)
    assert main(["run", str(path)]) == 2
    assert (
        "faults[0].kind: a server outage on a live endpoint needs server.stop_cmd"
        in capsys.readouterr().err
    )
