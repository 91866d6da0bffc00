"""The TOML config: read, validated strictly, resolved against the config file's folder.

Every key has a default except ``site.url``; an unknown key is an error naming it, so a
typo is caught instead of silently ignored.
"""

from __future__ import annotations

import os
import re
import string
import tomllib
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from syndicator.core.patterns import PatternError, compile_pattern
from syndicator.core.slugs import feed_slug

DEFAULT_CONFIG_PATH = Path("config/syndicator.toml")
FEED_FORMATS = ("rss", "atom", "json")
STATUS_ACCESS = ("local", "public", "off")  # [server] status: who may see /status


def selector_and_attribute(source: str) -> tuple[str, str]:
    """A ``kind = "html"`` field's CSS selector and the attribute after its ``@`` ("" for
    none): the last ``@`` outside brackets and quotes, so ``a[href*="@"]`` is a selector."""
    depth = 0
    quote = ""
    split = -1
    for index, char in enumerate(source):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth = max(0, depth - 1)
        elif char == "@" and depth == 0:
            split = index
    if split < 0:
        return source, ""
    return source[:split], source[split + 1 :].strip()


class ConfigError(Exception):
    """The config cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class SiteConfig:
    url: str
    title: str = "syndicator"
    description: str = ""
    language: str = "en"
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    permalink: str = "/:categories/:year/:month/:day/:title:output_ext"


@dataclass(frozen=True)
class PostsConfig:
    dirs: tuple[Path, ...]
    extensions: tuple[str, ...] = (".md", ".markdown", ".html")
    rescan_interval: float = 60.0  # the daemon's fallback when file events are missed
    # Real posts are tens of KB (the largest of a real finance-news site: 14 KB); a larger
    # file is a mistake or an attack. Building a post costs about six times its size at
    # peak, and every feed it is in carries it whole: 2 MiB keeps the daemon within its
    # memory budget and a feed of such posts within what readers fetch.
    max_bytes: int = 2 * 1024 * 1024
    # Each category and tag is a feed the post is written to: a post naming thousands would
    # make one build write thousands of feeds. Those past this many are left out (and said).
    max_labels: int = 100


@dataclass(frozen=True)
class FeedsConfig:
    dir: Path
    base_url: str
    formats: tuple[str, ...] = FEED_FORMATS
    max_items: int = 50
    content: str = "full"
    site: bool = True
    categories: bool = True
    tags: bool = True
    # Label (a category or tag as posts spell it) → the title its feed is shown with, in
    # feed titles, the OPML and index.html; matched by slug, so any spelling of it works.
    titles: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class AttributionConfig:
    """Patterns that find a post's source in its body, for sites that write it differently.

    Each pattern is a regular expression over the body's text with a named group:
    ``source`` for the name.  ``credit`` matches a closing credit such as ``（财联社）``.
    """

    source_patterns: tuple[str, ...] = (
        r"[（(]\s*文章来源[：:]\s*(?P<source>[^）)]{1,40}?)\s*[）)]",
    )
    credit_pattern: str = r"[（(](?P<source>[^（）()\s，。、；：:,;]{2,20})[）)]\s*$"
    navigation_pattern: str = r"^\s*返回"
    line: str = "（文章来源：{source}）"
    # Source name → its feed's URL, for hand-written posts credited in their body: given
    # only by the operator, never guessed from the upstreams' names.
    source_feeds: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class HooksConfig:
    """A shell command the daemon runs after it imported posts or rewrote feeds (for example
    committing and pushing the site, or running the site's own build)."""

    after_change: str = ""
    timeout: float = 300.0


@dataclass(frozen=True)
class StateConfig:
    path: Path


@dataclass(frozen=True)
class PollingConfig:
    interval: float = 600.0
    min_interval: float = 60.0
    max_interval: float = 86400.0
    timeout: float = 20.0
    max_bytes: int = 10 * 1024 * 1024
    backfill: int = 20
    allow_private_addresses: bool = False
    # Zone abbreviation → the UTC offset upstreams mean by it ("CST" → "+08:00"): dates read
    # it so before feedparser and email.utils would (as US Central Time, for CST).
    zones: tuple[tuple[str, str], ...] = ()
    # Seconds between two requests to one host for items' detail requests and full text
    # (one at a time per host, besides): politeness towards sites that are not feeds.
    per_host_delay: float = 1.0


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    max_age: float = 60.0  # Cache-Control max-age for served files
    # Who may see /status (upstream URLs, errors): "local" (the loopback address only),
    # "public" (anyone), "off" (not served).
    status: str = "local"


UPSTREAM_KINDS = ("feed", "json", "html")
ITEM_FIELDS = ("id", "title", "link", "date", "summary", "content", "author", "image")
POST_NAME_FIELDS = ("date", "id", "slug", "hash")


@dataclass(frozen=True)
class FieldRule:
    """Where an item's field is found: a JMESPath expression (``kind = "json"``) or a CSS
    selector, with ``@attribute`` for an attribute (``kind = "html"``); ``remove`` is a
    regular expression whose every match is deleted from the value (``^【[^】]*】``)."""

    source: str
    remove: str | None = None


@dataclass(frozen=True)
class DetailConfig:
    """A request per new item: ``url`` a template over the item's fields, ``fields`` read
    from its answer and taking the place of the item's own."""

    url: str
    fields: tuple[tuple[str, FieldRule], ...] = ()


@dataclass(frozen=True)
class WebSubConfig:
    """WebSub: the hubs our feeds name and announce to, and the hub the daemon can be."""

    hubs: tuple[str, ...] = ()  # hubs told (hub.mode=publish) of every changed feed
    hub: bool = False  # the daemon is a hub for its own feeds at /websub
    hub_url: str = ""  # where subscribers reach that hub: feeds.base_url + "/websub"
    allow_private_callbacks: bool = False
    default_lease: float = 10 * 86400.0  # when a subscriber asks for none
    min_lease: float = 3600.0
    max_lease: float = 30 * 86400.0
    # One host cannot fill the state (or our delivery queue) with subscriptions.
    max_subscriptions_per_host: int = 1000
    delivery_concurrency: int = 8  # deliveries and verifications in flight at once
    # The public URL at which hubs reach this daemon: set, upstreams that name a hub are
    # subscribed to (pushed items arrive in seconds, polling slows to max_interval).
    callback_base_url: str = ""

    @property
    def advertised_hubs(self) -> tuple[str, ...]:
        """The hubs every feed names (rel="hub"): our own first when we are one."""
        own = (self.hub_url,) if self.hub else ()
        return tuple(dict.fromkeys(own + self.hubs))


@dataclass(frozen=True)
class UpstreamConfig:
    name: str
    url: str
    category: str
    tags: tuple[str, ...] = ()
    interval: float | None = None
    id: str | None = None
    zones: tuple[tuple[str, str], ...] = ()  # over [polling] zones, for this upstream
    kind: str = "feed"  # feed, json or html
    items: str = ""  # json: a JMESPath to the list of items; html: a CSS selector
    fields: tuple[tuple[str, FieldRule], ...] = ()
    date_format: str = ""  # strftime, for dates neither ISO 8601 nor RFC 822
    timezone: ZoneInfo | None = None  # for dates without an offset; None: the site's
    detail: DetailConfig | None = None
    full_text: bool = False
    content_selector: str = ""  # the article's element, instead of the extractor's guess
    respect_robots: bool = True
    post_name: str = ""  # a template over {date} {id} {slug} {hash}; "": title slug and hash
    keep: str = ""  # only items whose title or summary match
    block: str = ""  # no item whose title or summary match

    @property
    def enriched(self) -> bool:
        """Whether each new item needs requests of its own (a detail request, full text)."""
        return self.detail is not None or self.full_text

    @property
    def key(self) -> str:
        """The upstream's identity in the state: its ``id`` if given, else its URL, so that
        editing its name, category, tags or interval never imports its entries again."""
        return self.id or self.url


@dataclass(frozen=True)
class Config:
    path: Path
    site: SiteConfig
    posts: PostsConfig
    feeds: FeedsConfig
    attribution: AttributionConfig
    state: StateConfig
    polling: PollingConfig
    server: ServerConfig
    hooks: HooksConfig = field(default_factory=HooksConfig)
    upstreams: tuple[UpstreamConfig, ...] = ()
    websub: WebSubConfig = field(default_factory=WebSubConfig)


_ZONE_ABBREVIATION = re.compile(r"[A-Za-z]{2,5}")
_UTC_OFFSET = re.compile(r"(?P<sign>[+-])(?P<hours>\d\d):?(?P<minutes>\d\d)")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> float:
    """Seconds from ``"30s"``, ``"10m"``, ``"2h"``, ``"1d"`` or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    else:
        raise ValueError(f'{value!r} is not a duration (write "30s", "10m", "2h", "1d" or seconds)')
    if seconds <= 0:
        raise ValueError(f"{value!r} must be more than zero")
    return seconds


def config_path_from(option: str | os.PathLike[str] | None) -> Path:
    """``--config``, else ``$SYNDICATOR_CONFIG``, else ``config/syndicator.toml``."""
    if option:
        return Path(option)
    if env := os.environ.get("SYNDICATOR_CONFIG"):
        return Path(env)
    return DEFAULT_CONFIG_PATH


def load_config(path: Path) -> Config:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file (pass --config PATH)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
    return parse_config(raw, path)


def parse_config(raw: dict[str, Any], path: Path) -> Config:
    reader = _Reader(path)
    return reader.config(raw)


class _Reader:
    """Turns the TOML tables into config objects, naming ``file: key`` in every error."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.base = path.resolve().parent

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key}: {message}")

    def config(self, raw: dict[str, Any]) -> Config:
        self.no_unknown_keys(
            raw,
            "",
            {
                "site",
                "posts",
                "feeds",
                "attribution",
                "state",
                "polling",
                "server",
                "hooks",
                "upstreams",
                "websub",
            },
        )
        site = self.site(self.table(raw, "site"))
        posts = self.posts(self.table(raw, "posts"))
        feeds = self.feeds(self.table(raw, "feeds"), site)
        attribution = self.attribution(self.table(raw, "attribution"))
        state = self.state(self.table(raw, "state"))
        polling = self.polling(self.table(raw, "polling"), site)
        server = self.server(self.table(raw, "server"))
        upstreams = self.upstreams(raw.get("upstreams", []))
        self.feeds_dir_apart(feeds.dir, posts.dirs, state.path)
        return Config(
            path=self.path,
            site=site,
            posts=posts,
            feeds=feeds,
            attribution=attribution,
            state=state,
            polling=polling,
            server=server,
            hooks=self.hooks(self.table(raw, "hooks")),
            upstreams=upstreams,
            websub=self.websub(self.table(raw, "websub"), feeds),
        )

    def table(self, raw: dict[str, Any], key: str) -> dict[str, Any]:
        value = raw.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table ([{key}])")
        return value

    def no_unknown_keys(self, table: dict[str, Any], prefix: str, known: set[str]) -> None:
        for key in table:
            if key not in known:
                expected = ", ".join(sorted(known))
                raise self.fail(f"{prefix}{key}", f"unknown key (expected one of: {expected})")

    def section_keys(self, table: dict[str, Any], prefix: str, cls: type) -> None:
        self.no_unknown_keys(table, prefix, {f.name for f in fields(cls)})

    def string(self, table: dict[str, Any], key: str, prefix: str, default: str) -> str:
        value = table.get(key, default)
        if not isinstance(value, str):
            raise self.fail(prefix + key, f"must be a string, not {value!r}")
        return value

    def text(self, table: dict[str, Any], key: str, prefix: str, default: str) -> str:
        """A string readers see (a title, a name): no control characters, which XML cannot
        carry: a feed holding one could never be written."""
        value = self.string(table, key, prefix, default)
        self.no_control_characters(value, prefix + key)
        return value

    def no_control_characters(self, value: str, key: str) -> None:
        if bad := next((ch for ch in value if _is_control(ch)), None):
            raise self.fail(
                key,
                f"holds the control character U+{ord(bad):04X}, which no feed can carry; remove it",
            )

    def strings(
        self, table: dict[str, Any], key: str, prefix: str, default: tuple[str, ...]
    ) -> tuple[str, ...]:
        value = table.get(key, list(default))
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(prefix + key, f"must be a list of strings, not {value!r}")
        return tuple(value)

    def boolean(self, table: dict[str, Any], key: str, prefix: str, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(prefix + key, f"must be true or false, not {value!r}")
        return value

    def integer(self, table: dict[str, Any], key: str, prefix: str, default: int, low: int) -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.fail(prefix + key, f"must be a whole number >= {low}, not {value!r}")
        return value

    def duration(self, table: dict[str, Any], key: str, prefix: str, default: float) -> float:
        try:
            return parse_duration(table.get(key, default))
        except ValueError as error:
            raise self.fail(prefix + key, str(error)) from None

    def delay(self, table: dict[str, Any], key: str, prefix: str, default: float) -> float:
        """A duration that may be zero."""
        value = table.get(key, default)
        if value == 0 and not isinstance(value, bool):
            return 0.0
        return self.duration(table, key, prefix, default)

    def path_value(self, value: str, key: str) -> Path:
        if "\x00" in value:
            raise self.fail(key, f"{value!r} holds a NUL character; no file name can")
        try:
            resolved = (self.base / value).resolve()  # an absolute value stays as given
        except (RuntimeError, OSError) as error:  # RuntimeError: a loop of links
            raise self.fail(key, f"{value!r} cannot be followed ({error})") from None
        return Path(value) if Path(value).is_absolute() else resolved

    def absolute_url(self, value: str, key: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise self.fail(key, f"must be an absolute http(s) URL, not {value!r}")
        return value.rstrip("/")

    def url_as_written(self, value: str, key: str) -> str:
        """An absolute http(s) URL, kept as written (a hub's trailing slash may matter)."""
        self.absolute_url(value, key)
        return value

    def site(self, table: dict[str, Any]) -> SiteConfig:
        self.section_keys(table, "site.", SiteConfig)
        if "url" not in table:
            raise self.fail("site.url", 'is required: the absolute URL of the site, "https://…"')
        url = self.absolute_url(self.string(table, "url", "site.", ""), "site.url")
        zone_name = self.string(table, "timezone", "site.", "UTC")
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail(
                "site.timezone", f"unknown time zone {zone_name!r} (e.g. Asia/Shanghai)"
            ) from None
        defaults = SiteConfig(url=url)
        return SiteConfig(
            url=url,
            title=self.text(table, "title", "site.", defaults.title),
            description=self.text(table, "description", "site.", defaults.description),
            language=self.string(table, "language", "site.", defaults.language),
            timezone=zone,
            permalink=self.string(table, "permalink", "site.", defaults.permalink),
        )

    def posts(self, table: dict[str, Any]) -> PostsConfig:
        self.section_keys(table, "posts.", PostsConfig)
        dirs = self.strings(table, "dirs", "posts.", ("_posts",))
        if not dirs:
            raise self.fail("posts.dirs", "needs at least one folder")
        extensions = self.strings(table, "extensions", "posts.", PostsConfig.extensions)
        for extension in extensions:
            if not extension.startswith("."):
                raise self.fail("posts.extensions", f"{extension!r} must start with a dot")
        return PostsConfig(
            dirs=tuple(self.path_value(d, "posts.dirs") for d in dirs),
            extensions=tuple(e.lower() for e in extensions),
            rescan_interval=self.duration(table, "rescan_interval", "posts.", 60.0),
            max_bytes=self.integer(table, "max_bytes", "posts.", PostsConfig.max_bytes, 1024),
            max_labels=self.integer(table, "max_labels", "posts.", PostsConfig.max_labels, 1),
        )

    def feeds(self, table: dict[str, Any], site: SiteConfig) -> FeedsConfig:
        self.section_keys(table, "feeds.", FeedsConfig)
        base_url = self.string(table, "base_url", "feeds.", "")
        base_url = (
            self.absolute_url(base_url, "feeds.base_url") if base_url else site.url + "/feeds"
        )
        formats = self.strings(table, "formats", "feeds.", FEED_FORMATS)
        for name in formats:
            if name not in FEED_FORMATS:
                raise self.fail("feeds.formats", f"unknown format {name!r} (rss, atom, json)")
        content = self.string(table, "content", "feeds.", "full")
        if content not in ("full", "summary"):
            raise self.fail("feeds.content", f'must be "full" or "summary", not {content!r}')
        return FeedsConfig(
            dir=self.path_value(self.string(table, "dir", "feeds.", "feeds"), "feeds.dir"),
            base_url=base_url,
            formats=tuple(dict.fromkeys(formats)),
            max_items=self.integer(table, "max_items", "feeds.", 50, 1),
            content=content,
            site=self.boolean(table, "site", "feeds.", True),
            categories=self.boolean(table, "categories", "feeds.", True),
            tags=self.boolean(table, "tags", "feeds.", True),
            titles=self.titles(table.get("titles", {})),
        )

    def titles(self, table: object) -> tuple[tuple[str, str], ...]:
        if not isinstance(table, dict):
            raise self.fail("feeds.titles", "must be a table ([feeds.titles])")
        slugs: dict[str, str] = {}
        for label, title in table.items():
            if not isinstance(title, str) or not title.strip():
                raise self.fail(f"feeds.titles.{label}", "must be a title string")
            self.no_control_characters(title, f"feeds.titles.{label}")
            if (other := slugs.setdefault(feed_slug(label), label)) != label:
                raise self.fail(
                    f"feeds.titles.{label}",
                    f"names the same feed as feeds.titles.{other} (labels match in any "
                    "spelling); keep one",
                )
        return tuple(sorted(table.items()))

    def feeds_dir_apart(self, feeds: Path, posts: tuple[Path, ...], state: Path) -> None:
        """``feeds.dir`` is a folder of syndicator's own: the build writes into it and removes
        what it wrote there, so it may not be, hold or sit in what the operator keeps."""
        where = feeds.resolve()
        clash = None
        if where == Path(where.anchor):
            clash = "is the root of the file system"
        elif where == self.base or where in self.base.parents:
            clash = f"holds the config's own folder {self.base}"
        elif where == state.resolve().parent or where in state.resolve().parents:
            clash = f"holds the state file {state}"
        for folder in posts:
            folder = folder.resolve()
            if where == folder or folder in where.parents or where in folder.parents:
                clash = clash or f"overlaps the post folder {folder} (posts.dirs)"
        if clash:
            raise self.fail(
                "feeds.dir",
                f'{feeds} {clash}; give the feeds a folder of their own, such as "feeds"',
            )

    def attribution(self, table: dict[str, Any]) -> AttributionConfig:
        self.section_keys(table, "attribution.", AttributionConfig)
        defaults = AttributionConfig()
        config = AttributionConfig(
            source_patterns=self.strings(
                table, "source_patterns", "attribution.", defaults.source_patterns
            ),
            credit_pattern=self.string(
                table, "credit_pattern", "attribution.", defaults.credit_pattern
            ),
            navigation_pattern=self.string(
                table, "navigation_pattern", "attribution.", defaults.navigation_pattern
            ),
            line=self.string(table, "line", "attribution.", defaults.line),
            source_feeds=self.source_feeds(self.table(table, "source_feeds")),
        )
        for key, pattern in [
            *(("source_patterns", p) for p in config.source_patterns),
            ("credit_pattern", config.credit_pattern),
            ("navigation_pattern", config.navigation_pattern),
        ]:
            self.regex(pattern, f"attribution.{key}", needs_source=key != "navigation_pattern")
        self.line_template(config.line)
        return config

    def line_template(self, line: str) -> None:
        """``attribution.line`` takes exactly one placeholder, ``{source}``: anything else
        would fail only when a build formats it."""
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(line) if name is not None}
        except ValueError as error:
            raise self.fail(
                "attribution.line", f"{line!r}: {error} (write a brace as {{{{ or }}}})"
            ) from None
        if fields != {"source"}:
            others = ", ".join(sorted(f"{{{name}}}" for name in fields - {"source"}))
            problem = f"has {others}" if others else "must contain {source}"
            raise self.fail("attribution.line", f"{line!r} {problem}; only {{source}} is known")

    def source_feeds(self, table: dict[str, Any]) -> tuple[tuple[str, str], ...]:
        for name, url in table.items():
            if not isinstance(url, str):
                raise self.fail(f"attribution.source_feeds.{name}", "must be a feed URL string")
            self.absolute_url(url, f"attribution.source_feeds.{name}")
        return tuple(sorted(table.items()))

    def regex(self, pattern: str, key: str, needs_source: bool) -> None:
        try:
            compiled = re.compile(pattern)
        except re.error as error:
            raise self.fail(key, f"invalid regular expression {pattern!r}: {error}") from None
        if needs_source and "source" not in compiled.groupindex:
            raise self.fail(key, f"{pattern!r} needs a named group (?P<source>…)")

    def upstream_pattern(self, pattern: str, key: str) -> None:
        """A pattern that runs over upstream text: RE2's (syndicator/core/patterns.py)."""
        try:
            compile_pattern(pattern)
        except PatternError as error:
            raise self.fail(key, f"invalid regular expression {pattern!r}: {error}") from None

    def state(self, table: dict[str, Any]) -> StateConfig:
        self.section_keys(table, "state.", StateConfig)
        return StateConfig(
            path=self.path_value(
                self.string(table, "path", "state.", "var/syndicator.db"), "state.path"
            )
        )

    def polling(self, table: dict[str, Any], site: SiteConfig) -> PollingConfig:
        self.section_keys(table, "polling.", PollingConfig)
        d = PollingConfig()
        polling = PollingConfig(
            interval=self.duration(table, "interval", "polling.", d.interval),
            min_interval=self.duration(table, "min_interval", "polling.", d.min_interval),
            max_interval=self.duration(table, "max_interval", "polling.", d.max_interval),
            timeout=self.duration(table, "timeout", "polling.", d.timeout),
            max_bytes=self.integer(table, "max_bytes", "polling.", d.max_bytes, 1024),
            backfill=self.integer(table, "backfill", "polling.", d.backfill, 0),
            allow_private_addresses=self.boolean(
                table, "allow_private_addresses", "polling.", d.allow_private_addresses
            ),
            zones=self.zones(table, "polling.", site_zones(site.timezone)),
            per_host_delay=self.delay(table, "per_host_delay", "polling.", d.per_host_delay),
        )
        if polling.min_interval > polling.max_interval:
            raise self.fail("polling.min_interval", "is more than polling.max_interval")
        return polling

    def server(self, table: dict[str, Any]) -> ServerConfig:
        self.section_keys(table, "server.", ServerConfig)
        port = self.integer(table, "port", "server.", 8080, 0)
        if port > 65535:
            raise self.fail("server.port", f"{port} is not a TCP port")
        return ServerConfig(
            host=self.string(table, "host", "server.", "127.0.0.1"),
            port=port,
            max_age=self.duration(table, "max_age", "server.", ServerConfig.max_age),
            status=self.choice(table, "status", "server.", STATUS_ACCESS),
        )

    def choice(self, table: dict[str, Any], key: str, prefix: str, allowed: tuple[str, ...]) -> str:
        """One of ``allowed``; the first when absent."""
        value = self.string(table, key, prefix, allowed[0])
        if value not in allowed:
            raise self.fail(
                prefix + key, f"must be {' or '.join(map(repr, allowed))}, not {value!r}"
            )
        return value

    def hooks(self, table: dict[str, Any]) -> HooksConfig:
        self.section_keys(table, "hooks.", HooksConfig)
        return HooksConfig(
            after_change=self.string(table, "after_change", "hooks.", ""),
            timeout=self.duration(table, "timeout", "hooks.", HooksConfig.timeout),
        )

    def websub(self, table: dict[str, Any], feeds: FeedsConfig) -> WebSubConfig:
        self.section_keys(table, "websub.", WebSubConfig)
        prefix = "websub."
        # Kept as written (a hub's trailing slash may matter to it).
        hubs = tuple(
            self.absolute_url(url, "websub.hubs") and url
            for url in self.strings(table, "hubs", prefix, ())
        )
        hub_url = self.string(table, "hub_url", prefix, "")
        leases = {
            key: self.duration(table, key, prefix, getattr(WebSubConfig, key))
            for key in ("default_lease", "min_lease", "max_lease")
        }
        if not leases["min_lease"] <= leases["default_lease"] <= leases["max_lease"]:
            raise self.fail(
                "websub.default_lease", "must lie within websub.min_lease and websub.max_lease"
            )
        return WebSubConfig(
            hubs=tuple(dict.fromkeys(hubs)),
            hub=self.boolean(table, "hub", prefix, False),
            hub_url=(
                self.url_as_written(hub_url, "websub.hub_url")
                if hub_url
                else feeds.base_url + "/websub"
            ),
            allow_private_callbacks=self.boolean(table, "allow_private_callbacks", prefix, False),
            max_subscriptions_per_host=self.integer(
                table, "max_subscriptions_per_host", prefix, 1000, 1
            ),
            delivery_concurrency=self.integer(table, "delivery_concurrency", prefix, 8, 1),
            callback_base_url=(
                self.absolute_url(callback, "websub.callback_base_url")
                if (callback := self.string(table, "callback_base_url", prefix, ""))
                else ""
            ),
            **leases,
        )

    def upstreams(self, value: object) -> tuple[UpstreamConfig, ...]:
        if not isinstance(value, list):
            raise self.fail("upstreams", "must be an array of tables ([[upstreams]])")
        upstreams = tuple(self.upstream(item, i) for i, item in enumerate(value))
        names: set[str] = set()
        keys: set[str] = set()
        for upstream in upstreams:
            if upstream.name in names:
                raise self.fail("upstreams", f"two upstreams are named {upstream.name!r}")
            if upstream.key in keys:
                what = f"id {upstream.id!r}" if upstream.id else f"URL {upstream.url}"
                raise self.fail(
                    "upstreams",
                    f'two upstreams have the {what}; give each an id of its own (id = "…")',
                )
            names.add(upstream.name)
            keys.add(upstream.key)
        return upstreams

    def upstream(self, table: object, index: int) -> UpstreamConfig:
        prefix = f"upstreams[{index}]."
        if not isinstance(table, dict):
            raise self.fail(prefix.rstrip("."), "must be a table")
        self.section_keys(table, prefix, UpstreamConfig)
        for key in ("name", "url", "category"):
            if key not in table:
                raise self.fail(prefix + key, "is required")
        name = self.text(table, "name", prefix, "").strip()
        if not name:
            raise self.fail(prefix + "name", "must not be empty")
        prefix = f"upstreams[{index}] ({name})."
        url = self.string(table, "url", prefix, "")
        self.absolute_url(url, prefix + "url")
        interval = self.duration(table, "interval", prefix, 1) if "interval" in table else None
        upstream_id = self.string(table, "id", prefix, "").strip() if "id" in table else None
        if upstream_id == "":
            raise self.fail(prefix + "id", "must not be empty (or leave it out: the URL is used)")
        kind = self.string(table, "kind", prefix, "feed")
        if kind not in UPSTREAM_KINDS:
            raise self.fail(prefix + "kind", f'must be "feed", "json" or "html", not {kind!r}')
        items = self.string(table, "items", prefix, "")
        if kind != "feed" and not items:
            raise self.fail(
                prefix + "items",
                "is required for this kind: a JMESPath expression to the list of items (json) "
                'or a CSS selector of each item (html), such as "records" or "ul.news li"',
            )
        if kind != "feed":
            self.expression(items, prefix + "items", kind)
        fields = self.field_rules(self.table(table, "fields"), prefix + "fields.", kind)
        if kind == "feed" and (items or fields):
            raise self.fail(prefix + "items", 'items and fields are for kind = "json" or "html"')
        detail = self.detail(table, prefix, kind, fields)
        if kind == "feed" and "date_format" in table:
            raise self.fail(
                prefix + "date_format",
                'is for kind = "json" or "html" (a feed\'s dates are RFC 822 or ISO 8601)',
            )
        if table.get("content_selector") and not table.get("full_text"):
            raise self.fail(prefix + "content_selector", "is used only with full_text = true")
        keep, block = (self.string(table, key, prefix, "") for key in ("keep", "block"))
        for key, pattern in (("keep", keep), ("block", block)):
            if pattern:
                self.upstream_pattern(pattern, prefix + key)
        return UpstreamConfig(
            name=name,
            url=url,
            category=self.string(table, "category", prefix, ""),
            tags=self.strings(table, "tags", prefix, ()),
            interval=interval,
            id=upstream_id,
            zones=self.zones(table, prefix, ()),
            kind=kind,
            items=items,
            fields=fields,
            date_format=self.date_format(table, prefix),
            timezone=self.zone(table, prefix) if "timezone" in table else None,
            detail=detail,
            full_text=self.boolean(table, "full_text", prefix, False),
            content_selector=self.selector(table, "content_selector", prefix),
            respect_robots=self.boolean(table, "respect_robots", prefix, True),
            post_name=self.post_name(table, prefix),
            keep=keep,
            block=block,
        )

    def field_rules(
        self, table: dict[str, Any], prefix: str, kind: str, extra: frozenset[str] = frozenset()
    ) -> tuple[tuple[str, FieldRule], ...]:
        """``[upstreams.fields]``: each field an expression, or ``{ from = "…", remove = "…" }``."""
        rules = []
        for name, value in table.items():
            if name in extra:
                continue
            key = prefix + name
            if name not in ITEM_FIELDS:
                raise self.fail(key, f"unknown field (expected one of: {', '.join(ITEM_FIELDS)})")
            if isinstance(value, str):
                rule = FieldRule(value)
            elif isinstance(value, dict) and isinstance(value.get("from"), str):
                self.no_unknown_keys(value, key + ".", {"from", "remove"})
                remove = self.string(value, "remove", key + ".", "") or None
                if remove:
                    self.upstream_pattern(remove, key + ".remove")
                rule = FieldRule(value["from"], remove)
            else:
                raise self.fail(
                    key,
                    'must be an expression string or a table { from = "…", remove = "regex" }, '
                    f"not {value!r}",
                )
            self.expression(rule.source, key, kind)
            rules.append((name, rule))
        return tuple(rules)

    def expression(self, source: str, key: str, kind: str) -> None:
        """Check a JMESPath expression or a CSS selector now, not at the first poll."""
        if not source.strip():
            raise self.fail(key, "must not be empty")
        if kind == "json":
            import jmespath
            from jmespath.exceptions import ParseError

            try:
                jmespath.compile(source)
            except ParseError as error:
                raise self.fail(key, f"{source!r} is not a JMESPath expression: {error}") from None
        elif kind == "html":
            from cssselect import SelectorError, parse

            selector = selector_and_attribute(source)[0]
            try:
                if selector.strip():
                    parse(selector)
            except SelectorError as error:
                raise self.fail(key, f"{source!r} is not a CSS selector: {error}") from None

    def detail(
        self,
        table: dict[str, Any],
        prefix: str,
        kind: str,
        fields: tuple[tuple[str, FieldRule], ...],
    ) -> DetailConfig | None:
        if "detail" not in table:
            return None
        raw = self.table(table, "detail")
        key = prefix + "detail."
        if kind == "feed":
            raise self.fail(key.rstrip("."), 'is for kind = "json" or "html"')
        url = self.string(raw, "url", key, "")
        if not url:
            raise self.fail(key + "url", 'is required: a template such as "https://…?id={id}"')
        known = {name for name, _ in fields}
        names = set(self.placeholders(url, key + "url"))
        if not names <= known:
            missing = ", ".join(sorted(f"{{{n}}}" for n in names - known))
            raise self.fail(
                key + "url", f"{url!r} uses {missing}, which [upstreams.fields] does not map"
            )
        rules = self.field_rules(raw, key, kind, extra=frozenset({"url"}))
        return DetailConfig(url=url, fields=rules)

    def date_format(self, table: dict[str, Any], prefix: str) -> str:
        value = self.string(table, "date_format", prefix, "")
        if value and "%" not in value:
            raise self.fail(prefix + "date_format", f'{value!r} is not strftime ("%Y-%m-%d …")')
        return value

    def zone(self, table: dict[str, Any], prefix: str) -> ZoneInfo:
        name = self.string(table, "timezone", prefix, "")
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail(
                prefix + "timezone", f"unknown time zone {name!r} (e.g. Asia/Shanghai)"
            ) from None

    def selector(self, table: dict[str, Any], key: str, prefix: str) -> str:
        value = self.string(table, key, prefix, "")
        if value:
            self.expression(value, prefix + key, "html")
        return value

    def placeholders(self, template: str, key: str) -> list[str]:
        """The names of the template's placeholders, each a bare ``{name}``: a format spec
        or a conversion (``{id:d}``, ``{id:>99}``, ``{id!r}``) would fail or change the
        result at every poll, not here."""
        try:
            parts = list(string.Formatter().parse(template))
        except ValueError as error:
            raise self.fail(
                key, f"{template!r}: {error} (write a literal brace as {{{{ or }}}})"
            ) from None
        for _, name, spec, conversion in parts:
            if name is not None and (spec or conversion):
                written = f"{{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}"
                raise self.fail(
                    key,
                    f"{template!r}: {written} is not allowed: placeholders are bare names "
                    f"such as {{{name or 'id'}}}, with no format spec or conversion",
                )
        return [name for _, name, _, _ in parts if name is not None]

    def post_name(self, table: dict[str, Any], prefix: str) -> str:
        value = self.string(table, "post_name", prefix, "")
        if not value:
            return ""
        names = self.placeholders(value, prefix + "post_name")
        unknown = [n for n in names if n not in POST_NAME_FIELDS]
        if unknown or not names:
            raise self.fail(
                prefix + "post_name",
                f"{value!r}: use {{date}}, {{id}}, {{slug}} and {{hash}} only, at least one",
            )
        if "/" in value or "\\" in value:
            raise self.fail(prefix + "post_name", f"{value!r}: a file name, not a path")
        if not value.startswith("{date}-") or value == "{date}-":
            raise self.fail(
                prefix + "post_name",
                f'{value!r} must start with "{{date}}-" and name more after it '
                '(Jekyll reads only posts named YYYY-MM-DD-…), such as "{date}-{id}"',
            )
        return value

    def zones(
        self, table: dict[str, Any], prefix: str, default: tuple[tuple[str, str], ...]
    ) -> tuple[tuple[str, str], ...]:
        """A ``zones`` table: abbreviations (upper-cased) and the offsets they stand for."""
        if "zones" not in table:
            return default
        value = table["zones"]
        if not isinstance(value, dict):
            raise self.fail(
                prefix + "zones",
                f'must be a table of abbreviations and offsets, such as {{ CST = "+08:00" }}, '
                f"not {value!r}",
            )
        zones = []
        for name, offset in value.items():
            key = f"{prefix}zones.{name}"
            if not _ZONE_ABBREVIATION.fullmatch(name):
                raise self.fail(key, "is not a zone abbreviation (2 to 5 letters, such as CST)")
            found = _UTC_OFFSET.fullmatch(offset.strip()) if isinstance(offset, str) else None
            if found is None or int(found["minutes"]) > 59 or int(found["hours"]) > 14:
                raise self.fail(key, f'{offset!r} is not a UTC offset; write one like "+08:00"')
            zones.append((name.upper(), f"{found['sign']}{found['hours']}:{found['minutes']}"))
        return tuple(sorted(zones))


def site_zones(zone: ZoneInfo) -> tuple[tuple[str, str], ...]:
    """``[polling] zones`` when the config gives none: what a site in ``zone`` means by the
    abbreviations that name different zones on different continents. "CST" is China Standard
    Time to a site eight hours ahead of UTC (China, Taiwan); elsewhere feedparser's reading,
    US Central Time, stands."""
    if datetime.now(zone).utcoffset() == timedelta(hours=8):
        return (("CST", "+08:00"),)
    return ()


def upstream_toml(upstream: UpstreamConfig) -> str:
    """An ``[[upstreams]]`` block for the config file that parses whatever the names hold."""
    lines = [
        "[[upstreams]]",
        f"name = {toml_string(upstream.name)}",
        f"url = {toml_string(upstream.url)}",
        f"category = {toml_string(upstream.category)}",
        f"tags = [{', '.join(toml_string(t) for t in upstream.tags)}]",
    ]
    return "\n".join(lines)


# TOML basic strings take every character but these as it is (DEL and the C1 controls are
# escaped too: they are invisible where the block is pasted).
_TOML_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}
_TOML_CONTROL = re.compile(r'[\x00-\x1f"\\\x7f-\x9f\u2028\u2029]')


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string."""
    return '"' + _TOML_CONTROL.sub(_toml_escape, text) + '"'


def _toml_escape(match: re.Match[str]) -> str:
    char = match.group()
    return _TOML_ESCAPES.get(char) or f"\\u{ord(char):04x}"


def _is_control(character: str) -> bool:
    """What XML 1.0 cannot carry: the C0 controls but tab, line feed and carriage return,
    and the two non-characters U+FFFE and U+FFFF."""
    return (ord(character) < 0x20 and character not in "\t\n\r") or character in "\ufffe\uffff"
