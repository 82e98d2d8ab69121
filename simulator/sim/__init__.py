"""The simpy driver: plays a scenario in simulated time against the in-process reference server."""
