"""Every `zonewarden ...` command line README.md shows runs, against a demo region.

The README is parsed, so a command added to it is covered without touching this file:
the command lines in its code blocks, the `zonewarden ...` spans in its prose, and the
synopses in its Commands table (`a\\|b` alternatives each run, `[optional]` parts are
included, placeholders such as GEN or FILE get values below). A command fails the
test when it exits non-zero (except the documented failures listed in EXPECTED) or
prints a traceback. Long-running roles run for a few seconds and are then stopped.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ports import free_port
from zonewarden.config import demo_toml
from zonewarden.errors import ZoneWardenError
from zonewarden.stores.sqlite import SqliteStore

pytestmark = pytest.mark.servers

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DAEMONS = {"up", "planner", "enactor", "reconciler", "serve-dns", "api", "probe"}
ENDPOINT = "kv.us-east-1.example."
# documented non-zero exits: (command prefix, exit status, what the output must say)
# (a prefix of the arguments, or all of them when the tuple ends with None)
EXPECTED = [
    (("sim", "incident", "--protocol", "legacy"), 1, "legacy"),  # shows the 2025 failure
    (("sim", "swarm", "--protocol", "legacy"), 1, "failed"),
    (("check", "--protocol", "legacy"), 1, "counterexample"),
    (("backend", "check"), 2, "nothing external to check"),  # the demo is embedded
    (("sim", "cascade"), 1, "recovered"),  # fifo-retry collapses: the point of the demo
    (("store", "recover", None), 2, "nothing to recover"),  # the demo's store is sound
    # this region has no [demo] lb_servers (tests/cli/test_up_live_health.py drives them)
    (("lb", "break"), 2, "not one of the demo's loopback load balancers"),
    (("lb", "mend"), 2, "not one of the demo's loopback load balancers"),
]


def expand(span: str) -> list[str]:
    """A synopsis -> concrete command texts (still with placeholders)."""
    option = r"--[\w-]+(?: [^\s\\-][^\s\\]*)?"  # `--az AZ\|--lb LB`: one option or the other
    option_alt = re.search(rf"({option})\\\|({option})", span)
    if option_alt:
        head, tail = span[: option_alt.start()], span[option_alt.end() :]
        return [
            *expand(head + option_alt.group(1) + tail),
            *expand(head + option_alt.group(2) + tail),
        ]
    value_alt = re.search(r"(--[\w-]+ )(\w[\w.-]*(?:\\\|\w[\w.-]*)+)", span)
    if value_alt:
        out = []
        for alt in value_alt.group(2).split("\\|"):
            out += expand(span[: value_alt.start(2)] + alt + span[value_alt.end(2) :])
        return out
    if "\\|" in span:
        head, *rest = span.split("\\|")
        group = head.split()[0]
        return [*expand(head), *(c for r in rest for c in expand(f"{group} {r.strip()}"))]
    # optional parts: the bare command, then each optional part alone (some exclude
    # each other, e.g. `up --scenario race` and `--config`)
    groups = re.findall(r"\[([^\]]*)\]", span)
    out = []
    for keep in [None, *range(len(groups))]:
        seen = iter(range(len(groups)))

        def one(m: re.Match[str], keep: int | None = keep, seen=seen) -> str:
            return m.group(1) if next(seen) == keep else ""

        out.append(" ".join(re.sub(r"\[([^\]]*)\]", one, span).split()))
    return out


def readme_commands() -> list[list[str]]:
    text = README.read_text()
    found: list[str] = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():  # join continued lines
            first = line.split(maxsplit=1)[0] if line.strip() else ""
            if not first.endswith("zonewarden"):
                continue  # dig, curl, TOML: not ours to run
            tokens = shlex.split(line, comments=True)
            found.append(shlex.join(tokens[1:]))
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    table = prose.split("## Commands", 1)[1].split("\n## ", 1)[0]
    for row in table.splitlines():
        if row.startswith("| `"):
            first = re.split(r"(?<!\\)\|", row)[1]
            for span in re.findall(r"`([^`]+)`", first):
                found += expand(span)
    for span in re.findall(r"`zonewarden ([^`]+)`", prose):
        found += expand(span)
    unique = list(dict.fromkeys(found))
    return [shlex.split(c) for c in unique if c]


class Region:
    """A demo region in a temporary directory, the way a README reader has one."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = root / ".zonewarden"
        self.state.mkdir(parents=True)
        self.port = free_port()
        self.probe_port = free_port()
        self.api = f"127.0.0.1:{free_port()}"
        text = demo_toml().replace("127.0.0.1:5353", f"127.0.0.1:{self.port}")
        text = text.replace("127.0.0.1:8053", self.api)
        (self.state / "demo.toml").write_text(text)
        self.env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
        self.env.pop("ZONEWARDEN_CONFIG", None)

    def argv(self, args: list[str]) -> list[str]:
        return [sys.executable, "-m", "zonewarden", *args]

    def popen(self, args: list[str]) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(args),
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    @contextlib.contextmanager
    def dns_server(self) -> Iterator[None]:
        """A DNS server of the demo region on a port of its own, for the commands that
        ask one (probe), while the README's `up` runs start and stop their own."""
        proc = self.popen(["serve-dns", "--listen", f"127.0.0.1:{self.probe_port}"])
        try:
            deadline = time.monotonic() + 20
            while not _answers(self.probe_port):
                assert proc.poll() is None, proc.communicate()[0]
                assert time.monotonic() < deadline, "serve-dns did not answer"
                time.sleep(0.1)
            yield
        finally:
            proc.terminate()
            proc.communicate(timeout=30)

    def newest(self) -> int:
        try:
            store = SqliteStore(self.state / "region.db", create=False)
        except ZoneWardenError:
            return 0
        try:
            return int(store.newest())
        finally:
            store.close()

    def run_until(self, generation: int, limit: float = 60.0) -> None:
        proc = self.popen(["up", "--quiet"])
        deadline = time.monotonic() + limit
        try:
            while self.newest() < generation:
                assert proc.poll() is None, proc.communicate()[0]
                assert time.monotonic() < deadline, "the demo region published too slowly"
                time.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0 and "Traceback" not in out, out


def _answers(port: int) -> bool:
    import dns.exception
    import dns.message

    import dns.query

    try:
        dns.query.udp(dns.message.make_query(ENDPOINT, "A"), "127.0.0.1", port=port, timeout=0.5)
    except (dns.exception.Timeout, OSError):
        return False
    return True


@contextlib.contextmanager
def webhook_receiver() -> Iterator[str]:
    """A loopback HTTP server that accepts the probe's alert POSTs."""

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/alerts"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def fill(args: list[str], region: Region, tmp: Path, webhook: str = "") -> list[str]:
    """Give every placeholder a value; unknown ones fail the test with what to do."""
    newest = region.newest()
    values = {
        "S": "3",
        "N": "2",
        "J": "2",
        "E": "2",
        "P": "1",
        "G": "3",
        "NAME": "az1",
        "EP": ENDPOINT,
        "GEN": str(newest),
        "A": str(newest - 1),
        "B": str(newest),
        "ADDR:PORT": f"127.0.0.1:{region.port}",
        "KEY=VALUE": "tcp_max_connections=2000",
        "LB": "lb-1a",
        "AZ": "use1-az1",
        "R": "testing the README",
    }
    by_context = {
        "--config": str(region.state / "demo.toml"),
        "--plot": str(tmp / "incident.png"),
        "--trace": str(tmp / "incident.trace"),
        "replay": str(tmp / "incident.trace"),
        "publish": str(tmp / "plan.json"),
        "backup": str(tmp / "backup.db"),
        "--from": str(tmp / "backup.db"),
        "--dns-listen": f"127.0.0.1:{region.port}",
        "--api-listen": region.api,
        "--server": f"127.0.0.1:{region.probe_port}",
        "--webhook": webhook,
    }
    if args[0] == "api":
        by_context["--listen"] = region.api
    port = region.probe_port if args[0] == "probe" else region.port
    args = [a.replace("127.0.0.1:5353", f"127.0.0.1:{port}") for a in args]
    while "..." in args:  # `[--server ...]`: more of the same; one is enough here
        i = args.index("...")
        del args[i - 1 : i + 1]
    out = []
    for i, token in enumerate(args):
        if re.fullmatch(r"[A-Z][A-Z0-9_:=]*", token) and args[i - 1] in by_context:
            out.append(by_context[args[i - 1]])
        elif token in ("F", "FILE"):
            before = args[i - 1]
            assert before in by_context, f"README placeholder {token} after {before!r}: add a value"
            out.append(by_context[before])
        elif re.fullmatch(r"[A-Z][A-Z0-9_:=]*", token):
            assert token in values, (
                f"README shows placeholder {token} in `zonewarden {shlex.join(args)}`: "
                "give it a value in tests/test_readme_commands.py"
            )
            out.append(values[token])
        else:
            out.append(token)
    return out


def expected_exit(args: list[str]) -> tuple[int, str]:
    for prefix, code, says in EXPECTED:
        exact = prefix[-1] is None
        want = prefix[:-1] if exact else prefix
        if (tuple(args) == want) if exact else (tuple(args[: len(want)]) == want):
            return code, says
    return 0, ""


def run_one(region: Region, args: list[str]) -> None:
    shown = "zonewarden " + shlex.join(args)
    if args[0] in DAEMONS:
        if args[0] == "up" and "--duration" not in args:
            args = [*args, "--duration", "2"]
        if args[0] == "up":
            args = [*args, "--quiet"]
        proc = region.popen(args)
        try:
            out, _ = proc.communicate(timeout=2 if args[0] != "up" else 60)
        except subprocess.TimeoutExpired:  # a role runs until stopped: it ran
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=30)
            assert proc.returncode in (0, -signal.SIGTERM), f"{shown} on SIGTERM:\n{out}"
        else:
            assert proc.returncode == 0, f"{shown} exited {proc.returncode}:\n{out}"
    else:
        done = subprocess.run(
            region.argv(args),
            cwd=region.root,
            env=region.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        out = done.stdout + done.stderr
        code, says = expected_exit(args)
        assert done.returncode == code, f"{shown} exited {done.returncode} (want {code}):\n{out}"
        assert says in out, f"{shown}: expected {says!r} in:\n{out}"
    assert "Traceback" not in out, f"{shown} printed a traceback:\n{out}"


def test_the_readme_lists_commands():
    commands = [" ".join(c) for c in readme_commands()]
    for must in ("status", "plan diff 5 6", "sim swarm --seeds N --jobs J", "store check"):
        assert must in commands, commands
    assert "sim incident --protocol legacy --plot F" in commands
    assert "up --scenario race" in commands and "up --config F" in commands


def test_every_readme_command_runs(tmp_path):
    region = Region(tmp_path / "demo")
    region.run_until(6)  # the README's `plan diff 5 6` needs generations 5 and 6
    document = subprocess.run(
        region.argv(["plan", "show", "--json"]),
        cwd=region.root,
        env=region.env,
        capture_output=True,
        text=True,
        check=True,
    )
    (tmp_path / "plan.json").write_text(document.stdout)
    failures = []
    with webhook_receiver() as webhook, region.dns_server():
        for args in readme_commands():
            filled = fill(args, region, tmp_path, webhook)
            try:
                run_one(region, filled)
            except AssertionError as exc:
                failures.append(str(exc))
    assert not failures, "\n\n".join(failures)
