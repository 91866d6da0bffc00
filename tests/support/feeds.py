"""Feed writer inputs: one category feed's metadata (META) and entries made without a site
(``make``), three of them newest first, one attributed to its upstream."""

from __future__ import annotations

from datetime import datetime

from support.site import CST
from syndicator.feeds.attribution import Attribution
from syndicator.feeds.entries import Entry
from syndicator.feeds.rss_atom import FeedMeta

SITE = "https://site.example"
META = FeedMeta(
    title="测试站: emnews",
    description="",
    home_url=SITE,
    urls={
        "rss": f"{SITE}/feeds/categories/emnews/rss.xml",
        "atom": f"{SITE}/feeds/categories/emnews/atom.xml",
        "json": f"{SITE}/feeds/categories/emnews/feed.json",
    },
    language="zh-CN",
    author="测试站",
)


def make(
    number: int,
    day: int,
    attribution: Attribution | None = None,
    id_is_link: bool = False,
    updated_day: int | None = None,
) -> Entry:
    link = f"{SITE}/emnews/2022/01/{day:02d}/post-{number}.html"
    published = datetime(2022, 1, day, 10, 0, 0, tzinfo=CST)
    return Entry(
        id=link if id_is_link else link.removesuffix(".html"),
        link=link,
        title=f"第{number}篇",
        published=published,
        updated=published if updated_day is None else published.replace(day=updated_day),
        categories=("emnews", "东财滚动新闻"),
        content_html=f"<p>正文{number}。</p>",
        summary=f"正文{number}。",
        attribution=attribution or Attribution(),
    )


ATTRIBUTED = Attribution(
    source="中国网财经",
    url="http://news.example.org/original/1.html",
    feed="https://feeds.example.org/finance/rss.xml",
)
NEWEST_FIRST = [make(3, 9, ATTRIBUTED), make(2, 8), make(1, 7, id_is_link=True)]
