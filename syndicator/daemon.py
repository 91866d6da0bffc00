"""The daemon's work: polls on schedule, rebuilds when posts change, the operator's hook.

Threads: APScheduler runs the jobs in a pool; the file watcher runs in its own thread. Every
step that writes (applying a poll, building feeds) holds ``work_lock``, so writes never
interleave and shutdown can wait for the one in flight. Fetching holds no lock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import random
import signal
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from syndicator import refresh
from syndicator.core import preflight
from syndicator.core.config import Config, ConfigError, UpstreamConfig, load_config
from syndicator.core.logs import log_event
from syndicator.core.memory import return_large_buffers
from syndicator.feeds.build import BuildRefusedError
from syndicator.push import MAINTAIN_EVERY, PushSubscriber
from syndicator.site.posts import PostError
from syndicator.state.db import State, UpstreamRow
from syndicator.state.lock import LockTimeoutError, write_lock
from syndicator.upstreams.fetch import Fetcher
from syndicator.upstreams.poll import current_row, make_fetcher
from syndicator.web.feedstore import FeedStore
from syndicator.web.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from syndicator.web.metrics import Metrics
from syndicator.web.server import FeedApp, make_server, run_server
from syndicator.web.status_data import gather_status
from syndicator.web.status_page import render_status
from syndicator.web.websub_hub import Hub, feed_links, feed_topics
from syndicator.web.websub_publisher import Announcer

log = logging.getLogger(__name__)

# Many new posts within this window give one rebuild (a write that holds the work lock
# longer, a poll writing its posts, is waited for anyway).
REBUILD_DELAY = 0.05
POLL_WORKERS = 16
FIRST_POLL_JITTER = 2.0
# How long after a stop signal the daemon waits for the write in flight before it exits
# anyway (every file is written atomically, so an abandoned write leaves the old file, never
# half of a new one): counted from the signal, so the server's own graceful stop (5 s at
# most) comes out of it, and SIGTERM is honoured within 10 s whatever the daemon is doing.
STOP_WAIT = 8.0
# How often a reload waiting for the write in flight looks whether the daemon is stopping.
RELOAD_WAIT_STEP = 0.2
# A rebuild running longer than this is stuck, not busy (a cold build of 50,000 posts takes
# about 10 s): /healthz says so.
REBUILD_STUCK_AFTER = 300.0
# How long a /status page made is served again before another is made.
STATUS_CACHE_SECONDS = 5.0
REBUILD_JOB = "rebuild"
RESCAN_JOB = "rescan"
HOOK_JOB = "hook"

# Chosen on purpose (APScheduler's defaults skip a job that is one second late):
# - misfire_grace_time=None: a poll or rebuild that starts late still runs, however late;
# - coalesce=True: runs that piled up while the process was busy or asleep run once;
# - max_instances=1: never two polls of one upstream, or two rebuilds, at the same time.
JOB_DEFAULTS = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}


@dataclass
class _Requests:
    """Work asked for and not yet done, for a job that takes it all at once: a rebuild (with
    the post files that changed, or None: look at every file) or a hook run."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    pending: bool = False
    paths: set[Path] | None = field(default_factory=set)
    active: bool = False  # a job is scheduled or running and will see new requests

    def add(self, paths: Collection[Path] | None = None) -> bool:
        """Ask for the work; True when no job is active, so the caller must schedule one."""
        with self.lock:
            self.pending = True
            if paths is None or self.paths is None:
                self.paths = None
            else:
                self.paths.update(paths)
            if self.active:
                return False
            self.active = True
            return True

    def take(self) -> tuple[bool, set[Path] | None]:
        """(whether work was asked for since the last take, its paths); False ends the job."""
        with self.lock:
            if not self.pending:
                self.active = False
                return False, set()
            paths, self.pending, self.paths = self.paths, False, set()
            return True, paths

    def failed(self) -> None:
        """The job died: the work is still wanted, and the next request schedules a job."""
        with self.lock:
            self.pending, self.paths, self.active = True, None, False


@dataclass
class _Health:
    """What /healthz reports beyond "running": the last rebuild's failure, and jobs that have
    run far past their time."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    build_problem: str | None = None
    running: dict[str, tuple[float, float]] = field(default_factory=dict)  # start, limit

    def started(self, job: str, limit: float) -> None:
        with self.lock:
            self.running[job] = (time.monotonic(), limit)

    def finished(self, job: str) -> None:
        with self.lock:
            self.running.pop(job, None)

    def build_failed(self, reason: str) -> bool:
        """Remember why; True when the reason is new (worth logging, not every minute)."""
        with self.lock:
            new = reason != self.build_problem
            self.build_problem = reason
            return new

    def build_succeeded(self) -> None:
        with self.lock:
            self.build_problem = None

    def problem(self) -> str | None:
        now = time.monotonic()
        with self.lock:
            if self.build_problem:
                return f"feeds not rebuilt: {self.build_problem}"
            for job, (started, limit) in sorted(self.running.items()):
                if now - started > limit:
                    return f"{job} has been running for {now - started:.0f} s"
        return None


class _SkippedPosts:
    """The posts each rebuild skips, so that each is logged once: again only when its file
    changes (or its reason does), not on every rebuild while it stays broken."""

    def __init__(self) -> None:
        self.seen: dict[Path, tuple[str, tuple[int, int] | None]] = {}

    def new(self, problems: list[PostError]) -> list[PostError]:
        now = {problem.path: (problem.reason, _signature(problem.path)) for problem in problems}
        fresh = [
            problem for problem in problems if self.seen.get(problem.path) != now[problem.path]
        ]
        # A rebuild that looked at some files only (a watcher's) does not report the others
        # (a name that is not UTF-8 is found by a whole walk, and named escaped, so never
        # found by its name: None both times): those seen before are kept while their file
        # is as it was. A post fixed and broken again has changed: new.
        kept = {
            path: seen
            for path, seen in self.seen.items()
            if path not in now and _signature(path) == seen[1]
        }
        self.seen = now | kept
        return fresh


def _signature(path: Path) -> tuple[int, int] | None:
    """What changes when the file does: its modification time and size."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


class _StoppingError(Exception):
    """The daemon began stopping before this write could start: it is not started."""


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
        self.requests = _Requests()
        self.hook_requests = _Requests()
        self.reload_lock = threading.Lock()
        self.observer: BaseObserver | None = None
        self.health = _Health()
        self.stop_asked: float | None = None  # time.monotonic() of the stop signal
        self.said: set[str] = set()  # the last build's notices, logged when they first came
        self.watched: dict[Path, tuple[int, int]] = {}  # folder -> (device, inode) watched
        self.watch_lock = threading.Lock()  # a reload and a rebuild may both re-arm the watch
        self.skipped = _SkippedPosts()
        self.status_lock = threading.Lock()
        self.status_cache: tuple[float, bytes] = (-STATUS_CACHE_SECONDS, b"")
        # WebSub: our own hub, the hubs told of changed feeds, our subscriptions at others.
        self.hub = Hub(config, self.metrics) if config.websub.hub else None
        self.announcer = Announcer(config, self.metrics) if config.websub.hubs else None
        self.push = (
            PushSubscriber(
                lambda: self.config,
                self.metrics,
                self._writing,
                self._run_soon,
                self.request_rebuild,
                lambda upstream: self._schedule_poll(upstream, first=False),
            )
            if config.websub.callback_base_url
            else None
        )

    # Life cycle

    def start(self) -> None:
        with self._state() as state:
            refresh.recover(self.config, state, self._writing)
        self.scheduler.start()
        for websub in (self.hub, self.announcer):
            if websub is not None:
                websub.start()
        self.request_rebuild()
        self._schedule_rescan()
        if self.push is not None:
            self.scheduler.add_job(self.push.maintain, kwargs={"renew_all": True})
            self.scheduler.add_job(
                self.push.maintain, "interval", seconds=MAINTAIN_EVERY, id="websub-push"
            )
        for upstream in self.config.upstreams:
            self._schedule_poll(upstream, first=True)
        self._watch_posts()
        folders = ", ".join(str(d) for d in self.config.posts.dirs)
        log_event(
            log,
            logging.INFO,
            "daemon_started",
            f"daemon started: {len(self.config.upstreams)} upstreams, watching {folders}",
            upstreams=len(self.config.upstreams),
            folders=[str(d) for d in self.config.posts.dirs],
            pid=os.getpid(),
        )

    def problem(self) -> str | None:
        """Why the daemon is not doing its work (for /healthz), or None when it is."""
        if self.stopping.is_set():
            return "stopping"
        if not self.scheduler.running:
            return "the scheduler is not running"
        return self.health.problem()

    def status_page(self) -> bytes:
        """/status: the upstreams, builds, unreadable posts and feeds, from the state. Made
        by one request at a time and kept for a few seconds: a flood of requests costs one
        page per STATUS_CACHE_SECONDS, not one each."""
        with self.status_lock:
            made, page = self.status_cache
            if time.monotonic() - made < STATUS_CACHE_SECONDS:
                return page
            with self._state() as state:
                page = render_status(gather_status(self.config, state, time.time()))
            self.status_cache = (time.monotonic(), page)
            return page

    def begin_stop(self) -> None:
        """A stop signal came: start no new work from now on, and start counting the time
        ``stop`` may wait."""
        if self.stop_asked is None:
            self.stop_asked = time.monotonic()
        self.stopping.set()

    def stop(self, wait: float = STOP_WAIT) -> None:
        """No new work; wait for the write in flight until ``wait`` seconds after the stop
        signal (or from now, with none); leave fetches to die with the process."""
        self.begin_stop()
        waited = time.monotonic() - (self.stop_asked or time.monotonic())
        wait = max(0.0, wait - waited)
        if self.observer is not None:
            self.observer.stop()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for websub in (self.hub, self.announcer):
            if websub is not None:
                websub.stop()
        if self.work_lock.acquire(timeout=wait):
            self.work_lock.release()
            log_event(log, logging.INFO, "daemon_stopped", "daemon stopped; no write in flight")
        else:
            log.warning(
                "daemon stopped with a write still running after %g s; it is abandoned "
                "(files are replaced atomically: the old ones stay whole)",
                wait,
            )

    def reload(self, config_path: Path) -> bool:
        """Load the config again; a bad one is rejected and the running one kept.

        Upstreams, post folders, rescan interval and everything a build uses take effect;
        the server's host, port and folder need a restart (said in the log).
        """
        with self.reload_lock:
            try:
                return self._reload(config_path)
            except Exception:
                log.exception("config not reloaded, the running one is kept")
                return False

    def _reload(self, config_path: Path) -> bool:
        try:
            loaded = load_config(config_path)
        except ConfigError as error:
            log.error("config not reloaded, the running one is kept: %s", error)
            return False
        problems = preflight.post_folder_problems(loaded) + preflight.feeds_dir_problems(loaded)
        if problems:
            log.error("config not reloaded, the running one is kept: %s", "; ".join(problems))
            return False
        while not self.work_lock.acquire(timeout=RELOAD_WAIT_STEP):
            if self.stopping.is_set():
                log.warning("config not reloaded: the daemon is stopping")
                return False
        try:
            old = self.config
            # The server is serving the old folder: building into a new one would leave
            # what it serves stale until the restart that applies both (and [websub] with
            # them: the hub and the announcer were made with the old one).
            new = dataclasses.replace(
                loaded,
                server=old.server,
                feeds=dataclasses.replace(loaded.feeds, dir=old.feeds.dir),
                websub=old.websub,  # the hub and the announcer run with the old one
            )
            self.config = new
            self.fetcher = make_fetcher(new)
        finally:
            self.work_lock.release()
        before = {u.key: u for u in old.upstreams}
        for key in before.keys() - {u.key for u in new.upstreams}:
            self._remove_job(f"poll:{key}")
        for upstream in new.upstreams:
            if before.get(upstream.key) != upstream:
                self._schedule_poll(upstream, first=True)
        if new.posts.dirs != old.posts.dirs:
            self._watch_posts()
        self._schedule_rescan()
        if (loaded.server, loaded.feeds.dir, loaded.websub) != (
            old.server,
            old.feeds.dir,
            old.websub,
        ):
            log.warning(
                "[server], feeds.dir and [websub] changes take effect when syndicator "
                "restarts; until then the feeds are built into and served from %s",
                old.feeds.dir,
            )
        self.request_rebuild()
        log.info("config reloaded from %s: %d upstreams", config_path, len(new.upstreams))
        return True

    # Polling

    def _schedule_poll(self, upstream: UpstreamConfig, first: bool, not_before: float = 0) -> None:
        now = time.time()
        try:
            with self._state() as state:
                row = current_row(state, upstream)
        except Exception:
            # The state cannot be read (a full disk, say): try this upstream again later
            # rather than never.
            log.exception(
                "%s: state unreadable; next poll in %g s",
                upstream.name,
                self.config.polling.min_interval,
            )
            row = UpstreamRow(
                upstream.key, upstream.url, next_poll=now + self.config.polling.min_interval
            )
        if row.state == "gone":
            log.info("%s: gone (HTTP 410); not polled", upstream.name)
            self._remove_job(f"poll:{upstream.key}")
            return
        when = row.next_poll or now
        if first and when <= now:
            when = now + random.uniform(0, FIRST_POLL_JITTER)
        when = max(when, now, not_before)
        self._record_schedule(upstream, when)
        self.scheduler.add_job(
            self._poll_job,
            "date",
            run_date=datetime.fromtimestamp(when, UTC),
            args=[upstream.key],
            id=f"poll:{upstream.key}",
            replace_existing=True,
        )

    def _record_schedule(self, upstream: UpstreamConfig, when: float) -> None:
        """Keep the time scheduled in the state, where ``status`` reads it."""
        try:
            with self._state() as state:
                state.set_next_poll(upstream.key, upstream.url, when)
        except Exception:
            # Shown a little off by ``status`` (a full disk, say); the poll runs all the same.
            log.exception("%s: the next poll's time not recorded", upstream.name)

    def _poll_job(self, key: str) -> None:
        upstream = next((u for u in self.config.upstreams if u.key == key), None)
        if upstream is None or self.stopping.is_set():
            return
        retry_at = 0.0
        try:
            self._poll(upstream)
        except _StoppingError:
            return
        except Exception:
            # A bug, a full disk, a lock held too long: logged, and this upstream is tried
            # again later rather than never.
            log.exception("%s: poll failed; trying again later", upstream.name)
            self.metrics.write_errors.inc()
            retry_at = time.time() + self.config.polling.min_interval
        finally:
            if not self.stopping.is_set():
                self._schedule_poll(upstream, first=False, not_before=retry_at)

    def _poll(self, upstream: UpstreamConfig) -> None:
        job = f"the poll of {upstream.name}"
        # Three fetch deadlines and a minute for the writes: beyond that it is stuck.
        self.health.started(job, 3 * self.config.polling.timeout + 60)
        started = time.perf_counter()
        try:
            with self._state() as state:
                outcome = refresh.poll_one(
                    self.config, state, upstream, self.fetcher, self._writing
                )
                row = state.upstream(upstream.key)
        finally:
            self.health.finished(job)
        self.metrics.record_poll(
            outcome.name, outcome.result, outcome.error_kind, len(outcome.written), time.time()
        )
        log_event(
            log,
            # INFO whatever the result: the poller has logged a failure's warning already.
            logging.INFO,
            "poll",
            f"{upstream.name}: {outcome.result}"
            + (f" ({len(outcome.written)} posts)" if outcome.written else ""),
            upstream=upstream.name,
            url=row.current_url or row.url if row else upstream.url,
            result=outcome.result,
            status=row.last_status if row else None,
            posts=len(outcome.written),
            duration=round(time.perf_counter() - started, 3),
            error=outcome.error,
        )
        if outcome.written:
            self.request_rebuild(outcome.written)
        if self.push is not None:
            try:
                self.push.found(upstream, outcome.hub)
            except Exception:
                # Polling goes on; the next poll tries to subscribe again.
                log.exception("%s: WebSub subscription not requested", upstream.name)

    def _run_soon(self, job: Callable[[], None]) -> None:
        self.scheduler.add_job(job)

    # Rebuilding

    def request_rebuild(self, paths: Collection[Path] | None = None) -> None:
        """Bring the feeds up to date soon, looking at these post files (None: at all of
        them); requests close together make one build."""
        if self.requests.add(paths) and not self.stopping.is_set():
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
                wanted, paths = self.requests.take()
                if not wanted:
                    return
                self._rebuild(paths)
        except Exception:
            # A bug, SQLite's "disk full", an unreadable state: logged, and the next change,
            # poll or rescan schedules a new job (left active, no rebuild would ever run again).
            log.exception("feeds not rebuilt; trying again on the next change or rescan")
            self.metrics.write_errors.inc()
            self.health.build_failed("an unexpected error (see the log)")
            self.requests.failed()

    def _rebuild(self, paths: set[Path] | None) -> None:
        started = time.perf_counter()
        self.health.started("the rebuild", REBUILD_STUCK_AFTER)
        try:
            with self._state() as state:
                report = refresh.build(self.config, state, self._writing, paths=paths)
        except _StoppingError:
            return
        except BuildRefusedError as error:
            # The operator decides (build --allow-shrink, or mount the folder); the next
            # rescan tries again, and /healthz says why meanwhile.
            if self.health.build_failed(str(error)):
                log.error("feeds not rebuilt (the old ones stay served): %s", error)
            return
        except LockTimeoutError as error:
            self.health.build_failed(str(error))
            log.error("feeds not rebuilt now: %s", error)
            self.request_rebuild(paths)
            return
        except OSError as error:
            # The state remembers which feeds are stale: the next rescan (or change)
            # finishes them. Asking again at once would spin while the disk is full.
            self.metrics.write_errors.inc()
            self.health.build_failed(f"cannot write: {error}")
            log.error("feeds not written (the old ones stay served): %s", error)
            return
        finally:
            self.health.finished("the rebuild")
        self.health.build_succeeded()
        seconds = time.perf_counter() - started
        self.metrics.record_build(len(report.problems), len(report.written), seconds)
        for problem in self.skipped.new(report.problems):
            log_event(
                log,
                logging.WARNING,
                "post_skipped",
                f"post skipped: {problem}",
                path=str(problem.path),
                reason=problem.reason,
            )
        for notice in report.notices:
            if notice not in self.said:
                log_event(log, logging.WARNING, "build_notice", notice)
        self.said = set(report.notices)
        self._watch_again_if_stale()
        if report.written or report.removed:
            log_event(
                log,
                logging.INFO,
                "build",
                f"feeds rebuilt: {len(report.written)} files written, {report.unchanged} "
                f"unchanged, {len(report.removed)} removed in {seconds:.3f} s",
                written=len(report.written),
                unchanged=report.unchanged,
                removed=len(report.removed),
                posts=report.posts,
                skipped=len(report.problems),
                duration=round(seconds, 3),
            )
            self._announce(report.written)
            self.request_hook()

    def _announce(self, written: list[str]) -> None:
        """Tell WebSub subscribers (through our hub, and the hubs named) of changed feeds."""
        topics = feed_topics(self.config, written)
        if not topics:
            return
        if self.announcer is not None:
            self.announcer.announce(topics)
        if self.hub is not None:
            try:
                self.hub.publish(topics)
            except Exception:
                # The feeds are written; subscribers get them at the next change.
                log.exception("websub: subscribers of %d changed feeds not notified", len(topics))

    def _schedule_rescan(self) -> None:
        self.scheduler.add_job(
            self.request_rebuild,
            "interval",
            seconds=self.config.posts.rescan_interval,
            id=RESCAN_JOB,
            replace_existing=True,
        )

    def _watch_again_if_stale(self) -> None:
        """Watch the post folders again when one has come back, or is another one now (made
        again, mounted over): a watch ends with the folder it was set on. A failure here
        (too many watches) is the watcher's, not the build's: the rescan still sees all."""
        with self.watch_lock:
            if self.observer is None:
                return  # not watching at all (the daemon's parts, run one at a time)
            ended = any(not emitter.is_alive() for emitter in list(self.observer.emitters))
            if not ended and self.watched == _folder_identities(self.config.posts.dirs):
                return
        try:
            self._watch_posts()
        except OSError as error:
            log.warning("post folders not watched again (the rescan still sees changes): %s", error)

    def _watch_posts(self) -> None:
        with self.watch_lock:
            if self.observer is not None:
                self.observer.stop()
            handler = _PostEvents(self.config.posts.extensions, self.request_rebuild)
            observer = Observer()
            # Checked at start and on reload; one that vanishes later is noticed by the rebuild,
            # which then refuses to drop its posts, and watched again once a build finds it back.
            self.watched = _folder_identities(self.config.posts.dirs)
            for folder in self.watched:
                observer.schedule(handler, str(folder), recursive=True)
            observer.daemon = True
            observer.start()
            self.observer = observer

    # The operator's hook: a job of its own, so a slow hook never holds up a rebuild

    def request_hook(self) -> None:
        if self.config.hooks.after_change and self.hook_requests.add():
            self.scheduler.add_job(self._hook_job, id=HOOK_JOB, replace_existing=True)

    def _hook_job(self) -> None:
        try:
            while not self.stopping.is_set() and self.hook_requests.take()[0]:
                self._run_hook()
        except Exception:
            log.exception("hook not run")
            self.hook_requests.failed()

    def _run_hook(self) -> None:
        command = self.config.hooks.after_change
        if not command:
            return
        status, output = _run_command(command, self.config.path.parent, self.config.hooks.timeout)
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

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """The work lock (writes in this process never interleave, and ``stop`` waits for
        the one in flight), then the write lock across processes."""
        with self.work_lock:
            if self.stopping.is_set():
                raise _StoppingError
            with write_lock(self.config.state.path):
                yield

    def _remove_job(self, job_id: str) -> None:
        if self.scheduler.get_job(job_id) is not None:
            self.scheduler.remove_job(job_id)


def _folder_identities(folders: Collection[Path]) -> dict[Path, tuple[int, int]]:
    """The post folders there are, each with what identifies it on disk: a watch follows
    the folder it was set on, so one deleted and made again, or mounted over, needs a new
    one."""
    found = {}
    for folder in folders:
        try:
            info = folder.stat()
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode):
            found[folder] = (info.st_dev, info.st_ino)
    return found


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
    """A changed post file asks for a rebuild that looks at it (and where it moved to); a
    folder created, deleted or moved asks for one that looks at every file."""

    def __init__(
        self, extensions: tuple[str, ...], on_change: Callable[[Collection[Path] | None], None]
    ) -> None:
        self.extensions = extensions
        self.on_change = on_change

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        if event.is_directory:
            # "modified" on a folder only echoes its files' events.
            if event.event_type in ("created", "deleted", "moved"):
                self.on_change(None)
            return
        paths = {Path(str(p)) for p in (event.src_path, getattr(event, "dest_path", "")) if p}
        if any(self._is_post(path) for path in paths):
            self.on_change(paths)

    def _is_post(self, path: Path) -> bool:
        return not path.name.startswith(".") and path.suffix.lower() in self.extensions


def run_daemon(config: Config, config_path: Path, sock: socket.socket) -> None:
    """Scheduler and HTTP server in this process until SIGTERM or SIGINT; SIGHUP reloads.

    On a stop signal the server stops taking requests, the write in flight finishes, and the
    process exits; fetches still waiting on the network are abandoned, not awaited. ``sock``
    is the server's listening socket, bound before anything starts.
    """
    return_large_buffers()
    daemon = Daemon(config)
    app = FeedApp(
        FeedStore(config.feeds.dir),
        max_age=int(config.server.max_age),
        health=daemon.problem,
        metrics=lambda: (daemon.metrics.render(), METRICS_CONTENT_TYPE),
        status=daemon.status_page,
        status_access=config.server.status,
        hub=daemon.hub.handle if daemon.hub is not None else None,
        links=lambda path: feed_links(daemon.config, path),
        callback=daemon.push.callback if daemon.push is not None else None,
        callback_known=daemon.push.knows if daemon.push is not None else None,
    )
    server = make_server(app, config.server.host, config.server.port)
    daemon.start()
    try:
        run_server(
            server,
            on_reload=lambda: daemon.reload(config_path),
            on_stop=daemon.begin_stop,
            sock=sock,
        )
    finally:
        daemon.stop()
        sock.close()
