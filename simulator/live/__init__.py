"""The asyncio driver: real WebSockets on real sockets, the same protocol core.

`serve` runs the reference Coordinator as a WebSocket server with REST beside it; `driver`
plays a scenario in wall time against any endpoint that speaks the protocol, through an
in-process fault proxy per device, and records the same history the simulation records.
"""
