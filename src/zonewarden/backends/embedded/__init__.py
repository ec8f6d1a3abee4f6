"""The embedded authoritative DNS server: ZoneWarden's own data plane.

Modules, in the order a query meets them:
- `udp_batch` (recvmmsg/sendmmsg; its loop also compiled in `_fastudp.c` when built),
  `transport` (asyncio's UDP protocol, binding) and `tcp` (framing, deadlines, caps,
  eviction, pipelining): the listeners, on asyncio (uvloop when installed);
- `rrl`: response rate limiting of UDP answers (on by default);
- `responder`: bytes in, bytes out, fast path then careful path;
- `wire`: DNS wire constants and the bounds-checked query parser;
- `tsig`: signed queries verified (known keys) or refused with BADKEY;
- `snapshot`: immutable prepared answers per store version, built incrementally;
- `policy`: weighted-one / weighted-multi selection with an injected rng;
- `watcher`: polls the ZoneStore and swaps snapshots; static stability when it fails;
- `metrics`: counters of one process, exposed through prometheus_client;
- `server` / `launcher`: one process, or several sharing the port (SO_REUSEPORT);
- `zonefile`: the live state as an RFC 1035 master file.

The server reads only the ZoneStore Protocol (`changed_since`, `read_zone`), so it
serves from any store, and never imports the runtime or the simulator.
"""
