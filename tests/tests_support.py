"""Scenario texts shared by tests (importable because pytest puts tests/ on sys.path)."""

SMALL_YAML = """\
name: small
seed: 3
duration: 2d
settle: 5m
devices:
  - name: phone
    link:
      latency: 80ms
      jitter: 40ms
    offline: [{from: 6h, to: 1d12h}]
    reloads: [1d]
    workload: {entries_per_day: 12, update_ratio: 0.3, delete_ratio: 0.1}
  - name: laptop
    clock: {offset: 25m}
    workload: {entries_per_day: 8, update_ratio: 0.3}
limits:
  max_frame_bytes: 1MiB
expect:
  payload: 0
"""


# Under legacy the phone's in-memory queue is lost when the page reloads offline: lost_write.
# The persisted outbox of proposed and seq keeps it.
TINY_FAIL = """\
name: tiny_fail
seed: 1
duration: 6h
settle: 2m
devices:
  - name: phone
    offline: [{from: 1h, to: 5h}]
    reloads: [3h]
    workload: {entries_per_day: 48, active_hours: [0, 24], pieces_per_day: 0}
  - name: laptop
    workload: {entries_per_day: 0, pieces_per_day: 0}
expect:
  lost_write: 0
"""

TINY_PASS = """\
name: tiny_pass
seed: 1
duration: 2h
settle: 1m
devices:
  - name: phone
    workload: {entries_per_day: 48, active_hours: [0, 24], pieces_per_day: 0}
expect:
  payload: 0
"""
