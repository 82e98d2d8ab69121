"""The sans-I/O sync protocol core.

Nothing here sleeps, reads a clock, draws its own random numbers or touches a socket: time
comes in as `now` (seconds since the Unix epoch) and randomness from an injected
`random.Random`. Both drivers (simpy and live) feed this core, so a bug found in simulation is
a bug of the live client too. Only the standard library may be imported here.
"""
