"""Overload control shared by the runtime, the adapters and the simulator.

The same classes run in ZoneWarden's own processes and in `zonewarden sim cascade`:

| module | what it owns |
| --- | --- |
| `backoff` | capped exponential back-off with full jitter (the rule is `core.backoff`) |
| `retry_budget` | gRPC retry throttling, Finagle's retry budget, the AWS SDK retry quota |
| `throttle` | Google SRE client-side adaptive throttling |
| `queueing` | a work queue with admission by size, deadline dropping and LIFO under overload |
| `velocity` | how much capacity health-check fail-over may remove (the rule is `core.budget`) |
| `policy` | one retry decision: back-off, attempt limit and budget together |
| `metrics` | the counters every component keeps, and their one process-wide view |

Rules: nothing here reads a clock or global randomness (callers pass `now` and `rng`);
nothing sleeps; every refusal is counted with its cause. Layer: may import `core` and
`ports`, never an adapter or a driver.
"""
