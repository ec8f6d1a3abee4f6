"""Deterministic simulation and exhaustive checking of the core (see issue 4)."""
