"""The daemon's work: polls on schedule, rebuilds when posts change, the operator's hook.

Threads: APScheduler runs the jobs in a pool; the file watcher runs in its own thread. Every
step that writes (applying a poll, building feeds) holds ``work_lock``, so writes never
interleave and shutdown can wait for the one in flight. Fetching holds no lock.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from syndicator.build import build_site
from syndicator.config import Config, ConfigError, UpstreamConfig, load_config
from syndicator.feedstore import FeedStore
from syndicator.fetch import Fetcher
from syndicator.lock import LockTimeoutError, write_lock
from syndicator.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from syndicator.metrics import Metrics
from syndicator.poll import (
    apply_fetched,
    current_row,
    fetch_upstream,
    make_fetcher,
    recover_pending,
)
from syndicator.server import FeedApp, make_server, run_server
from syndicator.state import State

log = logging.getLogger(__name__)

# Many new posts within this window give one rebuild.
REBUILD_DELAY = 0.2
POLL_WORKERS = 16
FIRST_POLL_JITTER = 2.0
REBUILD_JOB = "rebuild"
RESCAN_JOB = "rescan"

# Chosen on purpose (APScheduler's defaults skip a job that is one second late):
# - misfire_grace_time=None: a poll or rebuild that starts late still runs, however late;
# - coalesce=True: runs that piled up while the process was busy or asleep run once;
# - max_instances=1: never two polls of one upstream, or two rebuilds, at the same time.
JOB_DEFAULTS = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}


@dataclass
class _RebuildRequests:
    """Whether a rebuild is wanted, and whether a rebuild job will see that."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    pending: bool = False
    active: bool = False  # a rebuild job is scheduled or running and will see new requests

    def add(self) -> bool:
        """Ask for a rebuild; True when no rebuild job is active, so the caller must schedule one."""
        with self.lock:
            self.pending = True
            if self.active:
                return False
            self.active = True
            return True

    def take(self) -> bool:
        """True if a rebuild was asked for since the last take; False ends the job."""
        with self.lock:
            if not self.pending:
                self.active = False
                return False
            self.pending = False
            return True

    def failed(self) -> None:
        """The job died: the rebuild is still wanted, and the next request schedules a job."""
        with self.lock:
            self.pending = True
            self.active = False


class Daemon:
    def __init__(self, config: Config, metrics: Metrics | None = None) -> None:
        self.config = config
        self.metrics = metrics or Metrics()
        self.work_lock = threading.Lock()
        self.stopping = threading.Event()
        self.fetcher: Fetcher = make_fetcher(config)
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(POLL_WORKERS)},
            job_defaults=JOB_DEFAULTS,
            timezone=UTC,
        )
        self.requests = _RebuildRequests()
        self.observer: Observer | None = None
        self.hook_lock = threading.Lock()

    # Life cycle

    def start(self) -> None:
        with self.work_lock, self._writing(), self._state() as state:
            recover_pending(self.config, state)
        self.scheduler.start()
        self.request_rebuild()
        self._schedule_rescan()
        for upstream in self.config.upstreams:
            self._schedule_poll(upstream, first=True)
        self._watch_posts()
        log.info(
            "daemon started: %d upstreams, watching %s",
            len(self.config.upstreams),
            ", ".join(str(d) for d in self.config.posts.dirs),
        )

    @property
    def healthy(self) -> bool:
        return self.scheduler.running and not self.stopping.is_set()

    def stop(self) -> None:
        """No new work; wait for the write in flight; leave fetches to die with the process."""
        self.stopping.set()
        if self.observer is not None:
            self.observer.stop()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        with self.work_lock:
            log.info("daemon stopped; no write in flight")

    def reload(self, config_path: Path) -> bool:
        """Load the config again; a bad one is rejected and the running one kept."""
        try:
            new = load_config(config_path)
        except ConfigError as error:
            log.error("config not reloaded, the running one is kept: %s", error)
            return False
        with self.work_lock:
            old = {u.name: u for u in self.config.upstreams}
            self.config = new
            self.fetcher = make_fetcher(new)
        for name in old.keys() - {u.name for u in new.upstreams}:
            self._remove_job(f"poll:{name}")
        for upstream in new.upstreams:
            if old.get(upstream.name) != upstream:
                self._schedule_poll(upstream, first=True)
        self.request_rebuild()
        log.info("config reloaded from %s: %d upstreams", config_path, len(new.upstreams))
        return True

    # Polling

    def _schedule_poll(self, upstream: UpstreamConfig, first: bool, not_before: float = 0) -> None:
        with self._state() as state:
            row = current_row(state, upstream)
        now = time.time()
        if row.state == "gone":
            log.info("%s: gone (HTTP 410); not polled", upstream.name)
            self._remove_job(f"poll:{upstream.name}")
            return
        when = row.next_poll or now
        if first and when <= now:
            when = now + random.uniform(0, FIRST_POLL_JITTER)
        self.scheduler.add_job(
            self._poll_job,
            "date",
            run_date=datetime.fromtimestamp(max(when, now, not_before), UTC),
            args=[upstream.name],
            id=f"poll:{upstream.name}",
            replace_existing=True,
        )

    def _poll_job(self, name: str) -> None:
        upstream = next((u for u in self.config.upstreams if u.name == name), None)
        if upstream is None or self.stopping.is_set():
            return
        retry_at = 0.0
        try:
            self._poll(upstream)
        except Exception:
            # A bug, a full disk, a lock held too long: logged, and this upstream is tried
            # again later rather than never.
            log.exception("%s: poll failed; trying again later", name)
            self.metrics.write_errors.inc()
            retry_at = time.time() + self.config.polling.min_interval
        finally:
            if not self.stopping.is_set():
                self._schedule_poll(upstream, first=False, not_before=retry_at)

    def _poll(self, upstream: UpstreamConfig) -> None:
        with self._state() as state:
            row = current_row(state, upstream)
        fetched = fetch_upstream(self.fetcher, row, self.config.site.timezone)
        with self.work_lock:
            if self.stopping.is_set():
                return
            with self._writing(), self._state() as state:
                outcome = apply_fetched(
                    self.config, state, upstream, current_row(state, upstream), fetched
                )
        self.metrics.record_poll(outcome, time.time())
        log.info(
            "%s: %s%s",
            upstream.name,
            outcome.result,
            f" ({len(outcome.written)} posts)" if outcome.written else "",
        )
        if outcome.written:
            self.request_rebuild()

    # Rebuilding

    def request_rebuild(self) -> None:
        """Bring the feeds up to date soon; requests close together make one build."""
        if self.requests.add() and not self.stopping.is_set():
            self.scheduler.add_job(
                self._rebuild_job,
                "date",
                run_date=datetime.fromtimestamp(time.time() + REBUILD_DELAY, UTC),
                id=REBUILD_JOB,
                replace_existing=True,
            )

    def _rebuild_job(self) -> None:
        try:
            while not self.stopping.is_set():
                if not self.requests.take():
                    return
                self._rebuild()
        except Exception:
            # A bug, SQLite's "disk full", an unreadable state: logged, and the next change,
            # poll or rescan schedules a new job (left active, no rebuild would ever run again).
            log.exception("feeds not rebuilt; trying again on the next change or rescan")
            self.metrics.write_errors.inc()
            self.requests.failed()

    def _rebuild(self) -> None:
        started = time.perf_counter()
        with self.work_lock:
            if self.stopping.is_set():
                return
            try:
                with self._writing(), self._state() as state:
                    report = build_site(self.config, state)
            except LockTimeoutError as error:
                log.error("feeds not rebuilt now: %s", error)
                self.request_rebuild()
                return
            except OSError as error:
                self.metrics.write_errors.inc()
                log.error("feeds not written (the old ones stay served): %s", error)
                return
        seconds = time.perf_counter() - started
        self.metrics.record_build(report, seconds)
        for problem in report.problems:
            log.warning("post skipped: %s", problem)
        if report.written or report.removed:
            log.info(
                "feeds rebuilt: %d files written, %d unchanged, %d removed in %.3f s",
                len(report.written),
                report.unchanged,
                len(report.removed),
                seconds,
            )
            self._run_hook()

    def _schedule_rescan(self) -> None:
        self.scheduler.add_job(
            self.request_rebuild,
            "interval",
            seconds=self.config.posts.rescan_interval,
            id=RESCAN_JOB,
            replace_existing=True,
        )

    def _watch_posts(self) -> None:
        handler = _PostEvents(self.config.posts.extensions, self.request_rebuild)
        observer = Observer()
        for folder in self.config.posts.dirs:
            folder.mkdir(parents=True, exist_ok=True)
            observer.schedule(handler, str(folder), recursive=True)
        observer.daemon = True
        observer.start()
        self.observer = observer

    # The operator's hook

    def _run_hook(self) -> None:
        command = self.config.hooks.after_change
        if not command or not self.hook_lock.acquire(blocking=False):
            return
        try:
            status, output = _run_command(
                command, self.config.path.parent, self.config.hooks.timeout
            )
        finally:
            self.hook_lock.release()
        output = output.strip()
        tail = f": {output[-2000:]}" if output else ""
        if status is None:
            log.error("hook %r timed out after %g s%s", command, self.config.hooks.timeout, tail)
            return
        level = logging.INFO if status == 0 else logging.ERROR
        log.log(level, "hook %r exited %d%s", command, status, tail)

    # Helpers

    def _state(self) -> State:
        return State.open(self.config.state.path)

    def _writing(self) -> contextlib.AbstractContextManager[None]:
        return write_lock(self.config.state.path)

    def _remove_job(self, job_id: str) -> None:
        if self.scheduler.get_job(job_id) is not None:
            self.scheduler.remove_job(job_id)


def _run_command(command: str, cwd: Path, timeout: float) -> tuple[int | None, str]:
    """(exit status, or None on timeout; output) of a shell command run in a process group of
    its own, so a timeout kills everything it started: nothing of it outlives its run."""
    with subprocess.Popen(
        command,
        shell=True,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",  # output is logged, whatever its encoding
        start_new_session=True,
    ) as process:
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            try:
                output, _ = process.communicate(timeout=5)
            except subprocess.TimeoutExpired:  # a grandchild left the group, holding the pipe
                output = ""
            return None, output
    return process.returncode, output


class _PostEvents(FileSystemEventHandler):
    """Any change to a post file (or a folder of them) asks for a rebuild."""

    def __init__(self, extensions: tuple[str, ...], on_change: Callable[[], None]) -> None:
        self.extensions = extensions
        self.on_change = on_change

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        if event.is_directory:
            # A folder of posts moved in, out or away; "modified" only echoes its files.
            if event.event_type in ("created", "deleted", "moved"):
                self.on_change()
            return
        paths = [event.src_path, getattr(event, "dest_path", "")]
        if any(self._is_post(str(p)) for p in paths if p):
            self.on_change()

    def _is_post(self, path: str) -> bool:
        name = Path(path).name
        return not name.startswith(".") and Path(name).suffix.lower() in self.extensions


def run_daemon(config: Config, config_path: Path) -> None:
    """Scheduler and HTTP server in this process until SIGTERM or SIGINT; SIGHUP reloads.

    On a stop signal the server stops taking requests, the write in flight finishes, and the
    process exits; fetches still waiting on the network are abandoned, not awaited.
    """
    daemon = Daemon(config)
    app = FeedApp(
        FeedStore(config.feeds.dir),
        max_age=int(config.server.max_age),
        healthy=lambda: daemon.healthy,
        metrics=lambda: (daemon.metrics.render(), METRICS_CONTENT_TYPE),
    )
    server = make_server(app, config.server.host, config.server.port)
    daemon.start()
    try:
        run_server(server, on_reload=lambda: daemon.reload(config_path))
    finally:
        daemon.stop()
