"""Posts built to exhaust a build: thousands of labels, and a body of megabytes. Each is built
by ``syndicator build`` in a subprocess, bounded in time, and measured from outside."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from support.processes import syndicator, syndicator_environment
from support.site import SITE_TOML, feed_files, write_post

LABELS = [f"标签{number}" for number in range(1000)]
MiB = 1024 * 1024


def site(root: Path) -> Path:
    (root / "syndicator.toml").write_text(SITE_TOML, encoding="utf-8")
    write_post(root / "_posts", "2022-01-01-plain.md")
    return root / "syndicator.toml"


def test_a_thousand_tags_are_built_into_the_first_hundreds_feeds_with_a_notice(tmp_path):
    """Before, a post whose ``tags:`` string named 1,000 labels took 152 s to build (feedgen
    rescanned every category on each one added, in every one of the 1,000 tag feeds)."""
    config = site(tmp_path)
    write_post(
        tmp_path / "_posts",
        "2022-01-02-flood.md",
        f"title: flood\ndate: 2022-01-02 10:00:00 +0800\ntags: {' '.join(LABELS)}\n",
    )

    started = time.monotonic()
    result = syndicator("build", config=config)
    seconds = time.monotonic() - started

    assert result.returncode == 0, result.stderr
    assert seconds < 30
    assert "2022-01-02-flood.md: 900 more categories and tags than posts.max_labels" in (
        result.stderr
    )
    tag_feeds = {name.split("/")[1] for name in feed_files(tmp_path / "feeds") if "tags/" in name}
    assert tag_feeds == set(LABELS[:100])
    rss = (tmp_path / "feeds" / "tags" / LABELS[0] / "rss.xml").read_text(encoding="utf-8")
    assert rss.count("<category>") == 100


def test_the_notice_is_given_when_the_post_is_read(tmp_path):
    config = site(tmp_path)
    write_post(
        tmp_path / "_posts",
        "2022-01-02-flood.md",
        f"title: flood\ndate: 2022-01-02 10:00:00 +0800\ntags: {LABELS!r}\n",
    )
    assert "posts.max_labels" in syndicator("build", config=config).stderr

    assert "posts.max_labels" not in syndicator("build", config=config).stderr  # not read again
    assert "posts.max_labels" in syndicator("build", "--full", config=config).stderr
    assert "posts.max_labels" in syndicator("check", config=config).stdout


def peak_build_kib(config: Path) -> int:
    """The peak resident memory of ``syndicator build --full`` on ``config``, in KiB."""
    script = (
        "import sys\n"
        "from syndicator.cli import main\n"
        "try:\n"
        f"    main([{'--config'!r}, {str(config)!r}, 'build', '--full'])\n"
        "except SystemExit as stop:\n"
        "    assert not stop.code, stop.code\n"
        "status = open('/proc/self/status').read()\n"
        "print(next(l.split()[1] for l in status.splitlines() if l.startswith('VmHWM')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=config.parent,
        env=syndicator_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return int(result.stdout.split()[-1])


def test_a_post_of_9_mb_costs_the_build_a_few_times_its_size(tmp_path):
    """Every step from the Markdown to the feed bytes makes a copy of the body; they are let
    go one after the other (the sanitizer's parse tree alone is about 5 times the body)."""
    config = site(tmp_path)
    # Over the default posts.max_bytes: raised, as an operator with such posts would.
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[posts]\n", "[posts]\nmax_bytes = 16777216\n"), "utf-8")
    baseline = peak_build_kib(config)
    paragraph = "<p>" + "正文，新闻的段落。" * 40 + "<strong>重点</strong>。</p>\n"
    body = paragraph * (9 * MiB // len(paragraph.encode()))
    write_post(tmp_path / "_posts", "2022-01-03-huge.md", body=body)

    grown = peak_build_kib(config) - baseline

    assert "重点" in (tmp_path / "feeds" / "rss.xml").read_text(encoding="utf-8")  # built, whole

    assert grown < 10 * len(body.encode()) // 1024, f"{grown // 1024} MB over the baseline"
