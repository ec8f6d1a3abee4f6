"""Mutation check of the safety tests: remove each safety comparison, one at a time, and
see a test fail.

    .venv/bin/python scripts/mutation_check.py [--only NAME] [--list] [--json]

Each mutation below deletes or neutralises one comparison of a safety rule (the fence,
the advance/behind split, each store's compare in its own transaction, clean-up's
reference check and what each store reads for it, the never-empty gate) in a scratch copy of src/ and tests/, then runs
the tests that protect the rule, stopping at the first failure. A mutation is caught
when those tests fail; one that survives is a rule no test protects. The exit status
is 0 only when every mutation is caught and the unmutated copy passes. Mutations of the
etcd store run the etcd tests, which start their own cluster (etcd must be installed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OFFLINE = ("tests/core", "tests/stores", "tests/sim", "-m", "not servers or long")  # long ones too
ETCD = ("tests/stores", "-k", "etcd")
BACKENDS = (
    "tests/backends/test_units.py",
    "tests/backends/test_contract.py",
    "-k",
    "memory or units",
)


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str  # under src/zonewarden
    before: str  # exact text, found exactly once
    after: str
    tests: tuple[str, ...] = OFFLINE


FENCE = "core/fence.py"
CLEANUP = "core/cleanup.py"
SQLITE = "stores/sqlite/zone.py"
ETCD_ZONE = "stores/etcd/zone.py"
MUTATIONS = (
    # -- the fence: core.fence.decide -----------------------------------------------------
    Mutation("fence: frozen refuses", FENCE, "    if frozen:\n        return Outcome.FROZEN\n", ""),
    Mutation(
        "fence: missing plan",
        FENCE,
        "    if digest is None:\n        return Outcome.MISSING_PLAN\n",
        "",
    ),
    Mutation(
        "fence: gate refuses", FENCE, "    if not valid:\n        return Outcome.REFUSED\n", ""
    ),
    Mutation(
        "fence: newer live generation fences out",
        FENCE,
        "    if live is not None and live.generation > generation:\n"
        "        return Outcome.FENCED_OUT\n",
        "",
    ),
    Mutation(
        "fence: current needs the same generation",
        FENCE,
        "live.generation == generation and live.digest == digest:",
        "live.digest == digest:",
    ),
    Mutation(
        "fence: current needs the same digest",
        FENCE,
        "live.generation == generation and live.digest == digest:",
        "live.generation == generation:",
    ),
    # -- the advance/behind split: core.fence.lag ------------------------------------------
    Mutation(
        "lag: live at or past g is done",
        FENCE,
        "    if live is not None and live.generation >= generation:\n",
        "    if live is not None and live.generation > generation:\n",
    ),
    Mutation(
        "lag: same generation, other content is behind",
        FENCE,
        "        if live.generation == generation and live.digest != digest:\n"
        "            return Lag.BEHIND  # same generation, other content: repair it\n",
        "",
    ),
    Mutation(
        "lag: unchanged needs the same digest",
        FENCE,
        "live is not None and live.digest == digest and live.has_records:",
        "live is not None and live.has_records:",
    ),
    Mutation(
        "lag: unchanged needs records",
        FENCE,
        "live is not None and live.digest == digest and live.has_records:",
        "live is not None and live.digest == digest:",
    ),
    # -- SQLite runs the split as SQL ------------------------------------------------------
    Mutation(
        "sqlite advance: same digest",
        SQLITE,
        '"WHERE zone.gen < :g AND zone.record_count > 0 AND zone.digest = "',
        '"WHERE zone.gen < :g AND zone.record_count > 0 AND EXISTS "',
    ),
    Mutation(
        "sqlite advance: older generation only",
        SQLITE,
        '"WHERE zone.gen < :g AND zone.record_count > 0 AND zone.digest = "',
        '"WHERE zone.record_count > 0 AND zone.digest = "',
    ),
    Mutation(
        "sqlite advance: records kept",
        SQLITE,
        '"WHERE zone.gen < :g AND zone.record_count > 0 AND zone.digest = "',
        '"WHERE zone.gen < :g AND zone.digest = "',
    ),
    Mutation(
        "sqlite behind: same generation, other content",
        SQLITE,
        '"OR (z.gen = :g AND z.digest != pe.digest)) ORDER BY pe.name",',
        '") ORDER BY pe.name",',
    ),
    Mutation(
        "sqlite: frozen store writes nothing",
        SQLITE,
        'if self._meta(db, "frozen") == "1":\n                self._audit(db, [(now, actor, "frozen"',
        'if False:\n                self._audit(db, [(now, actor, "frozen"',
    ),
    # -- etcd: the compares that make the decision hold at the commit ----------------------
    Mutation(
        "etcd blind write: every live generation < g",
        ETCD_ZONE,
        '        compares += [ec.compare_value(k.zone(n), "LESS", generation_prefix(g)) for n in names]\n',
        "",
        ETCD,
    ),
    Mutation(
        "etcd blind write: not frozen",
        ETCD_ZONE,
        'compares = [ec.compare_value(k.frozen, "EQUAL", b"0"), ec.compare_created(k.plan(g))]',
        "compares = [ec.compare_created(k.plan(g))]",
        ETCD,
    ),
    Mutation(
        "etcd write: live key unchanged since the decision read it",
        ETCD_ZONE,
        "            compares.append(ec.compare_mod(k.zone(name), self._mod(live_kv)))\n",
        "",
        ETCD,
    ),
    # -- etcd: content-addressed plans (a content goes only when no kept plan names it) ---
    Mutation(
        "etcd publish: a span start's Txn puts its content even when stored",
        "stores/etcd/publish.py",
        "                seen.add(d)\n                ops.append(ec.put(k.blob(d), encode_content(content)))\n",
        "                seen.add(d)\n"
        "                if not self._read([ec.get(k.blob(d), keys_only=True)])[1][0]:\n"
        "                    ops.append(ec.put(k.blob(d), encode_content(content)))\n",
        ETCD,
    ),
    Mutation(
        "etcd publish: the predecessor is still the newest header",
        "stores/etcd/publish.py",
        "compares = [ec.compare_mod(k.head, self._mod(head))]",
        "compares: list[Json] = []",
        ETCD,
    ),
    Mutation(
        "etcd clean-up: a content goes only with its last ref key",
        "stores/etcd/gc.py",
        "compares = [ec.compare_unchanged_since(k.refs(d), rev) for d, _ in batch]",
        "compares: list[Json] = []",
        ETCD,
    ),
    Mutation(
        "etcd clean-up: a span start its witness still names is alive",
        "stores/etcd/gc.py",
        "return witness is None or witness.get(name) == digest",
        "return witness is None",
        ETCD,
    ),
    # -- DNS backends: the marker decision ------------------------------------------------
    Mutation(
        "backend: current needs the served records",
        "backends/base.py",
        "if verdict is Outcome.CURRENT and live is not None and live.addresses == served(content):",
        "if verdict is Outcome.CURRENT:",
        BACKENDS,
    ),
    # -- clean-up's reference check: core.cleanup.deletable, and what each store gives it --
    Mutation(
        "clean-up: referenced plans are kept",
        CLEANUP,
        "        elif g in referenced:\n",
        "        elif False:\n",
    ),
    Mutation(
        "clean-up: the newest plan is kept",
        CLEANUP,
        "        if g == newest:\n            kept_newest.append(g)\n        elif",
        "        if False:\n            kept_newest.append(g)\n        elif",
    ),
    Mutation(
        "clean-up: memory reads the live references",
        "stores/memory.py",
        "        referenced = {e.generation for e in self.zone.values()}\n",
        "        referenced: set[Generation] = set()\n",
    ),
    Mutation(
        "clean-up: sqlite reads the live references",
        "stores/sqlite/store.py",
        '"SELECT DISTINCT gen FROM zone WHERE gen IN (SELECT value FROM json_each(?))",',
        '"SELECT DISTINCT gen FROM zone WHERE 0 AND gen IN (SELECT value FROM json_each(?))",',
    ),
    Mutation(
        "clean-up: etcd reads the live references",
        "stores/etcd/store.py",
        "            referenced = {e.generation for e, _ in self._zone_of(zone).values()}\n",
        "            referenced: set[Generation] = set()\n",
        ETCD,
    ),
    Mutation(
        "clean-up: candidates exclude live generations",
        CLEANUP,
        "protected = set(gens[-max(1, keep_newest) :]) | index.live",
        "protected = set(gens[-max(1, keep_newest) :])",
    ),
    Mutation(
        "clean-up: sqlite's index reads the live generations",
        "stores/sqlite/store.py",
        'db.execute("SELECT DISTINCT gen FROM zone"))',
        'db.execute("SELECT DISTINCT gen FROM zone WHERE 0"))',
    ),
    Mutation(
        "clean-up: sqlite dates content published again",
        "stores/sqlite/store.py",
        '"UPDATE contents SET last_gen = ? WHERE digest IN "',
        '"UPDATE contents SET last_gen = last_gen WHERE ? AND digest IN "',
    ),
    Mutation(
        "clean-up: sqlite checks content of plans deleted out of order in full",
        "stores/sqlite/base.py",
        '"AND (last_gen < :keep OR digest NOT IN',
        '"AND (1 OR digest NOT IN',
    ),
    # -- the never-empty gate ---------------------------------------------------------------
    Mutation(
        "gate: never empty",
        "core/gates.py",
        "    if not content.records:\n        return [Violation(",
        "    if False:\n        return [Violation(",
    ),
)


def _scratch() -> Path:
    work = Path(tempfile.mkdtemp(prefix="zw-mutation-"))
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for part in ("src", "tests"):
        shutil.copytree(ROOT / part, work / part, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", work / "pyproject.toml")
    return work


def _run_tests(work: Path, tests: tuple[str, ...], timeout: float) -> tuple[int, float]:
    env = dict(os.environ, PYTHONPATH=f"{work / 'src'}{os.pathsep}{work}")
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    start = time.monotonic()
    try:
        done = subprocess.run(
            command, cwd=work, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return -1, time.monotonic() - start
    return done.returncode, time.monotonic() - start


def check(mutation: Mutation, timeout: float) -> dict[str, object]:
    work = _scratch()
    try:
        target = work / "src" / "zonewarden" / mutation.path
        text = target.read_text()
        found = text.count(mutation.before)
        if found != 1:
            return {"mutation": mutation.name, "result": f"stale: text found {found} times"}
        target.write_text(text.replace(mutation.before, mutation.after))
        code, seconds = _run_tests(work, mutation.tests, timeout)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # pytest exits 1 when tests failed; 2-5 are usage/collection problems, not a catch
    result = {0: "SURVIVED", 1: "caught", -1: "timeout"}.get(code, f"error (pytest exit {code})")
    return {"mutation": mutation.name, "result": result, "seconds": round(seconds, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="run the mutations whose name contains this")
    parser.add_argument("--list", action="store_true", help="list the mutations and stop")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per test run")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.only or args.only in m.name]
    if args.list:
        for m in chosen:
            print(f"{m.name:55s} {m.path}")
        return 0
    work = _scratch()
    try:
        baseline, _ = _run_tests(work, OFFLINE, args.timeout)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if baseline != 0:
        print(f"the unmutated tests fail (pytest exit {baseline}): fix them first")
        return 1
    rows = []
    for m in chosen:
        row = check(m, args.timeout)
        rows.append(row)
        if not args.json:
            print(f"{row['result']:9s} {row.get('seconds', ''):>6}s  {m.name}", flush=True)
    survived = [r for r in rows if r["result"] != "caught"]
    if args.json:
        print(json.dumps({"mutations": rows, "not_caught": len(survived)}, indent=2))
    else:
        print(f"{len(rows) - len(survived)}/{len(rows)} mutations caught")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
