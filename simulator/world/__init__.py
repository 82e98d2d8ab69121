"""The physical world both drivers model the same way: device clocks and network links.

Pure and deterministic given their seeded rng; the simulation reads them in simulated seconds,
the live driver in scenario seconds mapped from wall time.
"""
