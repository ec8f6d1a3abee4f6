"""`zonewarden api`: the admin API, dashboard, status page and /metrics under uvicorn."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import click

from zonewarden.cli.common import config_option, err_console, friendly_errors
from zonewarden.config import resolve
from zonewarden.config.checks import listen as check_listen
from zonewarden.errors import ConfigError
from zonewarden.runtime.openers import open_store


def split_listen(text: str) -> tuple[str, int]:
    try:
        (checked,) = check_listen([text])
    except ValueError as exc:
        raise ConfigError(f"--listen: {exc}") from None
    host, _, port = checked.rpartition(":")
    return host.strip("[]"), int(port)


@click.command()
@config_option
@click.option("--listen", "listen", default=None, help="ADDR:PORT (default: [api] listen).")
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Bearer token for mutating calls (default: [api] token_file).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log every request.")
@friendly_errors
def api(config_path: str | None, listen: str | None, token_file: str | None, verbose: bool) -> None:
    """Serve the dashboard (/), the status page (/status, /status.json, /feed.atom),
    the admin API (/api/v1, described at /openapi.json) and /metrics."""
    import uvicorn

    from zonewarden.api.app import ApiOptions, create_app

    config = resolve(config_path)
    settings = config.api
    if token_file is not None:
        settings = dataclasses.replace(settings, token_file=Path(token_file))
    host, port = split_listen(listen or settings.listen)
    if settings.token_file is None:
        err_console.print(
            "[yellow]no [api] token_file: the API is read-only (mutating calls get 401)[/]"
        )
    store = open_store(config, create=True)
    options = ApiOptions(
        token_file=settings.token_file,
        rate_per_second=settings.rate_per_second,
        rate_burst=settings.rate_burst,
        max_body=settings.max_body,
    )
    app, _ = create_app(config, store, options)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="info" if verbose else "warning",
            access_log=verbose,
            lifespan="on",
            server_header=False,
        )
    )
    try:
        server.run()
    finally:
        store.close()
    if not server.started:
        raise ConfigError(f"the API could not listen on {host}:{port} (in use?)")


def register(cli: click.Group) -> None:
    cli.add_command(api)
