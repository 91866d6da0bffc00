"""Every post read afresh, without the index: what ``check`` reports, touching no state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from syndicator.core.config import Config
from syndicator.site.files import NOT_UTF8_NAME, find_post_files
from syndicator.site.posts import Post, PostError, labels_notice, load_post


@dataclass(frozen=True)
class LeftOut:
    """A readable post that no feed shows (yet), and why."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class PostScan:
    posts: list[Post] = field(default_factory=list)
    problems: list[PostError] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # usable, but likely not as meant


def scan_posts(config: Config, now: datetime | None = None) -> PostScan:
    """Every usable post; unusable ones as problems; and every readable post that no feed
    shows, named with the reason.

    A readable post is an entry of each feed it belongs to unless it is named here: marked
    ``published: false``; dated after ``now`` (its feeds show it from then on); or shadowed by
    a post with the same id. The same post in two folders (one being moved from ``_posts/`` to
    ``old_post/``: the same file name) is kept once, from the first folder listed, with a
    notice; a post of another name with the same id is a problem naming both, since no feed
    will ever show it. A post older than a feed's newest ``feeds.max_items`` is fine: a feed
    holds the newest posts only, and that is no defect.
    """
    now = now or datetime.now(UTC)
    scan = PostScan()
    seen: dict[str, Path] = {}
    misnamed: list[str] = []
    for file in find_post_files(config, misnamed):
        try:
            loaded = load_post(file, config)
        except PostError as problem:
            scan.problems.append(problem)
            continue
        if loaded is None:
            scan.left_out.append(LeftOut(file.path, "published: false"))
            continue
        post, _ = loaded
        if notice := labels_notice(post, config.posts.max_labels):
            scan.notices.append(notice)
        if not post.title:
            scan.warnings.append(
                f"{post.path}: no title; its feed entries take the start of its text as the "
                "title (else the file name): add title: to the front matter"
            )
        if post.id in seen:
            _shadowed(scan, post, seen[post.id])
            continue
        seen[post.id] = post.path
        scan.posts.append(post)
        if post.date > now:
            scan.left_out.append(
                LeftOut(
                    post.path,
                    f"dated {post.date:%Y-%m-%d %H:%M %z}, in the future: in its feeds from then",
                )
            )
    scan.problems += [PostError(Path(name), NOT_UTF8_NAME) for name in misnamed]
    scan.problems.sort(key=lambda problem: str(problem.path))
    return scan


def _shadowed(scan: PostScan, post: Post, kept: Path) -> None:
    """``post`` has the id of ``kept``, read before it: a copy being moved between folders is
    noted; another post is a problem, lost to every feed."""
    if post.path.name == kept.name:
        scan.notices.append(f"{post.path}: same post as {kept} (id {post.id}); kept that one")
        return
    scan.problems.append(
        PostError(
            post.path,
            f"same id as {kept} ({post.id}), so no feed shows this post, only that one; "
            "give one of them a guid of its own (or none), or remove it",
        )
    )
