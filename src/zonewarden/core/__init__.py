"""The pure core: no I/O, no clock reads, no global randomness.

Everything here takes `now` and an `rng` as arguments and returns data, so the asyncio
runtime, the simulator and the exhaustive checker drive the very same code.
"""
