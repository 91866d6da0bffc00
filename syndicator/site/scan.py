"""Every post read afresh, without the index: what ``check`` reports, touching no state."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from syndicator.core.config import Config
from syndicator.site.files import NOT_UTF8_NAME, find_post_files
from syndicator.site.posts import Post, PostError, labels_notice, load_post


@dataclass
class PostScan:
    posts: list[Post] = field(default_factory=list)
    problems: list[PostError] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def scan_posts(config: Config) -> PostScan:
    """Every usable post; unusable ones as problems. The same post id twice (a post being
    moved from ``_posts/`` to ``old_post/``) is kept once, from the first folder listed."""
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
            continue
        post, _ = loaded
        if notice := labels_notice(post, config.posts.max_labels):
            scan.notices.append(notice)
        if post.id in seen:
            scan.notices.append(
                f"{post.path}: same post as {seen[post.id]} (id {post.id}); kept that one"
            )
            continue
        seen[post.id] = post.path
        scan.posts.append(post)
    scan.problems += [PostError(Path(name), NOT_UTF8_NAME) for name in misnamed]
    scan.problems.sort(key=lambda problem: str(problem.path))
    return scan
