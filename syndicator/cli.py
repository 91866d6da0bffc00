"""The command line: parses arguments, calls the library, turns outcomes into exit codes.

Each command imports the library modules it uses when it runs, so a ``build`` with nothing
to do does not pay for loading the HTTP server, the scheduler or the HTTP client.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import click

from syndicator import __version__
from syndicator.core.config import Config, ConfigError, config_path_from, load_config
from syndicator.core.logs import configure_logging, log_event
from syndicator.state.db import State, StateError
from syndicator.state.lock import LockTimeoutError, write_lock

if TYPE_CHECKING:
    from syndicator.feeds.build import BuildReport
    from syndicator.upstreams.status import UpstreamStatus

# The exit codes (README, "Exit codes"): all well; done, with problems; nothing done.
EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2

log = logging.getLogger("syndicator")


class Context:
    def __init__(self, config_option: str | None, log_format: str = "text") -> None:
        self.config_path = config_path_from(config_option)
        self.log_format = log_format
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = load_config(self.config_path)
            except ConfigError as error:
                fail(str(error))
        return self._config

    def preflight(self, posts: bool = True, feeds: bool = True) -> None:
        """Exit 2 with one line per problem when what the config names cannot be used: the
        state (always), the post folders and the feed folder (when the command uses them)."""
        from syndicator.core import preflight

        config = self.config
        problems = preflight.state_problems(config)
        if posts:
            problems += preflight.post_folder_problems(config)
        if feeds:
            problems += preflight.feeds_dir_problems(config)
        if problems:
            for problem in problems[:-1]:
                say(f"syndicator: {problem}", "nothing_done", logging.ERROR, err=True)
            fail(problems[-1])

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """The write lock, or exit 2 naming the process that holds it too long (or why the
        lock file cannot be made)."""
        with contextlib.ExitStack() as held:
            try:
                held.enter_context(write_lock(self.config.state.path))
            except LockTimeoutError as error:
                fail(str(error))
            except OSError as error:
                fail(
                    f"{self.config.path}: state.path: cannot make the write lock beside "
                    f"{self.config.state.path}: {error.strerror or error}"
                )
            yield

    def open_state(self) -> State:
        try:
            return State.open(self.config.state.path)
        except StateError as error:
            fail(str(error))


@contextlib.contextmanager
def writes_reported() -> Iterator[None]:
    """A file or the state that cannot be written (a full disk, a read-only folder): one
    line naming it, exit 1. What was written before is intact and the rest is done by the
    next run."""
    try:
        yield
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        say(
            f"syndicator: cannot write {where}{error.strerror or error}; "
            "fix that and run the command again (nothing written so far is lost)",
            "write_error",
            logging.ERROR,
            err=True,
            path=error.filename,
        )
        sys.exit(EXIT_PROBLEMS)
    except sqlite3.Error as error:
        say(
            f"syndicator: cannot write the state database: {error}; fix that (free space? "
            "permissions?) and run the command again",
            "write_error",
            logging.ERROR,
            err=True,
        )
        sys.exit(EXIT_PROBLEMS)


def say(
    message: str, event: str, level: int = logging.INFO, err: bool = False, **fields: object
) -> None:
    """A line of the command's report: as it is on a terminal, or (``--log-format json``)
    the event ``event`` with ``fields``, through the log like everything else."""
    context = click.get_current_context(silent=True)
    obj = context.find_object(Context) if context is not None else None
    if obj is not None and obj.log_format == "json":
        log_event(log, level, event, message.removeprefix("syndicator: "), **fields)
    else:
        click.echo(message, err=err)


def fail(message: str) -> NoReturn:
    """One line, exit 2: nothing was done (usage, config, lock, port)."""
    say(f"syndicator: {message}", "nothing_done", logging.ERROR, err=True)
    sys.exit(EXIT_USAGE)


GLOBAL_OPTIONS = {"--config": True, "--log-format": True, "-v": False, "--verbose": False}


def hoist_global_options(args: list[str]) -> list[str]:
    """The global options moved before the command, wherever they were given
    (``syndicator check --config X`` is ``syndicator --config X check``). Arguments after
    ``--`` stay where they are."""
    start = _command_position(args)
    if start is None:
        return args
    before, after, moved = args[: start + 1], [], []
    rest = iter(args[start + 1 :])
    for arg in rest:
        if arg == "--":
            after += [arg, *rest]
            break
        name = arg.split("=", 1)[0]
        if name in GLOBAL_OPTIONS:
            moved.append(arg)
            if GLOBAL_OPTIONS[name] and "=" not in arg:
                value = next(rest, None)
                if value is None:
                    raise click.UsageError(f"Option '{name}' requires an argument.")
                moved.append(value)
        else:
            after.append(arg)
    # Just before the command, after any given before it: the last one given wins, as
    # click has it for an option given twice.
    return [*before[:-1], *moved, before[-1], *after] if moved else args


def _command_position(args: list[str]) -> int | None:
    """Where the command (known or not) is: the first argument that is neither an option
    nor a global option's value."""
    position = 0
    while position < len(args):
        arg = args[position]
        if not arg.startswith("-"):
            return position
        if arg == "--":
            return None
        takes_value = GLOBAL_OPTIONS.get(arg, False)
        position += 2 if takes_value else 1
    return None


def _json_requested(args: list[str]) -> bool:
    """Whether the command line asks for JSON logs, wherever the option is."""
    return "--log-format=json" in args or any(
        first == "--log-format" and second == "json" for first, second in itertools.pairwise(args)
    )


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _a_path(value: str | None) -> str | None:
    """An empty --config is a mistake (a variable not set?), not a wish for the default."""
    if value is not None and not value.strip():
        raise click.BadParameter("needs a path, not an empty string")
    return value


class _Commands(click.Group):
    def main(self, args: Sequence[str] | None = None, **extra: Any) -> Any:  # type: ignore[override]
        """In JSON mode, errors click meets before any command runs (a bad global option)
        and a crash are events too: every line a log collector reads is one JSON object."""
        arguments = list(sys.argv[1:] if args is None else args)
        if not _json_requested(arguments):
            return super().main(arguments, **extra)
        try:
            return super().main(arguments, standalone_mode=False, **extra)
        except click.exceptions.Exit as done:  # --help, --version
            sys.exit(done.exit_code)
        except click.ClickException as error:
            configure_logging("json", logging.INFO)
            log_event(log, logging.ERROR, "nothing_done", f"usage: {error.format_message()}")
            sys.exit(EXIT_USAGE)
        except click.Abort:
            sys.exit(EXIT_USAGE)
        except Exception:
            configure_logging("json", logging.INFO)
            log.critical(
                "syndicator stopped on an unexpected error (a bug: please report it)",
                exc_info=True,
                extra={"event": "crashed", "fields": {}},
            )
            sys.exit(1)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(args))

    def invoke(self, ctx: click.Context) -> object:
        """A usage error (an unknown command, a bad option of one) in JSON mode is an event
        like any other; exit 2 as click would."""
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            if ctx.params.get("log_format") != "json":
                raise
            configure_logging("json", logging.INFO)
            log_event(log, logging.ERROR, "nothing_done", f"usage: {error.format_message()}")
            sys.exit(EXIT_USAGE)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_option",
    metavar="PATH",
    callback=lambda _context, _option, value: _a_path(value),
    help="Config file [default: $SYNDICATOR_CONFIG, else config/syndicator.toml].",
)
@click.option("-v", "--verbose", is_flag=True, help="Log debugging detail.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    help="json: one JSON object per line, for log collectors.",
)
@click.version_option(__version__, prog_name="syndicator")
@click.pass_context
def main(ctx: click.Context, config_option: str | None, verbose: bool, log_format: str) -> None:
    """Feeds from Jekyll-style posts; posts from upstream feeds."""
    configure_logging(log_format, logging.DEBUG if verbose else logging.INFO)
    ctx.obj = Context(config_option, log_format)


@main.command()
@click.option("--full", is_flag=True, help="Ignore caches: read every post and render every feed.")
@click.option(
    "--allow-shrink",
    is_flag=True,
    help="Go ahead when most posts or feed files would go at once (refused otherwise).",
)
@click.pass_obj
def build(context: Context, full: bool, allow_shrink: bool) -> None:
    """Read every post and write every feed whose bytes change."""
    from syndicator import refresh
    from syndicator.feeds.build import BuildRefusedError

    config = context.config
    context.preflight()
    with writes_reported():
        state = context.open_state()
        try:
            report = refresh.build(
                config,
                state,
                context.writing,
                full=full,
                progress=terminal_progress(),
                allow_shrink=allow_shrink,
            )
        except BuildRefusedError as error:
            fail(f"build refused: {error}")
        finally:
            state.close()
    echo_build(report)
    sys.exit(EXIT_PROBLEMS if report.problems else EXIT_OK)


def terminal_progress() -> Callable[[int, int], None] | None:
    """Posts read so far, on one line of a terminal; nothing when stderr is a log."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        click.echo(f"\rreading posts: {done:,}/{total:,}", err=True, nl=done >= total)

    return show


def echo_build(report: BuildReport) -> None:
    for problem in report.problems:
        say(
            f"skipped {problem}",
            "post_skipped",
            logging.WARNING,
            err=True,
            path=str(problem.path),
            reason=problem.reason,
        )
    for notice in report.notices:
        say(f"note: {notice}", "note", err=True)
    say(
        f"{report.posts} posts, {report.feeds} feeds: {len(report.written)} files written, "
        f"{report.unchanged} unchanged, {len(report.removed)} removed"
        + (f", {report.scheduled} scheduled for later" if report.scheduled else "")
        + (f", {len(report.problems)} posts skipped" if report.problems else "")
        + (
            f", {len(report.taken)} feed files not updated (their names are held by files "
            "syndicator did not write)"
            if report.taken
            else ""
        ),
        "build",
        posts=report.posts,
        feeds=report.feeds,
        written=len(report.written),
        unchanged=report.unchanged,
        removed=len(report.removed),
        scheduled=report.scheduled,
        skipped=len(report.problems),
        taken=len(report.taken),
    )


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
@click.pass_obj
def check(context: Context, as_json: bool) -> None:
    """Validate the config and every post; list each problem with file and reason."""
    from syndicator.site.scan import scan_posts

    config = context.config
    context.preflight()
    scan = scan_posts(config)
    if as_json:
        problems = [{"path": str(p.path), "reason": p.reason} for p in scan.problems]
        left_out = [{"path": str(p.path), "reason": p.reason} for p in scan.left_out]
        report = {"config": str(config.path), "posts": len(scan.posts), "problems": problems}
        report |= {"left_out": left_out, "warnings": scan.warnings}
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for problem in scan.problems:
            say(
                str(problem),
                "post_problem",
                logging.WARNING,
                path=str(problem.path),
                reason=problem.reason,
            )
        for warning in scan.warnings:
            say(f"warning: {warning}", "post_warning", logging.WARNING)
        for notice in scan.notices:
            say(f"note: {notice}", "note")
        for left in scan.left_out:
            say(f"in no feed: {left}", "post_left_out", path=str(left.path), reason=left.reason)
        say(
            f"{config.path}: config OK; {len(scan.posts)} posts OK, {len(scan.problems)} with problems"
            + (f", {len(scan.left_out)} in no feed (listed above)" if scan.left_out else ""),
            "check",
            config=str(config.path),
            posts=len(scan.posts),
            problems=len(scan.problems),
            warnings=len(scan.warnings),
            left_out=len(scan.left_out),
        )
    sys.exit(EXIT_PROBLEMS if scan.problems else EXIT_OK)


@main.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--force", is_flag=True, help="Poll every upstream (or the named ones) now.")
@click.pass_obj
def poll(context: Context, names: tuple[str, ...], force: bool) -> None:
    """Poll the upstreams that are due once; write new posts; rebuild the feeds they touch."""
    from syndicator import refresh
    from syndicator.feeds.build import BuildRefusedError
    from syndicator.upstreams.poll import due_upstreams, make_fetcher

    config = context.config
    context.preflight()
    state = context.open_state()
    fetcher = make_fetcher(config)
    refused = None
    try:
        try:
            upstreams = due_upstreams(config, state, time.time(), names, force)
        except KeyError as error:
            fail(f"no upstream named {error} in {config.path}; `syndicator status` lists them")
        with writes_reported():
            report = refresh.poll(config, state, upstreams, fetcher, context.writing)
            try:
                build_report = refresh.build(config, state, context.writing)
            except BuildRefusedError as error:
                build_report, refused = None, error
    finally:
        fetcher.close()
        state.close()
    for outcome in report.outcomes:
        if outcome.error:
            say(
                f"{outcome.name}: {outcome.error}",
                "poll_failed" if outcome.result == "failed" else "poll_problem",
                logging.WARNING,
                err=True,
                upstream=outcome.name,
                result=outcome.result,
                error=outcome.error,
            )
    counts = {result: 0 for result in ("imported", "unchanged", "failed", "gone")}
    for outcome in report.outcomes:
        counts[outcome.result] += 1
    say(
        f"{len(report.outcomes)} upstreams polled: {counts['imported']} with new posts "
        f"({len(report.written)} posts), {counts['unchanged']} unchanged, "
        f"{counts['failed']} failed, {counts['gone']} gone",
        "poll",
        upstreams=len(report.outcomes),
        posts=len(report.written),
        imported=counts["imported"],
        unchanged=counts["unchanged"],
        failed=counts["failed"],
        gone=counts["gone"],
    )
    if build_report is not None:
        echo_build(build_report)
    if refused is not None:
        say(f"syndicator: feeds not rebuilt: {refused}", "build_refused", logging.ERROR, err=True)
    # Any upstream failed or gone, a post skipped, the build refused: done, with problems.
    skipped = build_report is not None and bool(build_report.problems)
    troubled = bool(counts["failed"] or counts["gone"] or refused) or skipped
    sys.exit(EXIT_PROBLEMS if troubled else EXIT_OK)


@main.command()
@click.option(
    "--json", "as_json", is_flag=True, help="Print a JSON array, one object per upstream."
)
@click.pass_obj
def status(context: Context, as_json: bool) -> None:
    """A row per upstream: last poll, result, next poll, consecutive errors, items imported."""
    from syndicator.upstreams.status import upstream_statuses

    config = context.config
    context.preflight(posts=False, feeds=False)
    state = context.open_state()
    try:
        statuses = upstream_statuses(config, state)
    finally:
        state.close()
    if as_json:
        click.echo(json.dumps([s.as_json() for s in statuses], ensure_ascii=False, indent=2))
    elif not statuses:
        click.echo(f"no upstreams in {config.path}; `syndicator add URL` makes an entry")
    else:
        echo_statuses(statuses)
    # For monitoring: an upstream whose last poll failed (backing off as it asked, too) or
    # that is gone is a problem.
    failing = any(s.consecutive_errors > 0 or s.state in ("error", "gone") for s in statuses)
    sys.exit(EXIT_PROBLEMS if failing else EXIT_OK)


def echo_statuses(statuses: list[UpstreamStatus]) -> None:
    for s in statuses:
        moved = f" -> {s.current_url}" if s.current_url else ""
        click.echo(f"{s.name}  {s.state}  {s.url}{moved}")
        click.echo(
            f"    last poll {s.last_poll or 'never'} (HTTP {s.last_status or '-'}), "
            f"next {_next_poll(s.state, s.next_poll)}, {s.consecutive_errors} errors in a row, "
            f"{s.imported} imported"
        )
        if s.last_error:
            click.echo(f"    last error: {s.last_error}")
        if s.last_warning:
            click.echo(f"    last warning: {s.last_warning}")
        if s.push != "none":
            click.echo(f"    WebSub push: {s.push}")


def _next_poll(state: str, next_poll: str | None) -> str:
    if state == "gone":
        return "never (gone)"
    return next_poll or "now"


@main.command()
@click.argument("url")
@click.pass_obj
def add(context: Context, url: str) -> None:
    """Find the feed of a site or feed URL and print its [[upstreams]] entry."""
    from syndicator.core.config import upstream_toml
    from syndicator.upstreams.discover import DiscoveryError, discover_feed, propose_upstream
    from syndicator.upstreams.poll import make_fetcher

    config = context.config
    if configured := _configured(config, url):
        fail_with_problems(f"{url} is already in {config.path}: the upstream {configured!r}")
    fetcher = make_fetcher(config)
    try:
        found = discover_feed(fetcher, url)
    except DiscoveryError as error:
        fail_with_problems(str(error))
    finally:
        fetcher.close()
    if configured := _configured(config, found.url):
        fail_with_problems(
            f"the feed of {url}, {found.url}, is already in {config.path}: "
            f"the upstream {configured!r}"
        )
    block = upstream_toml(propose_upstream(found, _known_categories(context)))
    if found.of_page:
        click.echo(block)
        return
    say(
        f"syndicator: {url} has no feed of its own (tried {', '.join(found.tried) or 'its links'}"
        f"); the site has one at {found.url}, below, if that is what you want",
        "problem",
        logging.WARNING,
        err=True,
    )
    click.echo(f"# the site's feed, not the feed of {url}\n{block}")
    sys.exit(EXIT_PROBLEMS)


def _configured(config: Config, url: str) -> str | None:
    """The name of the upstream configured with this URL, if any."""
    wanted = url.rstrip("/")
    return next((u.name for u in config.upstreams if u.url.rstrip("/") == wanted), None)


def _known_categories(context: Context) -> list[str]:
    """The site's categories: its posts' (from the state, when there is one) and its
    upstreams'."""
    from syndicator.site.index import PostIndex
    from syndicator.site.labels import CATEGORY

    config = context.config
    found = [u.category for u in config.upstreams]
    if config.state.path.is_file():
        with contextlib.closing(context.open_state()) as state:
            found += PostIndex(config, state).labels(CATEGORY)
    return found


def fail_with_problems(message: str) -> NoReturn:
    """One line, exit 1: the command ran and found a problem (not a usage error)."""
    say(f"syndicator: {message}", "problem", logging.ERROR, err=True)
    sys.exit(EXIT_PROBLEMS)


@main.command()
@click.argument("name")
@click.pass_obj
def preview(context: Context, name: str) -> None:
    """Fetch upstream NAME once and print each item as the post it would become; writes and
    records nothing."""
    from syndicator.upstreams.poll import make_fetcher
    from syndicator.upstreams.preview import preview_lines

    config = context.config
    upstream = next((u for u in config.upstreams if u.name == name), None)
    if upstream is None:
        fail(f"no upstream named {name!r} in {config.path}; `syndicator status` lists them")
    with make_fetcher(config) as fetcher:
        lines, readable = preview_lines(config, upstream, fetcher)
    for line in lines:
        click.echo(line)
    if not readable:
        exit_now(EXIT_PROBLEMS)


@main.command()
@click.pass_obj
def run(context: Context) -> None:
    """The daemon: scheduler and HTTP server until SIGTERM/SIGINT; SIGHUP reloads the config."""
    from syndicator.daemon import run_daemon
    from syndicator.web.server import listen

    config = context.config
    context.preflight()
    # The port first: in use, nothing is started (and no "daemon started" is logged).
    try:
        sock = listen(config.server.host, config.server.port)
    except OSError as error:
        fail(
            f"cannot listen on {_host_port(config.server.host, config.server.port)}: "
            f"{error.strerror or error} (is another syndicator running? change [server] port "
            f"in {config.path})"
        )
    run_daemon(config, context.config_path, sock)
    exit_now(EXIT_OK)


@main.command()
@click.pass_obj
def serve(context: Context) -> None:
    """The HTTP server alone, serving feeds.dir."""
    from syndicator.web.feedstore import FeedStore
    from syndicator.web.server import FeedApp, listen, make_server, run_server
    from syndicator.web.websub_hub import feed_links

    config = context.config
    folder = config.feeds.dir

    def health() -> str | None:
        # No scheduler here: all serve can vouch for is the folder it serves.
        return None if folder.is_dir() else f"the feed folder {folder} is missing"

    # The feeds' Link headers name their hubs here too; the hub itself runs only under `run`,
    # so a subscriber who comes here is told why it is not answered.
    not_here = "the built-in WebSub hub runs under `syndicator run`, not under `serve`"
    if config.websub.hub:
        say(
            f"warning: [websub] hub = true in {config.path}, but {not_here}: the feeds name "
            "it and POST /websub is answered 503",
            "hub_not_running",
            logging.WARNING,
            err=True,
        )
    app = FeedApp(
        FeedStore(folder),
        max_age=int(config.server.max_age),
        health=health,
        hub=(lambda body: (503, not_here)) if config.websub.hub else None,
        links=lambda path: feed_links(config, path),
    )
    try:
        sock = listen(config.server.host, config.server.port)
    except OSError as error:
        fail(
            f"cannot listen on {_host_port(config.server.host, config.server.port)}: "
            f"{error.strerror or error} (change [server] port in {config.path})"
        )
    run_server(make_server(app, config.server.host, config.server.port), sock=sock)
    exit_now(EXIT_OK)


def exit_now(code: int) -> NoReturn:
    """Exit without waiting for worker threads still blocked on the network: every write
    has finished by now, and a fetch's answer would be thrown away anyway."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
