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
