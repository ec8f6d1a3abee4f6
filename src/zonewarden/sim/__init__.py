"""Deterministic simulation and exhaustive checking of the core (see issue 4).

`world` runs the real enactor state machines, planner and repair under a virtual clock
with injected faults; `swarm` runs many seeds; `checker` explores every interleaving.
Nothing here reads the wall clock or the global random generator.
"""
