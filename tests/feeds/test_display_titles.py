"""``[feeds.titles]``: a label's display title, in its feed's title, the OPML and index.html."""

from __future__ import annotations

import json
from pathlib import Path

from lxml import etree
from support.site import SITE_TOML, run_build, write_post

from syndicator.core.config import load_config

TITLES = '\n[feeds.titles]\n"ZhongGuoZhengQuanBao" = "中国证券报新闻"\n'


def site(tmp_path: Path, extra: str = TITLES) -> Path:
    config = tmp_path / "syndicator.toml"
    config.write_text(SITE_TOML.replace('dir = "feeds"', f'dir = "feeds"\n{extra}'), "utf-8")
    front = 'title: "一"\ndate: 2022-01-01 10:00:00 +0800\ncategories: zhongguozhengquanbao\n'
    write_post(tmp_path / "_posts", "2022-01-01-a.md", front)
    return config


def shown_titles(tmp_path: Path) -> list[str]:
    feeds = tmp_path / "feeds"
    folder = feeds / "categories" / "zhongguozhengquanbao"
    rss = etree.parse(str(folder / "rss.xml")).findtext("channel/title")
    atom = etree.parse(str(folder / "atom.xml")).findtext("{http://www.w3.org/2005/Atom}title")
    jsonfeed = json.loads((folder / "feed.json").read_text("utf-8"))["title"]
    opml = etree.parse(str(feeds / "feeds.opml"))
    [outline] = opml.xpath("//outline[contains(@xmlUrl, 'categories/')]")
    index = (feeds / "index.html").read_text("utf-8")
    in_index = "测试站: 中国证券报新闻" in index or "中国证券报新闻" in index
    return [rss, atom, jsonfeed, outline.get("title"), str(in_index)]


def test_the_display_title_is_used_everywhere_any_spelling_matching(tmp_path: Path) -> None:
    run_build(load_config(site(tmp_path)))
    rss, atom, jsonfeed, opml, in_index = shown_titles(tmp_path)
    assert rss == atom == jsonfeed == "测试站: 中国证券报新闻"
    assert "中国证券报新闻" in opml and in_index == "True"


def test_a_title_added_later_rewrites_the_feeds(tmp_path: Path) -> None:
    config = site(tmp_path, extra="")
    run_build(load_config(config))
    assert shown_titles(tmp_path)[0] == "测试站: zhongguozhengquanbao"
    config.write_text(
        config.read_text("utf-8").replace('dir = "feeds"', f'dir = "feeds"\n{TITLES}')
    )
    run_build(load_config(config))
    assert shown_titles(tmp_path)[0] == "测试站: 中国证券报新闻"
    assert "中国证券报新闻" in shown_titles(tmp_path)[3]
