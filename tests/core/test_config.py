"""The TOML config: defaults, strict keys and types, durations, paths, patterns, location."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from syndicator.core.config import (
    DEFAULT_CONFIG_PATH,
    ConfigError,
    config_path_from,
    load_config,
    parse_duration,
)

MINIMAL = '[site]\nurl = "https://finews.example.com"\n'


def test_defaults(config_from, tmp_path):
    config = config_from(MINIMAL)
    base = tmp_path.resolve()
    assert config.site.url == "https://finews.example.com"
    assert config.site.title == "syndicator"
    assert config.site.language == "en"
    assert str(config.site.timezone) == "UTC"
    assert config.site.permalink == "/:categories/:year/:month/:day/:title:output_ext"
    assert config.posts.dirs == (base / "_posts",)
    assert config.posts.extensions == (".md", ".markdown", ".html")
    assert config.posts.max_labels == 100
    assert config.feeds.dir == base / "feeds"
    assert config.feeds.base_url == "https://finews.example.com/feeds"
    assert config.feeds.formats == ("rss", "atom", "json")
    assert config.feeds.max_items == 50
    assert config.feeds.content == "full"
    assert (config.feeds.site, config.feeds.categories, config.feeds.tags) == (True, True, True)
    assert config.state.path == base / "var" / "syndicator.db"
    polling = config.polling
    assert (polling.interval, polling.min_interval, polling.max_interval) == (600, 60, 86400)
    assert (polling.timeout, polling.max_bytes, polling.backfill) == (20, 10 * 1024 * 1024, 20)
    assert polling.allow_private_addresses is False
    assert (config.server.host, config.server.port) == ("127.0.0.1", 8080)
    assert config.upstreams == ()


def test_site_url_trailing_slash_dropped_and_base_url_follows(config_from):
    config = config_from('[site]\nurl = "https://finews.example.com/"\n')
    assert config.site.url == "https://finews.example.com"
    assert config.feeds.base_url == "https://finews.example.com/feeds"


def test_explicit_base_url(config_from):
    config = config_from(MINIMAL + '[feeds]\nbase_url = "https://cdn.example.net/f/"\n')
    assert config.feeds.base_url == "https://cdn.example.net/f"


@pytest.mark.parametrize("text", ["", '[site]\ntitle = "x"\n'])
def test_site_url_is_required(config_from, text):
    with pytest.raises(ConfigError, match=r"site\.url.*required"):
        config_from(text)


@pytest.mark.parametrize("url", ["finews.example.com", "/feeds", "ftp://example.com", "https://"])
def test_site_url_must_be_absolute_http(config_from, url):
    with pytest.raises(ConfigError, match=r"site\.url"):
        config_from(f'[site]\nurl = "{url}"\n')


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ('[sitee]\nurl = "x"\n', "sitee"),
        ("[feeds]\nmax_item = 3\n", "feeds.max_item"),
        ('[polling]\nintervall = "1m"\n', "polling.intervall"),
        ('[server]\nbind = "0.0.0.0"\n', "server.bind"),
        ('[attribution]\npattern = "x"\n', "attribution.pattern"),
        (
            '[[upstreams]]\nname = "A"\nurl = "https://a.example/rss"\ncategory = "a"\n'
            'intervall = "1m"\n',
            "intervall",
        ),
    ],
)
def test_unknown_key_is_an_error_naming_it(config_from, extra, named):
    with pytest.raises(ConfigError) as caught:
        config_from(MINIMAL + extra)
    assert named in str(caught.value)
    assert "unknown key" in str(caught.value)


def test_unknown_site_key_named(config_from):
    with pytest.raises(ConfigError, match=r"site\.titel"):
        config_from(MINIMAL + 'titel = "x"\n')


def test_unknown_upstream_key_names_the_upstream(config_from):
    text = MINIMAL + '[[upstreams]]\nname = "中国网财经"\nurl = "https://a.example/rss"\n'
    text += 'category = "a"\ncolour = "red"\n'
    with pytest.raises(ConfigError) as caught:
        config_from(text)
    assert "upstreams[0]" in str(caught.value)
    assert "colour" in str(caught.value)


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ('[feeds]\nmax_items = "50"\n', "feeds.max_items"),
        ("[feeds]\nmax_items = 0\n", "feeds.max_items"),
        ("[feeds]\nmax_items = true\n", "feeds.max_items"),
        ('[feeds]\nsite = "yes"\n', "feeds.site"),
        ('[feeds]\nformats = ["rss", "xml"]\n', "feeds.formats"),
        ('[feeds]\ncontent = "partial"\n', "feeds.content"),
        ("[feeds]\ndir = 3\n", "feeds.dir"),
        ("[posts]\ndirs = 3\n", "posts.dirs"),
        ("[posts]\ndirs = []\n", "posts.dirs"),
        ('[posts]\nextensions = ["md"]\n', "posts.extensions"),
        ("[posts]\nmax_labels = 0\n", "posts.max_labels"),
        ('[posts]\nmax_labels = "100"\n', "posts.max_labels"),
        ("[server]\nport = 70000\n", "server.port"),
        ('[server]\nport = "80"\n', "server.port"),
        ('[server]\nstatus = "private"\n', "server.status"),
        ("[server]\nstatus = true\n", "server.status"),
        ("[feeds.titles]\nnews = 3\n", "feeds.titles.news"),
        ('[feeds.titles]\nnews = ""\n', "feeds.titles.news"),
        ('[feeds]\ntitles = "x"\n', "feeds.titles"),
        ("[polling]\nmax_bytes = 10\n", "polling.max_bytes"),
        ('[polling]\nallow_private_addresses = "no"\n', "polling.allow_private_addresses"),
        ('[polling]\nmin_interval = "2d"\nmax_interval = "1d"\n', "polling.min_interval"),
        ('upstreams = "x"\n', "upstreams"),
        ('[websub]\nhubs = ["ftp://hub.example/"]\n', "websub.hubs"),
        ('[websub]\nhub = "yes"\n', "websub.hub"),
        ('[websub]\nhub_url = "/websub"\n', "websub.hub_url"),
        ('[websub]\ncallback_base_url = "me.example"\n', "websub.callback_base_url"),
        ('[websub]\nmin_lease = "20d"\n', "websub.default_lease"),
        ("[websub]\nmax_subscriptions_per_host = 0\n", "websub.max_subscriptions_per_host"),
        ("[websub]\ndelivery_concurrency = 0\n", "websub.delivery_concurrency"),
        ("[websub]\nsecret = 1\n", "websub.secret"),
    ],
)
def test_wrong_types_and_values_name_the_key(config_from, extra, named):
    with pytest.raises(ConfigError) as caught:
        config_from(MINIMAL + extra)
    assert named in str(caught.value)


def test_top_level_site_must_be_a_table(config_from):
    with pytest.raises(ConfigError, match="site"):
        config_from('site = "https://finews.example.com"\n')


def test_site_values_must_be_strings(config_from):
    with pytest.raises(ConfigError, match=r"site\.title"):
        config_from(MINIMAL + "title = 5\n")


def test_formats_deduplicated_in_order(config_from):
    config = config_from(MINIMAL + '[feeds]\nformats = ["json", "rss", "json"]\n')
    assert config.feeds.formats == ("json", "rss")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30s", 30),
        ("10m", 600),
        ("2h", 7200),
        ("1d", 86400),
        ("1.5h", 5400),
        (" 45s ", 45),
        ("90", 90),
        (45, 45),
        (2.5, 2.5),
    ],
)
def test_durations(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    "value", ["10x", "", "m", "-5s", "1 week", "10 minutes", 0, "0s", -1, True, None, [1]]
)
def test_bad_durations(value):
    with pytest.raises(ValueError):
        parse_duration(value)


def test_durations_in_config(config_from):
    text = MINIMAL + '[polling]\ninterval = "2h"\nmin_interval = 30\ntimeout = "30s"\n'
    text += '[[upstreams]]\nname = "A"\nurl = "https://a.example/rss"\ncategory = "a"\n'
    text += 'interval = "1d"\n'
    config = config_from(text)
    assert config.polling.interval == 7200
    assert config.polling.min_interval == 30
    assert config.polling.timeout == 30
    assert config.upstreams[0].interval == 86400


def test_bad_duration_in_config_names_the_key(config_from):
    with pytest.raises(ConfigError, match=r"polling\.interval.*soon"):
        config_from(MINIMAL + '[polling]\ninterval = "soon"\n')


def test_bad_upstream_interval_names_the_upstream(config_from):
    text = MINIMAL + '[[upstreams]]\nname = "A"\nurl = "https://a.example/rss"\ncategory = "a"\n'
    with pytest.raises(ConfigError, match=r"upstreams\[0\] \(A\)\.interval"):
        config_from(text + 'interval = "often"\n')


def test_relative_paths_resolve_from_the_config_folder(tmp_path, monkeypatch):
    folder = tmp_path / "etc" / "syndicator"
    folder.mkdir(parents=True)
    path = folder / "site.toml"
    path.write_text(
        MINIMAL
        + '[posts]\ndirs = ["posts", "../archive", "/srv/absolute"]\n'
        + '[feeds]\ndir = "out/feeds"\n[state]\npath = "var/s.db"\n',
        encoding="utf-8",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(Path(os.path.relpath(path, elsewhere)))
    base = folder.resolve()
    assert config.posts.dirs == (
        base / "posts",
        base.parent / "archive",
        Path("/srv/absolute"),
    )
    assert config.feeds.dir == base / "out" / "feeds"
    assert config.state.path == base / "var" / "s.db"


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../etc/passwd"])
def test_bad_time_zone(config_from, zone):
    with pytest.raises(ConfigError, match=r"site\.timezone"):
        config_from(MINIMAL + f'timezone = "{zone}"\n')


def test_good_time_zone(config_from):
    config = config_from(MINIMAL + 'timezone = "Asia/Shanghai"\n')
    assert str(config.site.timezone) == "Asia/Shanghai"


def test_bad_regex_is_an_error(config_from):
    with pytest.raises(ConfigError, match=r"attribution\.source_patterns.*invalid regular"):
        config_from(MINIMAL + "[attribution]\nsource_patterns = ['(unclosed']\n")


@pytest.mark.parametrize("key", ["source_patterns", "credit_pattern"])
def test_regex_without_source_group_is_an_error(config_from, key):
    value = "['来源：(.+)']" if key == "source_patterns" else "'（(.+)）$'"
    with pytest.raises(ConfigError, match=rf"attribution\.{key}.*\(\?P<source>"):
        config_from(MINIMAL + f"[attribution]\n{key} = {value}\n")


def test_navigation_pattern_needs_no_group_but_must_compile(config_from):
    config = config_from(MINIMAL + "[attribution]\nnavigation_pattern = '^Back'\n")
    assert config.attribution.navigation_pattern == "^Back"
    with pytest.raises(ConfigError, match=r"attribution\.navigation_pattern"):
        config_from(MINIMAL + "[attribution]\nnavigation_pattern = '[unclosed'\n")


def test_attribution_line_needs_the_source(config_from):
    with pytest.raises(ConfigError, match=r"attribution\.line"):
        config_from(MINIMAL + '[attribution]\nline = "来源"\n')


def test_custom_attribution_patterns_kept(config_from):
    config = config_from(
        MINIMAL + "[attribution]\nsource_patterns = ['Source: (?P<source>\\w+)']\n"
        "line = 'Source: {source}'\n"
    )
    assert config.attribution.source_patterns == (r"Source: (?P<source>\w+)",)
    assert config.attribution.line == "Source: {source}"


def test_upstreams(config_from):
    text = MINIMAL + (
        '[[upstreams]]\nname = "中国网财经"\nurl = "https://a.example/rss"\n'
        'category = "zhongguowangcaijing"\ntags = ["中国网财经新闻"]\n'
    )
    (upstream,) = config_from(text).upstreams
    assert upstream.name == "中国网财经"
    assert upstream.category == "zhongguowangcaijing"
    assert upstream.tags == ("中国网财经新闻",)
    assert upstream.interval is None


@pytest.mark.parametrize("missing", ["name", "url", "category"])
def test_upstream_required_keys(config_from, missing):
    keys = {"name": '"A"', "url": '"https://a.example/rss"', "category": '"a"'}
    del keys[missing]
    body = "".join(f"{key} = {value}\n" for key, value in keys.items())
    with pytest.raises(ConfigError, match=rf"upstreams\[0\]\.{missing}"):
        config_from(MINIMAL + "[[upstreams]]\n" + body)


def test_upstream_names_unique(config_from):
    block = '[[upstreams]]\nname = "A"\nurl = "https://a.example/rss"\ncategory = "a"\n'
    with pytest.raises(ConfigError, match="two upstreams"):
        config_from(MINIMAL + block + block)


def test_upstream_url_must_be_absolute(config_from):
    block = '[[upstreams]]\nname = "A"\nurl = "a.example/rss"\ncategory = "a"\n'
    with pytest.raises(ConfigError, match=r"upstreams\[0\] \(A\)\.url"):
        config_from(MINIMAL + block)


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[site\nurl = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.toml.*invalid TOML"):
        load_config(broken)


def test_byte_order_mark_accepted(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_config(path).site.url == "https://finews.example.com"


def test_error_names_the_file(config_from, tmp_path):
    with pytest.raises(ConfigError, match=r"syndicator\.toml"):
        config_from("[site]\n")


def test_config_path_option_wins(monkeypatch):
    monkeypatch.setenv("SYNDICATOR_CONFIG", "/from/env.toml")
    assert config_path_from("given.toml") == Path("given.toml")


def test_config_path_from_environment(monkeypatch):
    monkeypatch.setenv("SYNDICATOR_CONFIG", "/from/env.toml")
    assert config_path_from(None) == Path("/from/env.toml")


def test_config_path_default(monkeypatch):
    monkeypatch.delenv("SYNDICATOR_CONFIG", raising=False)
    assert config_path_from(None) == DEFAULT_CONFIG_PATH == Path("config/syndicator.toml")


def test_config_path_empty_environment_means_default(monkeypatch):
    monkeypatch.setenv("SYNDICATOR_CONFIG", "")
    assert config_path_from(None) == DEFAULT_CONFIG_PATH


def test_status_access_and_display_titles(config_from):
    assert config_from(MINIMAL).server.status == "local"
    config = config_from(MINIMAL + '[server]\nstatus = "off"\n[feeds.titles]\nb = "B"\na = "甲"\n')
    assert config.server.status == "off"
    assert config.feeds.titles == (("a", "甲"), ("b", "B"))


def test_websub_defaults_and_the_hubs_every_feed_names(config_from):
    websub = config_from(MINIMAL).websub
    assert (websub.hubs, websub.hub, websub.callback_base_url) == ((), False, "")
    assert websub.hub_url == "https://finews.example.com/feeds/websub"
    assert websub.advertised_hubs == ()
    assert websub.allow_private_callbacks is False
    text = '[websub]\nhub = true\nhubs = ["https://hub.example/", "https://pubsubhubbub.appspot.com/"]\n'
    websub = config_from(MINIMAL + text).websub
    assert websub.advertised_hubs == (
        "https://finews.example.com/feeds/websub",
        "https://hub.example/",  # kept as written, trailing slash and all
        "https://pubsubhubbub.appspot.com/",
    )
    behind_a_proxy = config_from(
        MINIMAL + '[websub]\nhub = true\nhub_url = "https://x.example/hub"\n'
    )
    assert behind_a_proxy.websub.advertised_hubs == ("https://x.example/hub",)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[site]\nurl = "https://x.example"\ntitle = "Tech \\u0007 bell"\n', "site.title"),
        ('[site]\nurl = "https://x.example"\ndescription = "a\\u0000b"\n', "site.description"),
        (MINIMAL + '[feeds.titles]\ntechweb = "Tech \\u0007 bell"\n', "feeds.titles.techweb"),
        (
            MINIMAL + '[[upstreams]]\nname = "Up\\u001b"\nurl = "https://u.example/f"\n'
            'category = "c"\n',
            "name",
        ),
    ],
)
def test_a_title_with_a_control_character_is_a_config_error(config_from, text, key):
    """It passed `check`, then every build failed in lxml ("All strings must be XML
    compatible"), and under `run` /healthz stayed 503."""
    with pytest.raises(ConfigError, match=f"{re.escape(key)}: holds the control character U\\+"):
        config_from(text)


def test_two_display_titles_for_one_feed_are_a_config_error(config_from):
    text = MINIMAL + '[feeds.titles]\nFOO = "甲"\n"ｆｏｏ" = "乙"\n'
    with pytest.raises(ConfigError, match=r"names the same feed as feeds\.titles\.FOO"):
        config_from(text)
