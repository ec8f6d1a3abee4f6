"""Operator commands: status, plans, freeze, pin, rollback, repair, audit."""

from __future__ import annotations

import getpass
import json
import time
import tomllib
from pathlib import Path

import click
from rich.table import Table

from zonewarden.cli.common import (
    COUNT,
    GENERATION,
    config_option,
    console,
    friendly_errors,
    json_option,
    print_json,
)
from zonewarden.cli.views import status_view
from zonewarden.config import Config, resolve
from zonewarden.core.diff import diff_plans, lb_deltas
from zonewarden.core.model import EndpointName, Generation, check_dns_name
from zonewarden.core.planfile import PlanFileError, from_document, to_document
from zonewarden.errors import ConfigError, NotFound, PermanentError
from zonewarden.ports import AuditEvent, RegionStore
from zonewarden.runtime import operations
from zonewarden.runtime.openers import open_store
from zonewarden.runtime.operations import pin as pin_endpoint
from zonewarden.runtime.operations import publish_operator_plan, repair_once
from zonewarden.runtime.status import region_status, stale_after
from zonewarden.runtime.why import causes


def _open(config_path: str | None) -> tuple[Config, RegionStore]:
    config = resolve(config_path)
    return config, open_store(config, create=False)


def _actor() -> str:
    try:
        return f"operator:{getpass.getuser()}"
    except Exception:
        return "operator"


def _endpoint(text: str) -> EndpointName:
    try:
        return check_dns_name(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@config_option
@json_option
@friendly_errors
def status(config_path: str | None, as_json: bool) -> None:
    """Per endpoint: applied generation, records, lag; per enactor: last heartbeat."""
    config = resolve(config_path)
    store = open_store(config, create=False)
    st = region_status(store, time.time(), stale_after(config))
    if as_json:
        print_json(st.as_json())
        return
    console.print(status_view(st))


@click.group()
def plan() -> None:
    """Show, compare and publish plans."""


@plan.command("list")
@config_option
@json_option
@click.option(
    "--limit", type=click.IntRange(1), default=50, show_default=True, help="Plans per page."
)
@click.option(
    "--before", type=click.IntRange(1), default=None, help="Page back: plans below this generation."
)
@friendly_errors
def plan_list(config_path: str | None, as_json: bool, limit: int, before: int | None) -> None:
    """Stored generations with their source and time: the newest `--limit` (below
    `--before`), oldest first."""
    _, store = _open(config_path)
    gens = [g for g in store.index().generations if before is None or g < before][-limit:]
    heads = [store.header(g) for g in gens]
    rows = [h for h in heads if h is not None]
    if as_json:
        print_json(
            [
                {
                    "generation": h.generation,
                    "digest": h.digest,
                    "endpoints": h.endpoint_count,
                    "source": h.source,
                    "created_at": h.created_at,
                }
                for h in rows
            ]
        )
        return
    t = Table("generation", "source", "endpoints", "created", "digest")
    for h in rows:
        t.add_row(
            str(h.generation),
            h.source,
            str(h.endpoint_count),
            time.strftime("%H:%M:%S", time.localtime(h.created_at)),
            h.digest[:12],
        )
    console.print(t)


@plan.command("show")
@click.argument("generation", type=GENERATION, required=False)
@config_option
@json_option
@friendly_errors
def plan_show(generation: int | None, config_path: str | None, as_json: bool) -> None:
    """Show a plan (default: the newest). --json prints a publishable document."""
    _, store = _open(config_path)
    g = Generation(generation if generation is not None else store.newest())
    found = store.plan(g)
    if found is None:
        raise NotFound(f"plan {g} is not in the store (stored: {list(store.index().generations)})")
    if as_json:
        print_json(to_document(found.endpoints, generation=g))
        return
    console.print(f"plan {g} from {found.source}, digest {found.digest[:16]}")
    t = Table("endpoint", "type", "address", "weight", "lb", "ttl")
    for name, c in found.endpoints.items():
        for r in c.records:
            t.add_row(name, str(r.rtype), r.address, str(r.weight), str(r.lb), str(c.ttl))
    console.print(t)


@plan.command("diff")
@click.argument("a", type=GENERATION)
@click.argument("b", type=GENERATION)
@config_option
@json_option
@friendly_errors
def plan_diff(a: int, b: int, config_path: str | None, as_json: bool) -> None:
    """What changes from plan A to plan B, per load balancer and per endpoint, and why."""
    _, store = _open(config_path)
    plans = []
    for g in (a, b):
        p = store.plan(Generation(g))
        if p is None:
            raise NotFound(
                f"plan {g} is not in the store (stored: {list(store.index().generations)})"
            )
        plans.append(p)
    changes = diff_plans(plans[0].endpoints, plans[1].endpoints)
    deltas = lb_deltas(plans[0].endpoints, plans[1].endpoints)
    why = causes(store, a, b)
    lbs_of: dict[str, list[str]] = {}
    for d in deltas:
        for name in d.endpoints:
            lbs_of.setdefault(name, []).append(d.lb)
    if as_json:
        rows: list[dict[str, object]] = []
        for c in changes:
            lbs = lbs_of.get(c.endpoint, [])
            reasons = [w for lb in lbs for w in why.for_lb(lb)] + why.others()
            rows.append({**c.as_json(), "lbs": lbs, "why": reasons})
        print_json(rows)
        return
    if not changes:
        console.print(f"plans {a} and {b} serve the same answers")
        return
    t = Table("load balancer", "weight", "endpoints", "why", title=f"plan {a} -> {b}, by LB")
    for d in deltas:
        t.add_row(
            d.lb,
            f"{d.before} -> {d.after}",
            str(len(d.endpoints)),
            "\n".join(why.for_lb(d.lb)) or "-",
        )
    console.print(t)
    for line in why.others():
        console.print(line)
    t = Table("endpoint", "change", "LBs", "detail", title=f"plan {a} -> {b}, by endpoint")
    for c in changes:
        t.add_row(c.endpoint, c.kind, ", ".join(lbs_of.get(c.endpoint, [])), c.detail)
    console.print(t)


@plan.command("publish")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--allow-large-change", is_flag=True, help="Skip the max-change gate (audited).")
@config_option
@friendly_errors
def plan_publish(file: str, allow_large_change: bool, config_path: str | None) -> None:
    """Publish an operator-made plan (JSON or TOML), through the planner's gates."""
    config, store = _open(config_path)
    raw = Path(file).read_bytes()
    try:
        doc = tomllib.loads(raw.decode()) if file.endswith(".toml") else json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot parse plan file: {exc}", file=file) from None
    try:
        draft = from_document(doc)
    except PlanFileError as exc:
        raise ConfigError(str(exc), file=file) from None
    published = publish_operator_plan(
        store, draft, config, actor=_actor(), now=time.time(), allow_large_change=allow_large_change
    )
    console.print(f"published generation {published.generation} ({len(draft.endpoints)} endpoints)")


@click.command()
@click.option("--reason", default="", help="Why (recorded in the audit log).")
@config_option
@friendly_errors
def freeze(reason: str, config_path: str | None) -> None:
    """Stop every write to DNS until `unfreeze`; the planner keeps planning."""
    _, store = _open(config_path)
    operations.freeze(store, actor=_actor(), now=time.time(), reason=reason)
    console.print("[bold red]frozen[/]: enactors will not write until `zonewarden unfreeze`")


@click.command()
@config_option
@friendly_errors
def unfreeze(config_path: str | None) -> None:
    """Allow writes again."""
    _, store = _open(config_path)
    operations.unfreeze(store, actor=_actor(), now=time.time())
    console.print("unfrozen: enactors resume with the newest plan")


@click.command()
@click.argument("endpoint")
@click.argument("generation", type=GENERATION)
@config_option
@friendly_errors
def pin(endpoint: str, generation: int, config_path: str | None) -> None:
    """Serve ENDPOINT with GENERATION's content until `unpin` (published as a new plan)."""
    config, store = _open(config_path)
    published = pin_endpoint(
        store, config, _endpoint(endpoint), Generation(generation), actor=_actor(), now=time.time()
    )
    console.print(
        f"pinned {endpoint} to the content of plan {generation}; published as generation {published.generation}"
    )


@click.command()
@click.argument("endpoint")
@config_option
@friendly_errors
def unpin(endpoint: str, config_path: str | None) -> None:
    """Give ENDPOINT back to the planner."""
    _, store = _open(config_path)
    name = _endpoint(endpoint)
    operations.unpin(store, name, actor=_actor(), now=time.time())
    console.print(f"unpinned {name}; the planner's next plan decides its content")


@click.command()
@click.argument("endpoint")
@click.argument("generation", type=GENERATION, required=False)
@config_option
@friendly_errors
def rollback(endpoint: str, generation: int | None, config_path: str | None) -> None:
    """Serve ENDPOINT with an earlier plan's content (default: the last different one).

    Generations never go backwards: the old content is published as a new generation
    and the endpoint is pinned; `unpin` returns it to the planner."""
    config, store = _open(config_path)
    name = _endpoint(endpoint)
    chosen = Generation(generation) if generation is not None else None
    g, published = operations.rollback(store, config, name, chosen, actor=_actor(), now=time.time())
    console.print(
        f"rolled {name} back to the content of plan {g}, published as generation {published.generation} (pinned)"
    )


@click.command()
@config_option
@json_option
@friendly_errors
def repair(config_path: str | None, as_json: bool) -> None:
    """Find inconsistent state (empty, dangling, mismatched, stuck endpoints) and fix it."""
    config, store = _open(config_path)
    report = repair_once(store, actor=_actor(), now=time.time(), max_lag=config.reconciler.max_lag)
    if as_json:
        print_json(
            {
                "problems": [str(p) for p in report.problems],
                "republished": report.republished,
                "outcomes": {k: str(v) for k, v in report.outcomes.items()},
            }
        )
        return
    if not report.problems:
        console.print("[green]nothing to repair[/]: every endpoint serves its applied plan")
        return
    for p in report.problems:
        console.print(f"[yellow]found[/] {p}")
    if report.republished:
        console.print(f"republished the newest valid plan as generation {report.republished}")
    for name, outcome in report.outcomes.items():
        console.print(f"{name}: {outcome}")


@click.command()
@config_option
@json_option
@click.option("--after", type=COUNT, default=0, help="Only events after this sequence number.")
@click.option("--limit", type=COUNT, default=200, show_default=True)
@click.option("--tail", type=COUNT, default=None, help="The newest N events (newest last).")
@click.option(
    "--since", default=None, help="Only events of the last 90s, 10m, 2h, 1d (or since a UNIX time)."
)
@click.option("--newest-first", is_flag=True, help="Newest event first.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events until Ctrl-C.")
@click.option(
    "--kind",
    multiple=True,
    help="Only these kinds (write, fenced, refused, cleanup, publish, ...).",
)
@friendly_errors
def audit(
    config_path: str | None,
    as_json: bool,
    after: int,
    limit: int,
    tail: int | None,
    since: str | None,
    newest_first: bool,
    follow: bool,
    kind: tuple[str, ...],
) -> None:
    """The append-only log of every write, fence, refusal, clean-up and operator action."""
    from zonewarden.api.history import audit_page

    if limit <= 0:
        raise PermanentError("--limit must be positive")
    _, store = _open(config_path)
    start = _since(since)
    newest = tail is not None or newest_first
    events = audit_page(
        store,
        limit=tail or limit,
        after=after,
        since=start,
        kinds=kind,
        newest_first=newest,
    )
    if newest and not newest_first:
        events = events[::-1]  # --tail reads like a log: newest last
    _print_events(events, as_json)
    last = max((e.seq for e in events), default=after)
    while follow:
        time.sleep(0.5)
        fresh = audit_page(
            store, limit=5000, after=last, since=start, kinds=kind, newest_first=False
        )
        if fresh:
            _print_events(fresh, as_json)
            last = fresh[-1].seq


def _since(text: str | None) -> float:
    if not text:
        return 0.0
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text[-1] in units:
            return time.time() - float(text[:-1]) * units[text[-1]]
        value = float(text)
    except ValueError:
        raise PermanentError(f"--since {text!r}: use 90s, 10m, 2h, 1d or a UNIX time") from None
    return value if value > 1e9 else time.time() - value


def _print_events(events: list[AuditEvent], as_json: bool) -> None:
    if as_json:
        print_json(
            [
                e.__dict__ if hasattr(e, "__dict__") else {f: getattr(e, f) for f in e.__slots__}
                for e in events
            ]
        )
        return
    t = Table("seq", "time", "actor", "kind", "endpoint", "gen", "detail")
    for e in events:
        t.add_row(
            str(e.seq),
            time.strftime("%H:%M:%S", time.localtime(e.at)),
            e.actor,
            e.kind,
            e.endpoint,
            str(e.generation or ""),
            e.detail,
        )
    console.print(t)


def register(cli: click.Group) -> None:
    for command in (status, plan, freeze, unfreeze, pin, unpin, rollback, repair, audit):
        cli.add_command(command)
