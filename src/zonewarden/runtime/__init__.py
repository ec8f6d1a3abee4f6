"""The asyncio runtime: real clock, real I/O, the same core state machines as the simulator."""
