"""The recovery cascade: a seeded simulator of metastable failure after the DNS outage.

`service` (one retrying service: the published metastability models and the lease
manager), `network` (the propagation backlog), `health` (health checks under load and
AZ fail-over), `chain` (the October 2025 chain of all three), `scenarios` (named
runs), `experiments` (sweeps: hysteresis, phase diagram, corrective actions), `plot`.
The overload controls are `zonewarden.resilience`, the same classes the runtime uses.
"""
