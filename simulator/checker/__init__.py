"""The checker: pure functions from a history to findings and metrics.

It reads only the history: what devices observed (writes, frames, merges, queue changes) plus
final snapshots of every device and of the server. Server-internal rows, when present, add
evidence but are never required, so a history recorded against a live server is judged the
same way as a simulated one.
"""
