"""The embedded authoritative DNS server: ZoneWarden's own data plane.

Modules, in the order a query meets them:
- `transport`: UDP and TCP listeners (asyncio, uvloop when installed);
- `responder`: bytes in, bytes out, fast path then careful path;
- `wire`: DNS wire constants and the bounds-checked query parser;
- `snapshot`: immutable prepared answers per store version, built incrementally;
- `policy`: weighted-one / weighted-multi selection with an injected rng;
- `watcher`: polls the ZoneStore and swaps snapshots; static stability when it fails;
- `server` / `launcher`: one process, or several sharing the port (SO_REUSEPORT);
- `zonefile`: the live state as an RFC 1035 master file.

The server reads only the ZoneStore Protocol (`changed_since`, `read_zone`), so it
serves from any store, and never imports the runtime or the simulator.
"""
