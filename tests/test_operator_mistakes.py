"""What an operator gets wrong by accident must not hurt the site: folders and files it points
at, special files named like posts, upstream edits, first starts, and the reports it reads.

Each test is one case found by trying syndicator as a new operator would (issue "Nothing lost
by a mistake"); they run the command line as the operator does.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support.processes import free_port, get, start_syndicator, syndicator, wait_until
from support.site import SITE_TOML, feed_files, write_post

from syndicator.core.config import ConfigError, load_config
from syndicator.daemon import Daemon
from syndicator.feeds.ownership import MANIFEST

# A loaded machine starts Python slowly; none of these waits is near a real limit.
STARTUP = 20.0


def site(
    root: Path, extra: str = "", posts: int = 3, posts_keys: str = "", category: str = ""
) -> Path:
    """The standard test site under ``root`` with ``posts`` posts in _posts/ (each in a
    category of its own, or all in ``category``), ``posts_keys`` added to [posts] and
    ``extra`` to the end; its config file."""
    config = root / "syndicator.toml"
    text = SITE_TOML.replace('dirs = ["_posts"]\n', f'dirs = ["_posts"]\n{posts_keys}')
    config.write_text(text + extra, encoding="utf-8")
    (root / "_posts").mkdir(parents=True, exist_ok=True)
    for n in range(posts):
        write_post(
            root / "_posts",
            f"2022-01-{n + 1:02d}-p{n}.md",
            front=f'title: "第{n}篇"\ndate: 2022-01-{n + 1:02d} 10:00:00 +0800\n'
            f"categories: {category or f'c{n}'}\n",
        )
    return config


# --- 1. a post folder that does not exist ---------------------------------------------------


def test_a_missing_post_folder_stops_check_build_and_run_and_removes_nothing(tmp_path):
    config = site(tmp_path)
    assert syndicator("build", config=config).returncode == 0
    before = feed_files(tmp_path / "feeds")
    (tmp_path / "_posts").rename(tmp_path / "_posts.unmounted")

    for command in (["check"], ["build"], ["run"]):
        result = syndicator(*command, config=config)
        assert result.returncode == 2, (command, result.stderr)
        assert f"posts.dirs: {tmp_path / '_posts'} does not exist" in result.stderr
        assert "Traceback" not in result.stderr
    assert feed_files(tmp_path / "feeds") == before


def test_a_build_that_would_drop_most_posts_is_refused_until_told(tmp_path):
    config = site(tmp_path, posts=12)
    assert syndicator("build", config=config).returncode == 0
    before = feed_files(tmp_path / "feeds")
    for path in sorted((tmp_path / "_posts").glob("*.md"))[:10]:
        path.unlink()

    refused = syndicator("build", config=config)
    assert refused.returncode == 2
    assert "2 posts to show in" in refused.stderr and "down from 12" in refused.stderr
    assert "--allow-shrink" in refused.stderr
    assert feed_files(tmp_path / "feeds") == before
    again = syndicator("build", config=config)  # the index knows: still refused, not forgotten
    assert again.returncode == 2 and "down from 12" in again.stderr
    assert feed_files(tmp_path / "feeds") == before

    allowed = syndicator("build", "--allow-shrink", config=config)
    assert allowed.returncode == 0, allowed.stderr
    assert "2 posts" in allowed.stdout
    assert syndicator("build", config=config).returncode == 0  # measured from 2 posts now


def _refused_and_unchanged(config: Path, feeds: Path, before: dict[str, bytes], *options: str):
    refused = syndicator("build", *options, config=config)
    assert refused.returncode == 2, (options, refused.stdout, refused.stderr)
    assert "--allow-shrink" in refused.stderr and "Traceback" not in refused.stderr
    assert feed_files(feeds) == before


def test_a_full_rebuild_of_an_emptied_folder_is_refused(tmp_path):
    """`build --full` (and a config edit, which forgets the index too) used to start from
    an empty index, so nothing looked deleted and the feeds were emptied."""
    config = site(tmp_path, posts=12, category="news")  # few feeds: their guard is silent
    assert syndicator("build", config=config).returncode == 0
    before = feed_files(tmp_path / "feeds")
    for path in (tmp_path / "_posts").glob("*.md"):
        path.unlink()
    _refused_and_unchanged(config, tmp_path / "feeds", before, "--full")
    config.write_text(config.read_text(encoding="utf-8") + '\n[attribution]\nline = "{source}"\n')
    _refused_and_unchanged(config, tmp_path / "feeds", before)


def test_posts_broken_in_bulk_are_refused_like_posts_deleted(tmp_path):
    """A bad search-and-replace over every post leaves files that cannot be read: they
    used to drop out of the feeds uncounted."""
    config = site(tmp_path, posts=12, category="news")  # few feeds: their guard is silent
    assert syndicator("build", config=config).returncode == 0
    before = feed_files(tmp_path / "feeds")
    for path in (tmp_path / "_posts").glob("*.md"):
        path.write_text("---\ntitle: [unclosed\n---\nbody\n", encoding="utf-8")
    refused = syndicator("build", config=config)
    assert "(12 posts with problems: `syndicator check` lists them)" in refused.stderr
    _refused_and_unchanged(config, tmp_path / "feeds", before)


def test_posts_dated_in_the_future_in_bulk_are_refused(tmp_path):
    """A renaming script's typo (2022 -> 2092) takes every post out of the feeds until
    then: they counted as usable, so nothing was refused."""
    config = site(tmp_path, posts=12, category="news")
    assert syndicator("build", config=config).returncode == 0
    before = feed_files(tmp_path / "feeds")
    for path in (tmp_path / "_posts").glob("*.md"):
        path.write_text(path.read_text(encoding="utf-8").replace("2022-", "2092-"), "utf-8")
    _refused_and_unchanged(config, tmp_path / "feeds", before)


def test_the_first_build_after_an_upgrade_is_guarded_too(tmp_path):
    """A state from before the guard kept its count: the index as it stands is the measure
    (the first build after the upgrade took a deletion of most posts without a word)."""
    import sqlite3

    config = site(tmp_path, posts=20, category="news")
    assert syndicator("build", config=config).returncode == 0
    with sqlite3.connect(tmp_path / "var" / "state.db") as db:
        db.execute("DELETE FROM meta WHERE key = 'shrink_baseline'")
    before = feed_files(tmp_path / "feeds")
    for path in sorted((tmp_path / "_posts").glob("*.md"))[:18]:
        path.unlink()
    _refused_and_unchanged(config, tmp_path / "feeds", before)


def test_deletions_spread_over_builds_add_up(tmp_path):
    """Five at a time never looked like "most" to a guard counting one sync's deletions."""
    config = site(tmp_path, posts=20)
    assert syndicator("build", config=config).returncode == 0
    posts = sorted((tmp_path / "_posts").glob("*.md"))
    for path in posts[:5]:
        path.unlink()
    assert syndicator("build", config=config).returncode == 0
    for path in posts[5:10]:
        path.unlink()
    assert syndicator("build", config=config).returncode == 0
    before = feed_files(tmp_path / "feeds")
    for path in posts[10:15]:
        path.unlink()
    _refused_and_unchanged(config, tmp_path / "feeds", before)


def test_an_emptied_folder_of_a_small_site_is_refused(tmp_path):
    """An empty mount point where three posts were: too few to be "most" by count."""
    config = site(tmp_path, posts=3)
    assert syndicator("build", config=config).returncode == 0
    before = feed_files(tmp_path / "feeds")
    for path in (tmp_path / "_posts").glob("*.md"):
        path.unlink()
    _refused_and_unchanged(config, tmp_path / "feeds", before)


def test_posts_moved_to_a_subfolder_are_not_a_shrink(tmp_path):
    """Moving every post into _posts/2022/ deletes every path the index knew, but loses
    nothing: the build goes through and the feeds keep their bytes."""
    config = site(tmp_path, posts=12)
    assert syndicator("build", config=config).returncode == 0
    before = feed_files(tmp_path / "feeds")
    (tmp_path / "_posts" / "2022").mkdir()
    for path in list((tmp_path / "_posts").glob("*.md")):
        path.rename(tmp_path / "_posts" / "2022" / path.name)
    moved = syndicator("build", config=config)
    assert moved.returncode == 0, moved.stderr
    assert "12 posts" in moved.stdout
    assert feed_files(tmp_path / "feeds") == before


def test_a_build_that_would_remove_most_feeds_is_refused_until_told(tmp_path):
    config = site(tmp_path, posts=6)
    assert syndicator("build", config=config).returncode == 0
    text = config.read_text(encoding="utf-8").replace(
        '[feeds]\ndir = "feeds"', '[feeds]\ndir = "feeds"\ncategories = false'
    )
    config.write_text(text, encoding="utf-8")

    refused = syndicator("build", config=config)
    assert refused.returncode == 2
    assert "would remove 18 of the" in refused.stderr
    assert (tmp_path / "feeds" / "categories" / "c0" / "rss.xml").is_file()
    assert syndicator("build", "--allow-shrink", config=config).returncode == 0
    assert not (tmp_path / "feeds" / "categories").exists()


def test_the_daemon_keeps_serving_when_a_post_folder_vanishes_and_says_so(tmp_path):
    port = free_port()
    config = site(tmp_path, f"\n[server]\nport = {port}\n", posts_keys='rescan_interval = "1s"\n')
    base = f"http://127.0.0.1:{port}"
    daemon = start_syndicator("run", config=config)
    try:
        wait_until(lambda: get(base + "/rss.xml")[0] == 200, STARTUP, "served", ignoring=OSError)
        (tmp_path / "_posts").rename(tmp_path / "_posts.unmounted")
        wait_until(lambda: get(base + "/healthz")[0] == 503, 10, "/healthz says 503")
        status, _, body = get(base + "/healthz")
        assert b"post folder" in body and b"is missing" in body
        status, _, feed = get(base + "/rss.xml")
        assert status == 200 and "第0篇".encode() in feed

        (tmp_path / "_posts.unmounted").rename(tmp_path / "_posts")
        wait_until(lambda: get(base + "/healthz")[0] == 200, 10, "/healthz back to 200")
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=15)


# --- 2. feeds.dir ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("feeds_dir", "clash"),
    [
        ("/", "root of the file system"),
        (".", "holds the config's own folder"),
        ("..", "holds the config's own folder"),
        ("_posts", "overlaps the post folder"),
        ("_posts/feeds", "overlaps the post folder"),
        ("var", "holds the state file"),
    ],
)
def test_feeds_dir_may_not_clash_with_what_the_operator_keeps(tmp_path, feeds_dir, clash):
    config = site(tmp_path)
    text = config.read_text(encoding="utf-8").replace('dir = "feeds"', f'dir = "{feeds_dir}"')
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=f"feeds.dir: .*{clash}"):
        load_config(config)
    result = syndicator("check", config=config)
    assert result.returncode == 2
    assert "feeds.dir" in result.stderr and clash in result.stderr


def test_a_folder_holding_the_posts_is_refused_as_feeds_dir(tmp_path):
    config = site(tmp_path)
    text = (
        config.read_text(encoding="utf-8")
        .replace('dirs = ["_posts"]', 'dirs = ["site/_posts"]')
        .replace('dir = "feeds"', 'dir = "site"')
    )
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"feeds\.dir: .*overlaps the post folder"):
        load_config(config)


def test_files_syndicator_did_not_write_are_left_alone_and_reported_once(tmp_path):
    config = site(tmp_path)
    feeds = tmp_path / "feeds"
    (feeds / "otherapp" / "cache").mkdir(parents=True)
    theirs = {
        feeds / "index.html": b"<p>the operator's own page</p>",
        feeds / "otherapp" / "cache" / ".download.ab12cd34.tmp": b"half a download",
        feeds / "otherapp" / ".notes.20240101.tmp": b"notes",
        feeds / ".rss.xml.abcdefgh.tmp.keep": b"not our shape",
    }
    for path, data in theirs.items():
        path.write_bytes(data)

    first = syndicator("build", config=config)
    assert first.returncode == 0, first.stderr
    assert "index.html exists in the feed folder and was not written by syndicator" in (
        first.stderr
    )
    for path, data in theirs.items():
        assert path.read_bytes() == data, path
    assert (feeds / "rss.xml").is_file()

    write_post(tmp_path / "_posts", "2022-02-01-new.md")
    second = syndicator("build", config=config)
    assert second.returncode == 0
    assert "index.html" not in second.stderr  # said once
    for path, data in theirs.items():
        assert path.read_bytes() == data, path


def test_a_temporary_beside_a_file_of_someone_elses_is_theirs(tmp_path):
    config = site(tmp_path)
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "index.html").write_bytes(b"the operator's")
    theirs = feeds / ".index.html.k3j4h5a1.tmp"  # their editor's, in write_atomic's shape
    theirs.write_bytes(b"being saved")
    assert syndicator("build", config=config).returncode == 0
    assert theirs.read_bytes() == b"being saved"


def test_our_own_leftover_temporaries_are_still_swept(tmp_path):
    config = site(tmp_path)
    assert syndicator("build", config=config).returncode == 0
    ours = tmp_path / "feeds" / ".rss.xml.k3j_4h5a.tmp"
    ours.write_bytes(b"<rss>half")
    assert syndicator("build", config=config).returncode == 0
    assert not ours.exists()


def test_a_deleted_state_still_knows_its_own_feeds(tmp_path):
    """The list of files syndicator wrote lives in the feed folder too: deleting the state
    costs a rebuild, never the right to update its own feeds."""
    config = site(tmp_path)
    assert syndicator("build", config=config).returncode == 0
    for path in (tmp_path / "var").iterdir():
        path.unlink()
    write_post(
        tmp_path / "_posts", "2022-03-01-after.md", front='title: "之后"\ndate: 2022-03-01\n'
    )
    result = syndicator("build", config=config)
    assert result.returncode == 0, result.stderr
    assert "not written by syndicator" not in result.stderr
    assert "之后".encode() in (tmp_path / "feeds" / "rss.xml").read_bytes()


# --- 3. special files named like posts ------------------------------------------------------


def test_a_fifo_named_like_a_post_is_reported_not_read(tmp_path):
    config = site(tmp_path)
    os.mkfifo(tmp_path / "_posts" / "2024-05-01-fifo.md")
    for command in ("check", "build"):
        result = syndicator(command, config=config)  # a hang fails on the 60 s timeout
        assert result.returncode == 1, result.stderr
        assert "2024-05-01-fifo.md: is a FIFO (named pipe), not a regular file" in (
            result.stdout + result.stderr
        )
    assert "第2篇".encode() in (tmp_path / "feeds" / "rss.xml").read_bytes()


def test_a_link_to_a_device_named_like_a_post_is_reported_not_read(tmp_path):
    config = site(tmp_path)
    (tmp_path / "_posts" / "2024-05-02-zero.md").symlink_to("/dev/zero")
    result = syndicator("build", config=config)
    assert result.returncode == 1
    assert "2024-05-02-zero.md: is a character device, not a regular file" in result.stderr


def _make_socket(path: Path) -> None:
    import socket

    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_make_socket, "is a socket, not a regular file"),  # was "No such device or address"
        (lambda path: path.symlink_to(path.parent / "gone.md"), "is a link to /"),
        (lambda path: path.symlink_to(path), "is a link in a loop of links"),
    ],
    ids=["socket", "dangling-link", "link-loop"],
)
def test_other_things_named_like_posts_are_reported_in_the_operators_terms(tmp_path, make, reason):
    """Links that lead nowhere were skipped without a word; a socket was "No such device"."""
    config = site(tmp_path)
    post = tmp_path / "_posts" / "2024-05-03-odd.md"
    make(post)
    for command in ("check", "build"):
        result = syndicator(command, config=config)
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"2024-05-03-odd.md: {reason}" in result.stdout + result.stderr
    assert "3 posts" in result.stdout


def test_a_post_over_max_bytes_is_reported_and_skipped(tmp_path):
    config = site(tmp_path, posts_keys="max_bytes = 4096\n")
    write_post(tmp_path / "_posts", "2022-04-01-huge.md", body="大" * 5000)
    result = syndicator("build", config=config)
    assert result.returncode == 1
    assert "2022-04-01-huge.md: larger than posts.max_bytes (4,096 bytes)" in result.stderr
    assert "3 posts" in result.stdout


def test_sigterm_is_honoured_while_a_write_is_stuck(tmp_path):
    """The daemon stops within its bound even when the write in flight never ends."""
    config = load_config(site(tmp_path))
    daemon = Daemon(config)
    daemon.work_lock.acquire()  # a write that never finishes
    try:
        stopped = threading.Event()
        threading.Thread(target=lambda: (daemon.stop(wait=0.5), stopped.set()), daemon=True).start()
        assert stopped.wait(5), "stop() waited for the stuck write"
    finally:
        daemon.work_lock.release()


def test_sigterm_is_honoured_within_10_s_after_a_reload_that_waits_on_a_stuck_write(tmp_path):
    """A real process: a rebuild waits for the write lock (held by another program), a
    SIGHUP's reload waits for that rebuild, then SIGTERM. The reload used to run in the
    event loop's executor, which the loop waits for when it closes: the daemon stopped only
    when the rebuild gave up, a minute later."""
    port = free_port()
    config = site(tmp_path, f"\n[server]\nport = {port}\n")
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "daemon.log").open("wb")
    daemon = start_syndicator("run", config=config, output=log)
    lock_file = tmp_path / "var" / "state.db.lock"
    lock = -1
    try:
        wait_until(lambda: get(base + "/rss.xml")[0] == 200, STARTUP, "served", ignoring=OSError)
        lock = os.open(lock_file, os.O_RDWR)
        fcntl.flock(lock, fcntl.LOCK_EX)
        write_post(tmp_path / "_posts", "2022-02-01-new.md")  # a rebuild, stuck on the lock
        wait_until(lambda: _holds_open(daemon.pid, lock_file), 20, "the rebuild waiting")
        daemon.send_signal(signal.SIGHUP)
        time.sleep(2)  # the reload, waiting for the rebuild
        started = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
        assert time.monotonic() - started < 10
        # Told at the signal, not after the server's own stop (uvicorn takes it first).
        assert "SIGTERM received: stopping" in (tmp_path / "daemon.log").read_text("utf-8")
    finally:
        log.close()
        if lock >= 0:
            os.close(lock)
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()


def _holds_open(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has ``path`` open (the write lock: only while it writes)."""
    folder = Path(f"/proc/{pid}/fd")
    return any(os.path.realpath(fd) == str(path) for fd in folder.iterdir())


# --- 4. a post file name that is not UTF-8 --------------------------------------------------


def test_a_file_name_that_is_not_utf8_is_reported_escaped_and_the_rest_builds(tmp_path):
    config = site(tmp_path)
    name = os.fsencode(tmp_path / "_posts") + b"/2024-12-01-caf\xe9.md"
    with open(name, "wb") as handle:
        handle.write(b"---\ntitle: cafe\ndate: 2024-12-01\n---\nbody\n")
    for command in ("build", "check"):
        result = syndicator(command, config=config)
        assert result.returncode == 1, result.stderr
        output = result.stdout + result.stderr
        assert "Traceback" not in output
        assert "2024-12-01-caf\\xe9.md: file name is not UTF-8" in output
    assert "第2篇".encode() in (tmp_path / "feeds" / "rss.xml").read_bytes()


# --- 5. an unreadable post ------------------------------------------------------------------


def _without_read_override() -> None:
    """In the child, before exec: give up root's power to read any file (CAP_DAC_OVERRIDE,
    CAP_DAC_READ_SEARCH), so that a mode of 000 means what it means for the daemon's user."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        libc.prctl(24, capability, 0, 0, 0)  # PR_CAPBSET_DROP


def _syndicator_as_an_ordinary_user(config: Path, *arguments: str) -> subprocess.CompletedProcess:
    from support.processes import syndicator_environment

    return subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", str(config), *arguments],
        cwd=config.parent,
        env=syndicator_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_without_read_override if os.geteuid() == 0 else None,
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_an_unreadable_post_is_reported_by_build_and_tried_again(tmp_path):
    config = site(tmp_path)
    locked = write_post(
        tmp_path / "_posts", "2022-05-01-locked.md", front='title: "锁"\ndate: 2022-05-01\n'
    )
    locked.chmod(0)
    try:
        for _ in range(2):  # reported again by the next build, not forgotten
            result = _syndicator_as_an_ordinary_user(config, "build")
            assert result.returncode == 1, result.stderr
            assert "2022-05-01-locked.md: cannot read: Permission denied" in result.stderr
    finally:
        locked.chmod(0o644)
    result = _syndicator_as_an_ordinary_user(config, "build")
    assert result.returncode == 0, result.stderr
    assert "锁".encode() in (tmp_path / "feeds" / "rss.xml").read_bytes()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
@pytest.mark.parametrize(
    ("key", "line"),
    [
        ("state.path", '[state]\npath = "closed/inner/state.db"'),
        ("posts.dirs", '[posts]\ndirs = ["closed/inner/_posts"]'),
        ("feeds.dir", '[feeds]\ndir = "closed/inner/feeds"'),
    ],
)
def test_a_path_under_a_closed_folder_is_one_line_not_a_traceback(tmp_path, key, line):
    """A folder above the path that this user may not enter: Path.exists() raised
    PermissionError, and every command ended in a traceback."""
    config = site(tmp_path)
    section = line.split("\n")[0]
    text = config.read_text(encoding="utf-8")
    start = text.index(section)
    end = text.index("\n", text.index("\n", start) + 1)  # the section's first key
    config.write_text(text[:start] + line + text[end:], encoding="utf-8")
    (tmp_path / "closed" / "inner").mkdir(parents=True)
    (tmp_path / "closed").chmod(0)
    try:
        for command in ("check", "build"):
            result = _syndicator_as_an_ordinary_user(config, command)
            assert result.returncode == 2, result.stderr
            assert "Traceback" not in result.stderr
            assert f"{key}: {tmp_path / 'closed' / 'inner'}" in result.stderr
            assert "Permission denied" in result.stderr
    finally:
        (tmp_path / "closed").chmod(0o755)


# --- 9. commands started at once on a missing state -----------------------------------------


def test_commands_started_at_once_on_a_missing_state_all_work(tmp_path):
    config = site(tmp_path)
    for attempt in range(6):
        for path in (tmp_path / "var").glob("*") if (tmp_path / "var").exists() else ():
            path.unlink()
        started = [
            start_syndicator(command, config=config, output=subprocess.PIPE)
            for command in ("build", "status", "build", "status")
        ]
        for process in started:
            output, _ = process.communicate(timeout=60)
            assert process.returncode == 0, (attempt, output.decode(errors="replace"))


# --- 10. one line, exit 2, for paths that cannot work ---------------------------------------


@pytest.mark.parametrize(
    ("state_path", "problem"),
    [
        ("blocker/state.db", "is a file, so the folder cannot be made there"),
        ("/proc/self/x.db", "cannot create files in /proc/self"),
        ("va\\u0000r/state.db", "holds a NUL character"),
        ("loop/state.db", "cannot be followed (Symlink loop"),  # was a RuntimeError
        ("{root}/loop/state.db", "cannot be followed (Symlink loop"),  # absolute, too
    ],
)
def test_a_state_path_that_cannot_work_is_one_line_for_every_command(tmp_path, state_path, problem):
    config = site(tmp_path)
    (tmp_path / "blocker").write_text("a file, not a folder", encoding="utf-8")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    text = config.read_text(encoding="utf-8").replace(
        'path = "var/state.db"', f'path = "{state_path.format(root=tmp_path)}"'
    )
    config.write_text(text, encoding="utf-8")
    for command in ("check", "build", "poll", "status", "run"):
        result = syndicator(command, config=config)
        assert result.returncode == 2, (command, result.stderr)
        assert "Traceback" not in result.stderr, command
        assert "state.path" in result.stderr and problem in result.stderr, (command, result.stderr)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_a_state_folder_that_cannot_be_written_is_one_line(tmp_path):
    config = site(tmp_path)
    (tmp_path / "var").mkdir()
    (tmp_path / "var").chmod(0o555)
    try:
        result = _syndicator_as_an_ordinary_user(config, "build")
    finally:
        (tmp_path / "var").chmod(0o755)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "state.path" in result.stderr and "cannot create files in" in result.stderr


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{source} {x}", "has {x}"),
        ("来源", "must contain {source}"),
        ("{source", "expected '}'"),
    ],
)
def test_an_attribution_line_with_unknown_placeholders_fails_check(tmp_path, line, problem):
    config = site(tmp_path, f'\n[attribution]\nline = "{line}"\n')
    result = syndicator("check", config=config)
    assert result.returncode == 2
    assert "attribution.line" in result.stderr and problem in result.stderr
    assert syndicator("build", config=config).returncode == 2


# --- 11. /healthz tells the truth -----------------------------------------------------------


def test_healthz_is_503_while_rebuilds_fail_and_200_once_they_succeed(tmp_path):
    port = free_port()
    config = site(
        tmp_path, f"\n[server]\nport = {port}\n", posts=8, posts_keys='rescan_interval = "1s"\n'
    )
    base = f"http://127.0.0.1:{port}"
    daemon = start_syndicator("run", config=config)
    try:
        wait_until(lambda: get(base + "/healthz")[0] == 200, STARTUP, "up", ignoring=OSError)
        wait_until(lambda: get(base + "/rss.xml")[0] == 200, 10, "built")
        for path in sorted((tmp_path / "_posts").glob("*.md"))[:7]:
            path.unlink()  # most posts at once: the rebuild is refused
        wait_until(lambda: get(base + "/healthz")[0] == 503, 10, "/healthz 503")
        assert b"down from 8" in get(base + "/healthz")[2]

        assert syndicator("build", "--allow-shrink", config=config).returncode == 0
        write_post(tmp_path / "_posts", "2022-06-01-next.md")  # the daemon's next rebuild
        wait_until(lambda: get(base + "/healthz")[0] == 200, 10, "/healthz 200 again")
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=15) == 0


def test_serve_healthz_checks_the_feed_folder(tmp_path):
    port = free_port()
    config = site(tmp_path, f"\n[server]\nport = {port}\n")
    assert syndicator("build", config=config).returncode == 0
    base = f"http://127.0.0.1:{port}"
    server = start_syndicator("serve", config=config)
    try:
        wait_until(lambda: get(base + "/healthz")[0] == 200, STARTUP, "up", ignoring=OSError)
        (tmp_path / "feeds").rename(tmp_path / "feeds.moved")
        status, _, body = get(base + "/healthz")
        assert status == 503 and b"feed folder" in body
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)


def test_a_manifest_line_outside_the_feed_folder_never_makes_a_file_ours(tmp_path):
    """The list of files syndicator wrote is a file in the open: a line pointing outside the
    feed folder (an edit, a copy) must not get that file removed."""
    config = site(tmp_path)
    assert syndicator("build", config=config).returncode == 0
    victim = tmp_path / "victim.txt"
    victim.write_text("the operator's", encoding="utf-8")
    absolute = tmp_path / "absolute.txt"
    absolute.write_text("also the operator's", encoding="utf-8")
    with (tmp_path / "feeds" / MANIFEST).open("ab") as handle:
        handle.write(f"../victim.txt\n{absolute}\n.hidden\n\xff\n".encode("latin-1"))
    write_post(tmp_path / "_posts", "2022-02-01-new.md")
    result = syndicator("build", config=config)
    assert result.returncode == 0, result.stderr
    assert victim.read_text(encoding="utf-8") == "the operator's"
    assert absolute.exists()


def test_a_link_to_a_folder_named_like_a_post_is_reported(tmp_path):
    config = site(tmp_path)
    (tmp_path / "_posts" / "2024-05-07-dir.md").symlink_to(tmp_path / "old")
    (tmp_path / "old").mkdir()
    for command in ("build", "check"):
        result = syndicator(command, config=config)
        output = result.stdout + result.stderr
        assert result.returncode == 1, output
        assert "Traceback" not in output
        assert "2024-05-07-dir.md: is a folder, not a regular file" in output


def test_a_new_feeds_dir_trusts_only_its_own_list_of_our_files(tmp_path):
    """The state listed rss.xml as ours in feeds/; after feeds.dir became public/, the
    operator's own public/rss.xml was taken for ours and overwritten."""
    config = site(tmp_path)
    assert syndicator("build", config=config).returncode == 0
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "rss.xml").write_text("the operator's own", encoding="utf-8")
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('dir = "feeds"', 'dir = "public"'), encoding="utf-8")

    result = syndicator("build", config=config)

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "public" / "rss.xml").read_text(encoding="utf-8") == "the operator's own"
    assert (tmp_path / "public" / "atom.xml").is_file()
    assert f"feeds.dir is now {tmp_path / 'public'}, was {tmp_path / 'feeds'}" in result.stderr
    assert "rss.xml exists in the feed folder and was not written by syndicator" in result.stderr
    assert (tmp_path / "feeds" / "rss.xml").is_file()  # the old folder left as it was


def test_a_feed_folder_copied_without_its_manifest_stays_ours(tmp_path):
    """`cp -r feeds/* public/` leaves the hidden .syndicator-files behind: every feed in the
    new folder looked like someone else's, and was never updated again, without a word."""
    config = site(tmp_path)
    assert syndicator("build", config=config).returncode == 0
    public = tmp_path / "public"
    public.mkdir()
    for name in feed_files(tmp_path / "feeds"):
        (public / name).parent.mkdir(parents=True, exist_ok=True)
        (public / name).write_bytes((tmp_path / "feeds" / name).read_bytes())
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('dir = "feeds"', 'dir = "public"'), encoding="utf-8")
    write_post(
        tmp_path / "_posts", "2022-03-01-new.md", front='title: "新来的"\ndate: 2022-03-01\n'
    )

    result = syndicator("build", config=config)

    assert result.returncode == 0, result.stderr
    assert "not written by syndicator" not in result.stderr
    assert "新来的".encode() in (public / "rss.xml").read_bytes()


def test_the_feed_folder_by_another_path_is_no_move(tmp_path):
    """A link to the feed folder, or a path with `..` in it: the same folder. It was taken
    for a new one, with a note telling the operator to remove the feeds being served."""
    config = site(tmp_path)
    assert syndicator("build", config=config).returncode == 0
    (tmp_path / "feeds-link").symlink_to(tmp_path / "feeds")
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('dir = "feeds"', f'dir = "{tmp_path}/feeds-link"'), "utf-8")

    result = syndicator("build", config=config)

    assert result.returncode == 0, result.stderr
    assert "feeds.dir is now" not in result.stderr


def test_feed_names_held_by_others_files_are_said_on_every_build(tmp_path):
    config = site(tmp_path)
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "atom.xml").write_text("the operator's own", encoding="utf-8")
    for _ in range(2):  # the note once; the count on every build
        result = syndicator("build", config=config)
        assert result.returncode == 0, result.stderr
        assert "1 feed files not updated" in result.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_a_post_folder_closed_under_a_running_build_is_refused_naming_the_key(tmp_path):
    """What the daemon's rebuild meets when a folder above the posts is closed while it
    runs: a PermissionError, logged as "feeds not written … cannot write"."""
    config = site(tmp_path)
    assert syndicator("build", config=config).returncode == 0
    script = (
        "import sys\n"
        "from syndicator.core.config import load_config\n"
        "from syndicator.feeds.build import BuildRefusedError\n"
        "from syndicator.refresh import build\n"
        "from syndicator.state.db import State\n"
        "config = load_config(__import__('pathlib').Path(sys.argv[1]))\n"
        "config.posts.dirs[0].parent.chmod(0)\n"
        "try:\n"
        "    with State.open(config.state.path) as state:\n"
        "        build(config, state)\n"
        "except BuildRefusedError as error:\n"
        "    print('refused:', error)\n"
    )
    posts = tmp_path / "closed" / "_posts"
    posts.parent.mkdir()
    (tmp_path / "_posts").rename(posts)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('dirs = ["_posts"]', 'dirs = ["closed/_posts"]'), "utf-8")
    from support.processes import syndicator_environment

    try:
        result = subprocess.run(
            [sys.executable, "-c", script, str(config)],
            env=syndicator_environment(),
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=_without_read_override if os.geteuid() == 0 else None,
        )
    finally:
        (tmp_path / "closed").chmod(0o755)
    assert "Traceback" not in result.stderr, result.stderr
    assert f"refused: post folder {posts} cannot be looked at (posts.dirs)" in result.stdout
