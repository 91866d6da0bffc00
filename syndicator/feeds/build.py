"""``build``: bring the feeds up to date with the posts, writing only bytes that change."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from syndicator.core.atomic import remove_stale_temporaries, write_if_changed
from syndicator.core.config import Config
from syndicator.core.slugs import feed_slug
from syndicator.feeds.layout import LISTING_FILES, FeedSpec
from syndicator.feeds.ownership import MANIFEST, read_manifest, write_manifest
from syndicator.site.index import PostIndex, SyncRefusedError, config_fingerprint
from syndicator.site.labels import CATEGORY, KIND_ORDER, SITE, TAG
from syndicator.site.posts import PostError
from syndicator.state.db import State

# A build that would remove more than half of the feed files it wrote, and more than this
# many, is refused unless asked for (a config edit or a lost folder, not a day's news).
SHRINK_MINIMUM = 10


class BuildRefusedError(Exception):
    """The build would lose too much at once: nothing was changed; the message says why and
    what to do."""


@dataclass
class BuildReport:
    posts: int = 0
    scheduled: int = 0
    feeds: int = 0
    regenerated: int = 0
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    problems: list[PostError] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    taken: list[str] = field(default_factory=list)  # names we would write, held by others' files


def build_site(
    config: Config,
    state: State,
    now: datetime | None = None,
    full: bool = False,
    paths: Collection[Path] | None = None,
    progress: Callable[[int, int], None] | None = None,
    allow_shrink: bool = False,
) -> BuildReport:
    """Bring the feeds up to date with the posts: re-read only new and changed post files,
    regenerate only the feeds whose entries changed, write only bytes that differ.

    ``full`` forgets the index and every cached entry first (the same bytes result);
    ``paths`` limits the look for changes to those files (a file watcher's report);
    ``progress(done, total)`` is told of the post files read, a chunk at a time.

    Raises BuildRefusedError, changing no feed, when a post folder is missing, or when most
    of the posts or feed files would go at once and ``allow_shrink`` is not given.
    """
    now = now or datetime.now(UTC)
    index = PostIndex(config, state)
    try:
        index.sync(full=full, paths=paths, progress=progress, allow_shrink=allow_shrink, now=now)
    except SyncRefusedError as error:
        raise BuildRefusedError(str(error)) from None
    last_build = index.last_build()
    stale_all, touched = index.stale()  # this sync's changes, and any an interrupted build left
    if last_build is not None:
        touched |= index.feeds_dated_between(last_build, now.timestamp())
    titles = json.dumps(config.feeds.titles, ensure_ascii=False)
    # New display titles change the feeds' own titles: every feed is rendered again.
    everything = full or stale_all or last_build is None or index.meta("titles") != titles
    specs = _feed_specs(index.feeds(now, recheck=None if everything else touched), config)
    moved = _forget_another_folder(config, index, state)
    recorded = state.feed_files()
    expected = {spec: spec.file_names(config.feeds.formats) for spec in specs}
    chosen = [
        spec
        for spec, names in expected.items()
        if everything or (spec.kind, spec.slug) in touched or _missing(names, recorded, config)
    ]
    listing = _listing_key(specs, config)
    relist = (
        everything or index.meta("listing") != listing or _missing(LISTING_FILES, recorded, config)
    )
    published, scheduled = index.counts(now)
    report = BuildReport(
        posts=published,
        scheduled=scheduled,
        feeds=len(specs),
        regenerated=len(chosen),
        problems=index.problems(),
        notices=index.notices + index.shadowed() + moved,
    )
    files: Iterable[tuple[str, bytes]] = ()
    if chosen or relist:
        # Loaded only when there is something to render: a build with nothing to do stays
        # as quick to start as the index is to check.
        from syndicator.feeds.render import render_feeds, render_listing

        files = render_feeds(chosen, index, config, now, report.problems)
        if relist:
            files = itertools.chain(files, render_listing(specs, config))
    wanted = {name for names in expected.values() for name in names} | set(LISTING_FILES)
    owned = set(recorded) | read_manifest(config.feeds.dir)
    if not allow_shrink:
        _refuse_shrinking(owned - wanted, owned, config)
    taken = _taken(wanted - owned, config.feeds.dir)
    # Only temporaries of names we write: one beside a file of someone else's is theirs.
    remove_stale_temporaries(config.feeds.dir, lambda names: names & (owned | (wanted - taken)))
    report.notices += _newly_taken(taken, index, config)
    report.taken = sorted(taken)
    # Listed before they are written, so a kill between the two never leaves a file of
    # ours that we would not recognise; unlisted once the build no longer wants them.
    write_manifest(config.feeds.dir, owned | (wanted - taken))
    rendered = write_files(files, config.feeds.dir, state, report, wanted - taken, owned)
    write_manifest(config.feeds.dir, wanted - taken)
    report.unchanged += len(wanted - taken) - rendered  # not even regenerated
    if index.meta("titles") != titles:
        index.set_meta("titles", titles)
    index.finished(now, listing, allow_shrink)
    return report


def _feed_specs(feeds: dict[tuple[str, str], str], config: Config) -> list[FeedSpec]:
    enabled = {SITE: config.feeds.site, CATEGORY: config.feeds.categories, TAG: config.feeds.tags}
    if config.feeds.site:
        feeds.setdefault((SITE, ""), config.site.title)
    titles = display_titles(config)
    specs = [
        FeedSpec(kind, slug, config.site.title if kind == SITE else titles.get(slug, name))
        for (kind, slug), name in feeds.items()
        if enabled[kind]
    ]
    return sorted(specs, key=lambda spec: (KIND_ORDER[spec.kind], spec.slug))


def display_titles(config: Config) -> dict[str, str]:
    """``[feeds.titles]`` by the slug of each label, so every spelling of it matches."""
    return {feed_slug(label): title for label, title in config.feeds.titles}


def _refuse_shrinking(removed: set[str], owned: set[str], config: Config) -> None:
    if len(removed) > SHRINK_MINIMUM and len(removed) * 2 > len(owned):
        raise BuildRefusedError(
            f"this build would remove {len(removed)} of the {len(owned)} feed files in "
            f"{config.feeds.dir} (such as {min(removed)}); nothing was changed. If that is "
            "what you meant (feeds turned off in the config?), run `syndicator build "
            "--allow-shrink` once"
        )


def _forget_another_folder(config: Config, index: PostIndex, state: State) -> list[str]:
    """The state's list of the files we wrote is of one folder: when feeds.dir names
    another, a file there that happens to share a name (an ``rss.xml`` of the operator's)
    is not ours. A file there with the very bytes we wrote (the old folder copied without
    its hidden manifest) is; for the rest only the new folder's manifest is trusted. The
    old folder is left as it is. Returns the notice to give, once."""
    folder = os.path.realpath(config.feeds.dir)  # the same folder by another path is no move
    before = index.meta("feeds_dir")
    if before == folder:
        return []
    if before is None:  # a first build, or a state from before the folder was recorded
        index.set_meta("feeds_dir", folder)
        return []
    recorded = state.feed_files()
    copied = {
        name for name, digest in recorded.items() if _digest(config.feeds.dir / name) == digest
    }
    state.record_feed_files({}, sorted(set(recorded) - copied))
    index.set_meta("feeds_dir", folder)  # after: killed between the two, the next build redoes it
    return [
        f"feeds.dir is now {folder}, was {before}: the feeds there were left as they are "
        "(remove them yourself once nothing serves them)"
    ]


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _taken(new: set[str], folder: Path) -> set[str]:
    """Names we would write for the first time where a file of someone else's stands."""
    return {name for name in new if (folder / name).exists()}


def _newly_taken(taken: set[str], index: PostIndex, config: Config) -> list[str]:
    """A notice for each taken name not reported by an earlier build: said once, not on
    every build."""
    before = set(json.loads(index.meta("taken") or "[]"))
    if taken != before:
        index.set_meta("taken", json.dumps(sorted(taken), ensure_ascii=False))
    return [
        f"{name} exists in the feed folder and was not written by syndicator: left alone "
        "and not updated; move the file away to let syndicator write it (or, if syndicator "
        f"wrote it and its records were lost, add the name to {config.feeds.dir / MANIFEST})"
        for name in sorted(taken - before)
    ]


def _missing(names: list[str] | tuple[str, ...], recorded: dict[str, str], config: Config) -> bool:
    return any(name not in recorded or not (config.feeds.dir / name).exists() for name in names)


def _listing_key(specs: list[FeedSpec], config: Config) -> str:
    """What the feed list (OPML, index.html) is made of: rewrite it only when this changes."""
    made_of = [config_fingerprint(config), config.feeds.formats, config.feeds.base_url]
    made_of += [(spec.kind, spec.slug, spec.name) for spec in specs]
    return hashlib.sha256(json.dumps(made_of, ensure_ascii=False).encode()).hexdigest()


def write_files(
    files: Iterable[tuple[str, bytes]],
    folder: Path,
    state: State,
    report: BuildReport,
    wanted: set[str],
    owned: set[str],
) -> int:
    """Write each file as it comes (a large site's feeds are never all held at once) if its
    bytes changed and its name is ``wanted``; remove the ``owned`` files (those we wrote)
    that are no longer wanted. Returns how many files came."""
    recorded = state.feed_files()
    changed: dict[str, tuple[str, int]] = {}
    count = 0
    for relative, data in files:
        if relative not in wanted:
            continue
        count += 1
        digest = hashlib.sha256(data).hexdigest()
        if write_if_changed(folder / relative, data):
            report.written.append(relative)
        else:
            report.unchanged += 1
        if recorded.get(relative) != digest:
            changed[relative] = (digest, len(data))
    removed = sorted(name for name in owned - wanted if (folder / name).exists())
    removed_records = [name for name in recorded if name not in wanted]
    for relative in removed:
        _remove_feed(folder, relative)
    report.written.sort()
    report.removed = removed
    state.record_feed_files(changed, removed_records)
    return count


def _remove_feed(folder: Path, relative: str) -> None:
    path = folder / relative
    path.unlink(missing_ok=True)
    for parent in path.parents:
        if parent == folder or not parent.is_relative_to(folder):
            break
        try:
            parent.rmdir()
        except OSError:
            break
