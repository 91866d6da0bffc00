"""Upstream rule patterns run by RE2: linear time, Python's Unicode shorthands."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from syndicator.core.patterns import PatternError, compile_pattern

ROOT = Path(__file__).resolve().parents[2]

# Each runs for minutes or longer with a backtracking engine; the child process is given
# far more time than RE2 needs on the busiest machine.
HOSTILE = textwrap.dedent(
    """
    from syndicator.core.config import FieldRule, UpstreamConfig
    from syndicator.upstreams.items import cleaned, kept
    from syndicator.upstreams.parse import make_entry

    value = cleaned("content", "x" + " " * 100_000 + "y", FieldRule("c", r"\\s+$"))
    assert value.endswith("y")
    upstream = UpstreamConfig(name="U", url="http://x/", category="c", keep="^(a|aa)+$")
    entry = make_entry(
        guid="1", link=None, title="a" * 80 + "b", content_html="", published=None,
        updated=None, author=None,
    )
    assert kept([entry], upstream) == []
    print("done")
    """
)


def test_hostile_patterns_over_hostile_text_finish() -> None:
    done = subprocess.run(
        [sys.executable, "-c", HOSTILE],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stdout.strip() == "done", done.stderr


@pytest.mark.parametrize(
    ("pattern", "text", "found"),
    [
        (r"^\s*【[^】]*】", "\u3000【标题】正文", "\u3000【标题】"),
        (r"\w+", "新闻 x", "新闻"),
        (r"[\d]+", "第١٢期", "١٢"),
        (r"\S+", "\u3000新闻\u3000", "新闻"),
        (r"[]x]+", "a]x]b", "]x]"),
        (r"(?i)breaking", "BREAKING news", "BREAKING"),
    ],
)
def test_shorthands_mean_what_python_means(pattern: str, text: str, found: str) -> None:
    match = compile_pattern(pattern).search(text)
    assert match is not None and match.group() == found


@pytest.mark.parametrize("pattern", [r"(?<=x)y", r"x(?=y)", r"(a)\1", r"[\S]", "[unclosed"])
def test_what_re2_cannot_run_is_refused(pattern: str) -> None:
    with pytest.raises(PatternError):
        compile_pattern(pattern)
