"""ZoneWarden: a DNS control plane whose writes are fenced by generation.

See docs/architecture.md in ../shared for the design; the layers are visible in the
package tree: core (pure), ports, stores/backends/health (adapters), runtime/sim
(drivers), cli/api (surfaces).
"""

__version__ = "0.1.0"
