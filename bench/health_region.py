"""A probing region on loopback for tests and benchmarks: real LB processes, and the
planner, an enactor and the embedded DNS server as `zonewarden` processes.

Every LB is its own `python -m zonewarden.health.lbserver` process on 127.0.<az>.<n>, so
killing one is a real crash (SIGKILL) and restarting it listens on the same port again.
With `addresses = 2` each LB has a second address, 127.0.<az + 10>.<n>, served by its own
process on the same port (`Region.second`), so one address can die while the other lives.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import dns.message
import dns.rdatatype

import dns.query

NAME = "kv.example."
PY = sys.executable


@dataclass
class Lb:
    id: str
    az: str
    host: str
    port: int = 0
    proc: subprocess.Popen[str] | None = None

    def start(self, log: Path) -> None:
        argv = [PY, "-m", "zonewarden.health.lbserver", "--listen", f"{self.host}:{self.port}"]
        with open(log, "a") as err:
            self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        self.proc.stdout.close()  # one line is all it says
        if not line:
            raise RuntimeError(f"LB {self.id} did not start: see {log}")
        self.port = int(json.loads(line)["listening"][0].rsplit(":", 1)[1])

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Region:
    root: Path
    planner_keys: dict[str, object] = field(default_factory=dict)
    health_keys: dict[str, object] = field(default_factory=dict)
    azs: int = 3
    per_az: int = 4
    enactors: tuple[str, ...] = ("az1",)
    lbs: list[Lb] = field(default_factory=list)
    addresses: int = 1  # per LB: 1, or 2 (the second in `second`, keyed by LB id)
    second: dict[str, Lb] = field(default_factory=dict)
    roles: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    dns_port: int = 0

    @property
    def config(self) -> Path:
        return self.root / "region.toml"

    def start(self) -> Region:
        self.root.mkdir(parents=True, exist_ok=True)
        for a in range(1, self.azs + 1):
            for i in range(1, self.per_az + 1):
                lb = Lb(f"lb-{a}{chr(96 + i)}", f"az{a}", f"127.0.{a}.{i}")
                lb.start(self.root / f"{lb.id}.log")
                self.lbs.append(lb)
                if self.addresses > 1:
                    other = Lb(lb.id, lb.az, f"127.0.{a + 10}.{i}", lb.port)
                    other.start(self.root / f"{lb.id}-2.log")
                    self.second[lb.id] = other
        self.dns_port = free_port()
        self.write_config()
        for role, argv in self.role_argv().items():
            if role != "planner":  # the planner creates the store; the others open it
                _wait_for(self.root / "region.db")
            with open(self.root / f"{role}.log", "ab") as log:
                self.roles[role] = subprocess.Popen(
                    [PY, "-m", "zonewarden", *argv, "--config", str(self.config)],
                    stdout=log,
                    stderr=log,
                    cwd=self.root,
                )
        return self

    def role_argv(self) -> dict[str, list[str]]:
        roles = {"planner": ["planner"]}
        for name in self.enactors:
            roles[f"enactor-{name}"] = ["enactor", "--id", name]
        roles["dns"] = ["serve-dns"]
        return roles

    def write_config(self) -> None:
        planner = {
            "interval": 0.1,
            "health": "probe",
            "budget_window": 3.0,
            "hold_down": 1.0,
            **self.planner_keys,
        }
        health = {
            "interval": 0.2,
            "timeout": 0.3,
            "rise": 2,
            "fall": 2,
            "jitter": 0.1,
            "max_age": 3.0,
            **self.health_keys,
        }
        out = [
            '[region]\nname = "test"\nzone = "example."',
            '[store]\nkind = "sqlite"\npath = "region.db"',
            "[planner]\n" + _keys(planner),
            "[health]\n" + _keys(health),
            f"[enactors]\nids = {json.dumps(list(self.enactors))}\npoll_interval = 0.05",
            f'[dns]\nlisten = ["127.0.0.1:{self.dns_port}"]\nmulti_answers = 16',
        ]
        for lb in self.lbs:
            hosts = [lb.host] + ([self.second[lb.id].host] if lb.id in self.second else [])
            out.append(
                f'[[lb]]\nid = "{lb.id}"\naz = "{lb.az}"\nipv4 = {json.dumps(hosts)}\n'
                f'capacity = 100\ncheck = "http://{lb.host}:{lb.port}/health"'
            )
        out.append(f'[[endpoint]]\nname = "{NAME}"\nlbs = "*"\nttl = 1')
        self.config.write_text("\n\n".join(out) + "\n")

    def answers(self) -> set[str] | None:
        """The addresses the DNS server answers for the endpoint (None: no answer yet)."""
        query = dns.message.make_query(NAME, dns.rdatatype.A)
        try:
            reply = dns.query.udp(query, "127.0.0.1", port=self.dns_port, timeout=0.5)
        except (TimeoutError, OSError, dns.exception.DNSException):
            return None
        found = {r.address for rrset in reply.answer for r in rrset}
        return found or None

    def wait_answers(self, check, timeout: float = 20.0) -> set[str]:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.answers()
            if last is not None and check(last):
                return last
            time.sleep(0.05)
        raise AssertionError(f"DNS answers never matched within {timeout} s; last {last}")

    def store(self):
        from zonewarden.stores.sqlite import SqliteStore

        return SqliteStore(self.root / "region.db", create=False)

    def az(self, name: str) -> list[Lb]:
        return [lb for lb in self.lbs if lb.az == name]

    def stop(self) -> None:
        for proc in self.roles.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.roles.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
        for lb in [*self.lbs, *self.second.values()]:
            lb.kill()


def _keys(values: dict[str, object]) -> str:
    out = []
    for key, value in values.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str):
            text = json.dumps(value)
        else:
            text = repr(value)
        out.append(f"{key} = {text}")
    return "\n".join(out)


def _wait_for(path: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() or path.stat().st_size == 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} never appeared")
        time.sleep(0.05)
    time.sleep(0.2)  # the schema is written in the creator's first transaction
