"""`series.queue_losses`: where an outbox plot marks a drop, from literal queue rows.

Each QUEUE row records the depth after the change, so the depth a drop happened at is the one
before its first row; a reload's losses at one instant are one mark with their count.
"""

from __future__ import annotations

from histories import meta, queue

from simulator.checker import series
from simulator.checker.view import View
from simulator.history import History


def test_losses_carry_the_depth_before_them_and_group_by_instant() -> None:
    rows = [
        meta(),  # 0
        queue(10, "phone", "enqueue", "phone#1", "e1", depth=1),  # 1
        queue(20, "phone", "enqueue", "phone#2", "e2", depth=2),  # 2
        queue(25, "phone", "drop", "phone#2", "e2", reason="superseded", depth=1),  # 3 not a loss
        queue(25, "phone", "enqueue", "phone#3", "e2", depth=2),  # 4
        queue(30, "phone", "enqueue", "phone#4", "e3", depth=3),  # 5
        queue(40, "phone", "lost", "phone#1", "e1", reason="reload", depth=0),  # 6
        queue(40, "phone", "lost", "phone#3", "e2", reason="reload", depth=0),  # 7
        queue(40, "phone", "lost", "phone#4", "e3", reason="reload", depth=0),  # 8
        queue(50, "phone", "enqueue", "phone#5", "e4", depth=1),  # 9
        queue(60, "phone", "enqueue", "phone#6", "e5", depth=2),  # 10
        queue(70, "phone", "drop", "phone#5", "e4", reason="expired", depth=1),  # 11
        queue(70, "phone", "send", "phone#6", "e5", depth=1),  # 12
        queue(70, "phone", "drop", "phone#6", "e5", reason="retries", depth=0),  # 13
    ]
    losses = series.queue_losses(View(History(rows)))
    assert losses == {
        "phone": [
            series.QueueLoss(40.0, 3, 3, ("reload",)),
            # Two drops at one instant with another change between them: two marks.
            series.QueueLoss(70.0, 2, 1, ("expired",)),
            series.QueueLoss(70.0, 1, 1, ("retries",)),
        ]
    }
