"""The daemon's parts, one at a time (tests/test_daemon.py runs the whole of it): rebuild
coalescing, config reload, the operator's hook, the post-folder watcher."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from support.processes import wait_until
from support.site import SITE_TOML, make_post_folders, write_post
from support.upstreams import send
from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirModifiedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileClosedNoWriteEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
)

from syndicator.core.config import Config, load_config
from syndicator.daemon import REBUILD_DELAY, REBUILD_JOB, Daemon, _PostEvents, _Requests
from syndicator.state.db import State


@pytest.fixture
def daemons() -> Iterator[Callable[[Config], Daemon]]:
    """``make(config)``: a Daemon that is stopped (scheduler, watcher) after the test."""
    made: list[Daemon] = []

    def make(config: Config) -> Daemon:
        daemon = Daemon(config)
        made.append(daemon)
        return daemon

    yield make
    for daemon in made:
        daemon.stop()


# Rebuild requests.


def test_requests_before_the_job_runs_join_it() -> None:
    requests = _Requests()
    assert requests.add() is True  # the caller schedules the job
    assert [requests.add() for _ in range(99)] == [False] * 99  # they join it
    assert requests.take()[0] is True  # the job builds once for all hundred
    assert requests.take()[0] is False  # and ends
    assert requests.add() is True  # the next request schedules a new job


def test_a_request_during_a_running_rebuild_is_not_lost() -> None:
    requests = _Requests()
    assert requests.add() is True
    assert requests.take()[0] is True  # building...
    assert requests.add() is False  # ...a post arrives: the running job will see it
    assert requests.take()[0] is True  # so it builds again
    assert requests.take()[0] is False
    assert requests.take()[0] is False  # an ended job stays ended


def test_no_request_is_lost_under_contention() -> None:
    """Producers on many threads, a job started whenever ``add`` says so: every request is
    followed by a build that started after it, and never two jobs run at once."""
    requests = _Requests()
    clock = iter(range(10**9))
    clock_lock = threading.Lock()
    build_starts: list[int] = []
    asked: list[int] = []
    running = [0]
    overlaps = []
    jobs: list[threading.Thread] = []

    def tick() -> int:
        with clock_lock:
            return next(clock)

    def job() -> None:
        running[0] += 1
        if running[0] > 1:
            overlaps.append(running[0])
        try:
            while requests.take()[0]:
                build_starts.append(tick())
                time.sleep(0.001)
        finally:
            running[0] -= 1

    def producer() -> None:
        for _ in range(200):
            asked.append(tick())
            if requests.add():
                thread = threading.Thread(target=job)
                jobs.append(thread)
                thread.start()
            time.sleep(0.0001)

    producers = [threading.Thread(target=producer) for _ in range(8)]
    for thread in producers:
        thread.start()
    for thread in producers:
        thread.join()
    while any(thread.is_alive() for thread in jobs):
        for thread in list(jobs):
            thread.join()
    assert not overlaps
    assert max(build_starts) > max(asked)
    assert len(build_starts) < len(asked)  # coalesced


@pytest.fixture
def counting(site_config: Callable[..., Config], daemons: Callable) -> Iterator[tuple]:
    """A started scheduler whose rebuilds are counted (and can be held or made to fail)."""
    daemon = daemons(site_config())
    calls: list[float] = []
    hold = threading.Event()
    hold.set()
    behaviour: dict[str, object] = {"raise": None}

    def rebuild(paths: object = None) -> None:
        calls.append(time.monotonic())
        error = behaviour["raise"]
        behaviour["raise"] = None
        hold.wait(10)
        if error is not None:
            raise error

    daemon._rebuild = rebuild
    daemon.scheduler.start()
    yield daemon, calls, hold, behaviour


def test_many_requests_in_a_window_give_one_rebuild(counting: tuple) -> None:
    daemon, calls, _, _ = counting
    first = time.monotonic()
    for _ in range(100):
        daemon.request_rebuild()
    wait_until(lambda: len(calls) == 1, 5, "a rebuild")
    assert calls[0] - first >= REBUILD_DELAY * 0.9  # it waited for more to come
    time.sleep(REBUILD_DELAY * 3)
    assert len(calls) == 1


def test_requests_during_a_rebuild_give_exactly_one_more(counting: tuple) -> None:
    daemon, calls, hold, _ = counting
    hold.clear()
    daemon.request_rebuild()
    wait_until(lambda: len(calls) == 1, 5, "the first rebuild")
    for _ in range(20):
        daemon.request_rebuild()  # while it runs
    hold.set()
    wait_until(lambda: len(calls) == 2, 5, "the rebuild they asked for")
    time.sleep(REBUILD_DELAY * 3)
    assert len(calls) == 2


@pytest.mark.parametrize("error", [RuntimeError("a bug"), OSError("disk full")])
def test_a_rebuild_that_fails_does_not_stop_later_ones(
    counting: tuple, error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    daemon, calls, _, behaviour = counting
    behaviour["raise"] = error
    daemon.request_rebuild()
    wait_until(lambda: len(calls) == 1, 5, "the failing rebuild")
    time.sleep(REBUILD_DELAY)
    daemon.request_rebuild()
    wait_until(lambda: len(calls) == 2, 5, "a rebuild after the failure")


def test_a_failing_build_is_logged_and_later_changes_are_built(
    site_config: Callable[..., Config], daemons: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    """The real build, failing where the daemon does not expect it (the state file is
    a folder): logged, counted, and the next change is built once the fault is gone."""
    config = site_config()
    write_post(config.path.parent / "_posts", "2022-01-01-a.md")
    daemon = daemons(config)
    daemon.scheduler.start()
    config.state.path.mkdir(parents=True)
    daemon.request_rebuild()
    wait_until(lambda: not daemon.requests.active, 5, "the failed rebuild to end")
    assert not (config.feeds.dir / "rss.xml").exists()
    assert any(r.levelno >= logging.ERROR for r in caplog.records)
    config.state.path.rmdir()
    daemon.request_rebuild()
    wait_until(lambda: (config.feeds.dir / "rss.xml").exists(), 5, "feeds after the fault")


# Reloading the config.


def upstreams_toml(entries: dict[str, str]) -> str:
    return "".join(
        f'[[upstreams]]\nname = "{name}"\nurl = "http://127.0.0.1:9/{name}.xml"\n'
        f'category = "c{name}"\n{extra}\n'
        for name, extra in entries.items()
    )


@pytest.fixture
def reloadable(tmp_path: Path, daemons: Callable) -> tuple[Daemon, Path]:
    path = tmp_path / "syndicator.toml"
    path.write_text(
        SITE_TOML + upstreams_toml({"a": 'interval = "1h"', "b": "", "d": ""}), encoding="utf-8"
    )
    daemon = daemons(make_post_folders(load_config(path)))
    daemon.scheduler.start(paused=True)  # jobs are scheduled, never run
    for upstream in daemon.config.upstreams:
        daemon._schedule_poll(upstream, first=True)
    return daemon, path


def poll_jobs(daemon: Daemon) -> dict[str, datetime]:
    """``poll:NAME`` → next run of each upstream's poll job (jobs are known by the upstream's
    key, its URL here)."""
    names = {f"poll:{u.key}": f"poll:{u.name}" for u in daemon.config.upstreams}
    return {
        names.get(job.id, job.id): job.next_run_time
        for job in daemon.scheduler.get_jobs()
        if job.id.startswith("poll:")
    }


@pytest.mark.parametrize(
    "text",
    [
        SITE_TOML + "[site\n",  # invalid TOML
        SITE_TOML + "[polling]\nintervall = '1m'\n",  # a typo
        SITE_TOML.replace('url = "https://site.example"', 'url = "site.example"'),
        SITE_TOML + upstreams_toml({"a": 'interval = "soon"'}),
        "",  # no site.url
        None,  # no file at all
    ],
    ids=["toml", "unknown-key", "relative-url", "bad-duration", "empty", "missing"],
)
def test_a_broken_config_is_rejected_and_the_old_one_kept(
    reloadable: tuple[Daemon, Path], text: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    daemon, path = reloadable
    old, jobs = daemon.config, poll_jobs(daemon)
    if text is None:
        path.unlink()
    else:
        path.write_text(text, encoding="utf-8")
    assert daemon.reload(path) is False
    assert daemon.config is old
    assert poll_jobs(daemon) == jobs
    assert "config not reloaded" in caplog.text
    assert str(path) in caplog.text


def test_a_good_config_adds_removes_and_changes_poll_jobs(
    reloadable: tuple[Daemon, Path], caplog: pytest.LogCaptureFixture
) -> None:
    daemon, path = reloadable
    before = poll_jobs(daemon)
    assert set(before) == {"poll:a", "poll:b", "poll:d"}
    daemon.requests = _Requests()  # forget the start's rebuild
    path.write_text(
        SITE_TOML + upstreams_toml({"a": 'interval = "2h"', "c": "", "d": ""}), encoding="utf-8"
    )
    assert daemon.reload(path) is True
    after = poll_jobs(daemon)
    assert set(after) == {"poll:a", "poll:c", "poll:d"}
    assert after["poll:d"] == before["poll:d"]  # unchanged: left alone
    assert [u.name for u in daemon.config.upstreams] == ["a", "c", "d"]
    assert daemon.config.upstreams[0].interval == 7200
    assert daemon.requests.active  # a rebuild is on its way (categories may have changed)
    assert daemon.scheduler.get_job(REBUILD_JOB) is not None


# The operator's hook.


def hook_config(site_config: Callable[..., Config], command: str, timeout: str = "10s") -> Config:
    command = command.replace("\\", "\\\\").replace('"', '\\"')
    return site_config(f'\n[hooks]\nafter_change = "{command}"\ntimeout = "{timeout}"\n')


def hook_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith("hook ")]


def test_the_hook_runs_after_a_rebuild_that_wrote_files(
    site_config: Callable[..., Config], daemons: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    config = hook_config(site_config, "echo ran >> hook.log; echo to-stdout; echo to-stderr >&2")
    posts, ran = config.path.parent / "_posts", config.path.parent / "hook.log"
    write_post(posts, "2022-01-01-a.md")
    daemon = daemons(config)
    daemon.scheduler.start()

    def hook_ran(times: int) -> None:
        wait_until(lambda: ran.exists() and ran.read_text() == "ran\n" * times, 10, "the hook")
        wait_until(lambda: not daemon.hook_requests.active, 10, "the hook job to end")

    daemon._rebuild(None)
    hook_ran(1)
    [record] = hook_records(caplog)
    assert record.levelno == logging.INFO
    assert "exited 0" in record.getMessage()
    assert "to-stdout" in record.getMessage() and "to-stderr" in record.getMessage()

    daemon._rebuild(None)  # nothing changed, nothing written: no hook
    time.sleep(0.5)
    assert ran.read_text() == "ran\n"

    write_post(posts, "2022-01-02-b.md", 'title: "二"\ndate: 2022-01-02 10:00:00 +0800\n')
    daemon._rebuild(None)
    hook_ran(2)
    assert len(hook_records(caplog)) == 2


def test_a_failing_hook_is_logged_with_its_status_and_output(
    site_config: Callable[..., Config], daemons: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = daemons(hook_config(site_config, "echo 'fatal: no remote' >&2; exit 3"))
    daemon._run_hook()
    [record] = hook_records(caplog)
    assert record.levelno == logging.ERROR
    assert "exited 3" in record.getMessage() and "fatal: no remote" in record.getMessage()


def test_a_hook_printing_bytes_that_are_not_utf8_is_logged(
    site_config: Callable[..., Config], daemons: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    daemon = daemons(hook_config(site_config, r"printf 'caf\351 \377\n'"))
    daemon._run_hook()
    [record] = hook_records(caplog)
    assert "exited 0" in record.getMessage() and "caf" in record.getMessage()


def test_a_hook_that_times_out_is_killed_with_everything_it_started(
    site_config: Callable[..., Config], daemons: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    config = hook_config(
        site_config, "echo started; (sleep 1; echo late >> late.log); echo never", "0.3s"
    )
    daemon = daemons(config)
    started = time.monotonic()
    daemon._run_hook()
    assert time.monotonic() - started < 0.9
    [record] = hook_records(caplog)
    assert record.levelno == logging.ERROR and "timed out" in record.getMessage()
    time.sleep(1.3)
    assert not (config.path.parent / "late.log").exists(), "the hook's child outlived it"


def test_never_two_hooks_at_once(site_config: Callable[..., Config], daemons: Callable) -> None:
    config = hook_config(
        site_config,
        "mkdir running.d || echo overlap >> overlap.log; sleep 0.3; rmdir running.d; "
        "echo run >> runs.log",
    )
    daemon = daemons(config)
    daemon.scheduler.start()
    runs = config.path.parent / "runs.log"
    for _ in range(6):
        daemon.request_hook()
        time.sleep(0.05)
    wait_until(lambda: runs.exists() and not daemon.hook_requests.active, 10, "the hooks")
    daemon.request_hook()  # and one after the job ended: a new job runs it
    wait_until(lambda: runs.read_text().count("run") >= 3, 10, "a later hook")
    assert not (config.path.parent / "overlap.log").exists()
    # Six requests while a run is under way make one more run, not six.
    assert runs.read_text().count("run") <= 4


class GrowingUpstream(ThreadingHTTPServer):
    """An RSS feed that has one more item every time it is fetched."""

    def __init__(self) -> None:
        self.hits = 0
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                upstream.hits += 1
                now = datetime.now(UTC)
                items = "".join(
                    f"<item><title>条目{i}</title><link>http://up.example/{i}.html</link>"
                    f"<guid>http://up.example/{i}.html</guid>"
                    f"<pubDate>{format_datetime(now - timedelta(minutes=i))}</pubDate>"
                    f"<description>正文{i}</description></item>"
                    for i in range(upstream.hits)
                )
                body = (
                    '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
                    "<title>上游</title><link>http://up.example/</link>"
                    f"<description>d</description>{items}</channel></rss>"
                ).encode()
                send(self, body)

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.mark.parametrize(
    ("command", "timeout", "says"),
    [("echo broken >&2; exit 1", "10s", "exited 1"), ("sleep 5", "0.3s", "timed out")],
    ids=["failing", "timing-out"],
)
def test_a_bad_hook_never_stops_polling(
    site_config: Callable[..., Config],
    daemons: Callable,
    caplog: pytest.LogCaptureFixture,
    command: str,
    timeout: str,
    says: str,
) -> None:
    upstream = GrowingUpstream()
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    try:
        config = hook_config(site_config, command, timeout)
        url = f"http://127.0.0.1:{upstream.server_address[1]}/feed.xml"
        config_text = config.path.read_text(encoding="utf-8") + (
            '\n[polling]\ninterval = "1s"\nmin_interval = "1s"\ntimeout = "3s"\n'
            "allow_private_addresses = true\n\n"
            f'[[upstreams]]\nname = "上游"\nurl = "{url}"\ncategory = "up"\n'
        )
        config.path.write_text(config_text, encoding="utf-8")
        daemon = daemons(load_config(config.path))
        daemon.start()
        feed = daemon.config.feeds.dir / "categories" / "up" / "rss.xml"

        def items() -> int:
            return feed.read_text(encoding="utf-8").count("<item>") if feed.exists() else 0

        wait_until(lambda: upstream.hits >= 4 and items() >= 3, 15, "polls go on")
    finally:
        upstream.shutdown()
        upstream.server_close()
    failures = [r for r in hook_records(caplog) if says in r.getMessage()]
    assert len(failures) >= 2
    assert all(r.levelno == logging.ERROR for r in failures)


# The watcher.

EXTENSIONS = (".md", ".markdown", ".html")


@pytest.mark.parametrize(
    "event",
    [
        FileCreatedEvent("/s/_posts/2022-01-01-a.md"),
        FileModifiedEvent("/s/_posts/2022/a.markdown"),
        FileClosedEvent("/s/_posts/a.html"),
        FileDeletedEvent("/s/_posts/a.md"),
        FileMovedEvent("/s/_posts/.a.md.tmp", "/s/_posts/a.md"),  # an atomic write
        FileMovedEvent("/s/_posts/a.md", "/s/old_post/a.md"),
        FileMovedEvent("/s/_posts/a.md", "/s/_posts/a.md.bak"),  # a post gone
        FileCreatedEvent("/s/_posts/UPPER.MD"),
        DirCreatedEvent("/s/_posts/2023"),
        DirDeletedEvent("/s/_posts/2023"),
        DirMovedEvent("/s/_posts/2023", "/s/old_post/2023"),
    ],
    ids=repr,
)
def test_post_events_ask_for_a_rebuild(event: object) -> None:
    calls = []
    _PostEvents(EXTENSIONS, lambda paths: calls.append(1)).on_any_event(event)
    assert calls == [1]


@pytest.mark.parametrize(
    "event",
    [
        FileCreatedEvent("/s/_posts/.a.md.tmp"),
        FileModifiedEvent("/s/_posts/.a.md.swp"),
        FileCreatedEvent("/s/_posts/.hidden.md"),
        FileCreatedEvent("/s/_posts/notes.txt"),
        FileModifiedEvent("/s/_posts/a.md~"),
        FileCreatedEvent("/s/_posts/image.png"),
        FileMovedEvent("/s/_posts/.a.tmp", "/s/_posts/.b.tmp"),
        FileOpenedEvent("/s/_posts/a.md"),
        FileClosedNoWriteEvent("/s/_posts/a.md"),
        DirModifiedEvent("/s/_posts"),
    ],
    ids=repr,
)
def test_other_events_are_ignored(event: object) -> None:
    calls = []
    _PostEvents(EXTENSIONS, lambda paths: calls.append(1)).on_any_event(event)
    assert calls == []


def test_the_watcher_sees_real_file_operations(
    config_from: Callable[..., Config], daemons: Callable
) -> None:
    config = config_from(SITE_TOML.replace('dirs = ["_posts"]', 'dirs = ["_posts", "old_post"]'))
    posts, old = config.posts.dirs
    daemon = daemons(config)
    calls: list[float] = []
    daemon.request_rebuild = lambda paths=None: calls.append(time.monotonic())
    daemon._watch_posts()
    time.sleep(0.2)

    def after(action: Callable[[], object], what: str) -> None:
        count = len(calls)
        action()
        wait_until(lambda: len(calls) > count, 5, what)
        time.sleep(0.2)  # let the rest of this operation's events arrive

    post = posts / "2022-01-01-a.md"
    after(lambda: write_post(posts, post.name), "a new post")
    after(lambda: post.write_text(post.read_text() + "more\n"), "a changed post")
    after(lambda: post.rename(old / post.name), "a post moved to another folder")
    after(lambda: (old / post.name).unlink(), "a deleted post")

    def atomic() -> None:
        temporary = posts / ".2022-01-02-b.md.tmp"
        temporary.write_text("---\ntitle: b\n---\n", encoding="utf-8")
        temporary.rename(posts / "2022-01-02-b.md")

    after(atomic, "a post written atomically")
    after(lambda: (posts / "2022" / "01").mkdir(parents=True), "a new folder")
    after(lambda: write_post(posts / "2022" / "01", "c.md"), "a post in a new sub-folder")

    count = len(calls)
    (posts / "notes.txt").write_text("x", encoding="utf-8")
    (posts / ".2022-01-03-c.md.swp").write_text("x", encoding="utf-8")
    (posts / ".2022-01-03-c.md.swp").write_text("xy", encoding="utf-8")
    (posts / "notes.txt").unlink()
    (posts / "image.png").write_bytes(b"\x89PNG")
    time.sleep(1.0)
    assert len(calls) == count, "temporaries and other files asked for a rebuild"


def test_a_post_folder_made_again_is_watched_again_after_the_next_build(
    config_from: Callable[..., Config], daemons: Callable
) -> None:
    """A watch ends with the folder it was set on: a post folder deleted and made again (or
    mounted over) went unwatched, new posts waiting for the next rescan, until a restart."""
    config = config_from(SITE_TOML)
    posts = config.posts.dirs[0]
    write_post(posts, "2022-01-01-a.md")
    daemon = daemons(config)
    calls: list[object] = []
    daemon.request_rebuild = lambda paths=None: calls.append(paths)
    daemon._watch_posts()
    daemon._rebuild(None)
    shutil.rmtree(posts)
    wait_until(
        lambda: not all(emitter.is_alive() for emitter in daemon.observer.emitters),
        5,
        "the watch ended with its folder",
    )
    posts.mkdir()
    write_post(posts, "2022-01-01-a.md")
    daemon._rebuild(None)  # the rescan's build, which finds the folder back
    time.sleep(0.5)  # the events of the folder's making, if any, come and go
    calls.clear()
    write_post(posts, "2022-01-02-b.md")
    wait_until(lambda: calls, 5, "the new post seen by the watcher")


def test_build_notices_are_logged_by_the_daemon_once(
    config_from: Callable[..., Config], daemons: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    """The daemon logged a build's problems but never its notices: a post kept once of
    two copies, a feed name taken by a file of someone else's, labels left out."""
    config = config_from(SITE_TOML.replace('dirs = ["_posts"]', 'dirs = ["_posts", "old_post"]'))
    posts, old = config.posts.dirs
    for folder in (posts, old):
        write_post(folder, "2022-01-01-twice.md")
    daemon = daemons(config)
    daemon._rebuild(None)
    write_post(posts, "2022-01-02-next.md")
    daemon._rebuild(None)

    said = [r for r in caplog.records if "same post as" in r.getMessage()]
    assert len(said) == 1, caplog.text
    assert said[0].levelno == logging.WARNING


def test_a_reload_keeps_building_into_the_folder_being_served(
    config_from: Callable[..., Config], daemons: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    """feeds.dir changed and SIGHUP: the server kept serving the old folder (it changes on
    restart) while the builds went to the new one, so what was served went stale."""
    config = config_from(SITE_TOML)
    write_post(config.posts.dirs[0], "2022-01-01-a.md")
    daemon = daemons(config)
    daemon._rebuild(None)
    text = config.path.read_text(encoding="utf-8")
    config.path.write_text(text.replace('dir = "feeds"', 'dir = "public"'), encoding="utf-8")

    assert daemon.reload(config.path) is True
    write_post(config.posts.dirs[0], "2022-01-02-b.md", front="title: 新的\ndate: 2022-01-02\n")
    daemon._rebuild(None)

    assert "新的" in (config.feeds.dir / "rss.xml").read_text(encoding="utf-8")
    assert not (config.path.parent / "public").exists()
    assert "take effect when syndicator restarts" in caplog.text


def test_an_unchanged_broken_post_is_logged_once_and_again_when_its_file_changes(
    site_config: Callable[..., Config], daemons: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    config = site_config()
    broken = config.path.parent / "_posts" / "2022-01-02-broken.md"
    broken.write_text("---\ndate: [\n---\nx\n", encoding="utf-8")
    daemon = daemons(config)

    def skipped() -> int:
        return sum("post skipped" in r.getMessage() for r in caplog.records)

    for _ in range(3):
        daemon._rebuild(None)
    assert skipped() == 1

    broken.write_text("---\ndate: [\n---\nchanged, still broken\n", encoding="utf-8")
    daemon._rebuild({broken})
    daemon._rebuild(None)
    assert skipped() == 2


def test_the_state_holds_each_poll_the_daemon_scheduled(reloadable: tuple[Daemon, Path]) -> None:
    """What ``status`` shows as the next poll is the time the daemon's job will run."""
    daemon, _ = reloadable
    jobs = poll_jobs(daemon)
    with State.open(daemon.config.state.path) as state:
        for upstream in daemon.config.upstreams:
            row = state.upstream(upstream.key)
            assert row is not None and row.next_poll is not None
            assert abs(jobs[f"poll:{upstream.name}"].timestamp() - row.next_poll) < 0.001


def test_the_status_page_is_made_once_for_a_flood_of_requests(
    site_config: Callable[..., Config], daemons: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twelve requests at once took 10-20 s each on a large site: each made the page."""
    import syndicator.daemon as daemon_module

    made: list[int] = []
    real = daemon_module.render_status
    monkeypatch.setattr(daemon_module, "render_status", lambda data: made.append(1) or real(data))
    daemon = daemons(site_config())
    threads = [threading.Thread(target=daemon.status_page) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1
    monkeypatch.setattr(daemon_module, "STATUS_CACHE_SECONDS", 0.0)
    daemon.status_page()
    assert len(made) == 2  # made again once it is old


def test_a_post_named_in_bytes_that_are_not_utf8_is_logged_once(
    site_config: Callable[..., Config], daemons: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    """Only a whole walk finds such a name: a watcher's rebuild in between made it look
    fixed, and the next rescan logged it again."""
    import os

    config = site_config()
    posts = config.posts.dirs[0]
    with open(os.fsencode(posts) + b"/2024-12-01-caf\xe9.md", "wb") as handle:
        handle.write(b"---\ntitle: cafe\ndate: 2024-12-01\n---\nbody\n")
    daemon = daemons(config)

    def logged() -> int:
        return sum("file name is not UTF-8" in r.getMessage() for r in caplog.records)

    daemon._rebuild(None)
    assert logged() == 1
    daemon._rebuild({write_post(posts, "2022-02-02-other.md")})  # a watcher's rebuild
    daemon._rebuild(None)  # the rescan
    assert logged() == 1
