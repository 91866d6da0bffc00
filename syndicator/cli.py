"""The command line: parses arguments, calls the library, turns outcomes into exit codes."""

from __future__ import annotations

import json
import logging
import sys
from typing import NoReturn

import click

from syndicator import __version__
from syndicator.build import build_site, scan_posts
from syndicator.config import Config, ConfigError, config_path_from, load_config
from syndicator.state import State, StateError

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class Context:
    def __init__(self, config_option: str | None) -> None:
        self.config_path = config_path_from(config_option)
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = load_config(self.config_path)
            except ConfigError as error:
                fail(str(error))
        return self._config

    def open_state(self) -> State:
        try:
            return State.open(self.config.state.path)
        except StateError as error:
            fail(str(error))


def fail(message: str) -> NoReturn:
    click.echo(f"syndicator: {message}", err=True)
    sys.exit(EXIT_USAGE)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_option",
    metavar="PATH",
    help="Config file [default: $SYNDICATOR_CONFIG, else config/syndicator.toml].",
)
@click.option("-v", "--verbose", is_flag=True, help="Log debugging detail.")
@click.version_option(__version__, prog_name="syndicator")
@click.pass_context
def main(ctx: click.Context, config_option: str | None, verbose: bool) -> None:
    """Feeds from Jekyll-style posts; posts from upstream feeds."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = Context(config_option)


@main.command()
@click.pass_obj
def build(context: Context) -> None:
    """Read every post and write every feed whose bytes change."""
    config = context.config
    state = context.open_state()
    try:
        report = build_site(config, state)
    finally:
        state.close()
    for problem in report.problems:
        click.echo(f"skipped {problem}", err=True)
    for notice in report.notices:
        click.echo(f"note: {notice}", err=True)
    click.echo(
        f"{report.posts} posts, {report.feeds} feeds: {len(report.written)} files written, "
        f"{report.unchanged} unchanged, {len(report.removed)} removed"
        + (f", {report.scheduled} scheduled for later" if report.scheduled else "")
        + (f", {len(report.problems)} posts skipped" if report.problems else "")
    )
    sys.exit(EXIT_PROBLEMS if report.problems else EXIT_OK)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
@click.pass_obj
def check(context: Context, as_json: bool) -> None:
    """Validate the config and every post; list each problem with file and reason."""
    config = context.config
    scan = scan_posts(config)
    if as_json:
        problems = [{"path": str(p.path), "reason": p.reason} for p in scan.problems]
        click.echo(
            json.dumps(
                {"config": str(config.path), "posts": len(scan.posts), "problems": problems},
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for problem in scan.problems:
            click.echo(str(problem))
        for notice in scan.notices:
            click.echo(f"note: {notice}")
        click.echo(
            f"{config.path}: config OK; {len(scan.posts)} posts OK, {len(scan.problems)} with problems"
        )
    sys.exit(EXIT_PROBLEMS if scan.problems else EXIT_OK)
