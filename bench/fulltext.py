"""Full text, measured: how long 100 new items take when each article page answers in 50 ms,
with how many requests a host saw at once; and how well the extractor finds the main text of
article pages of known content.

Usage::

    python bench/fulltext.py [--items 100] [--page-delay 0.05] [--delays 1,0] [--write]

*Throughput*: the replica of config/examples/replica.py serves a summary-only RSS feed of
``--items`` items and their article pages, each answer ``--page-delay`` seconds late; one
``poll`` of a new upstream with ``full_text = true`` and ``backfill = --items`` fetches them
all. Measured: the poll's wall time, the most requests under way at once at the replica (its
one host), and how many posts hold their article's text. Once for each ``[polling]
per_host_delay`` in ``--delays`` (1 s is the default).

*Quality*: 24 article pages made here, in six layouts (an <article> page, a portal with
sidebars and inline adverts, an old table layout, a blog with comments, a GB18030 page, a
page with a cookie banner and share bars) over four subjects, each with its main text known
paragraph by paragraph and its boilerplate (navigation, adverts, related links, comments,
footer) known string by string. The extractor (trafilatura, as ``full_text`` uses it) reads
each; *recovered* is the share of main-text characters whose paragraph appears whole in the
extracted text, *let through* the share of boilerplate characters that appear in it.

``--write`` puts the figures in bench/FULLTEXT.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from html import escape
from pathlib import Path

import lxml.html

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from syndicator import refresh  # noqa: E402
from syndicator.core.config import load_config  # noqa: E402
from syndicator.state.db import State  # noqa: E402
from syndicator.upstreams.fulltext import extract_article  # noqa: E402
from syndicator.upstreams.poll import make_fetcher  # noqa: E402

_SPACE = re.compile(r"\s+")


def load_replica():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "replica", REPOSITORY / "config/examples/replica.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["replica"] = module
    spec.loader.exec_module(module)
    return module


# --- throughput ------------------------------------------------------------------------------

CONFIG = """
[site]
title = "bench"
url = "https://bench.example"
timezone = "Asia/Shanghai"

[posts]
dirs = ["_posts"]

[feeds]
dir = "feeds"

[state]
path = "var/state.db"

[polling]
timeout = "10s"
backfill = {items}
allow_private_addresses = true
per_host_delay = {delay}

[[upstreams]]
name = "bench"
url = "{base}/summary.xml"
category = "bench"
full_text = true
"""


@dataclass
class Throughput:
    delay: float
    items: int
    seconds: float
    max_concurrent: int
    requests: int
    with_article: int


def throughput(items: int, page_delay: float, delay: float) -> Throughput:
    replica = load_replica()
    data = replica.Replica(delay=page_delay)
    server = replica.serve(data)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    filled = replica.example_replica(base, count=items)
    data.pages = filled.pages
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "syndicator.toml"
            path.write_text(CONFIG.format(items=items, delay=delay, base=base), encoding="utf-8")
            (Path(folder) / "_posts").mkdir()
            config = load_config(path)
            with State.open(config.state.path) as state, make_fetcher(config) as fetcher:
                started = time.perf_counter()
                refresh.poll(config, state, list(config.upstreams), fetcher)
                seconds = time.perf_counter() - started
            texts = [p.read_text(encoding="utf-8") for p in (Path(folder) / "_posts").glob("*.md")]
            with_article = sum(
                1 for text in texts if re.search(r"第\d+篇报道：市场在本周迎来新的变化", text)
            )
    finally:
        server.shutdown()
        server.server_close()
    return Throughput(delay, items, seconds, data.max_concurrent, len(data.requests), with_article)


# --- quality ---------------------------------------------------------------------------------

SUBJECTS = {
    "rates": [
        "The central bank kept its benchmark lending rate unchanged on Thursday, citing a steady recovery in household spending and a labour market that has tightened more than expected.",
        "Economists had broadly anticipated the decision, although two members of the policy committee argued for a quarter-point cut to support exporters facing weaker overseas demand.",
        "In its statement, the bank said inflation remained close to target and that it would watch energy prices, which rose sharply in the autumn, before changing course.",
        "Bond yields fell slightly after the announcement, while the currency was little changed against the dollar by the close of trading in the afternoon session.",
        "Analysts now expect the first cut of the cycle in the spring, once the effect of the wage agreements signed this year becomes clearer in the monthly data.",
    ],
    "chips": [
        "人工智能服务器需求持续旺盛，带动多家芯片设计企业三季度营收同比大幅增长，其中高速互联芯片出货量创下历史新高。",
        "业内人士指出，先进封装产能仍然偏紧，部分客户的交货周期已经延长至半年以上，厂商正在加快扩产步伐。",
        "与此同时，消费电子相关芯片的库存调整接近尾声，手机和个人电脑市场的补库存需求有望在明年上半年逐步释放。",
        "分析师提醒，海外出口管制政策的不确定性仍是行业面临的主要风险，企业需要在供应链安全与成本之间寻找平衡。",
        "多家券商维持对半导体板块的积极看法，建议关注设备、材料以及具备自主知识产权的设计公司。",
        "市场人士认为，随着国产替代进程推进，本土晶圆厂的资本开支将保持较高水平，为上游设备企业带来持续订单。",
    ],
    "harvest": [
        "Farmers across the northern plains finished bringing in the wheat harvest two weeks earlier than usual after an unusually dry and warm September.",
        "Yields were mixed: fields that received late summer rain produced record volumes, while those on lighter soils suffered from the heat during flowering.",
        "Grain merchants said prices at the port had eased as new supply arrived, though quality premiums for high-protein wheat widened to their highest in five years.",
        "The agriculture ministry will publish its revised estimate of total production next month, and traders expect it to be close to last year's figure.",
    ],
    "property": [
        "十月份重点城市新建商品住宅成交面积环比回升，一线城市改善型需求释放明显，部分热点板块出现排队选房的情况。",
        "多地近期出台优化限购、降低首付比例等措施，政策效果在核心城市逐步显现，但三四线城市去库存压力依然较大。",
        "房企融资环境边际改善，多家民营房企完成境内债券展期，行业整体流动性风险有所缓解。",
        "专家表示，房地产市场的企稳仍需时间，后续应继续做好保交楼工作，稳定购房者预期。",
        "从土地市场看，优质地块竞争依然激烈，而偏远地块流拍现象增多，市场分化特征更加明显。",
    ],
}

NAV = '<nav class="menu"><a href="/">Home</a> <a href="/markets">Markets</a> <a href="/economy">Economy</a> <a href="/tech">Technology</a> <a href="/opinion">Opinion</a> <a href="/video">Video</a></nav>'
NAV_TEXT = ["Home Markets Economy Technology Opinion Video"]
ADVERT = "Open an account today and get a welcome bonus of up to 500 dollars"
ADVERT_CN = "限时开户送好礼，扫码立即领取新人专享福利"
RELATED = [
    "Related: Five stocks to watch this week",
    "Related: Why the dollar keeps rising",
    "Related: What the jobs report means for you",
]
FOOTER = "Copyright 2026 Example Media Group. All rights reserved. Terms of use. Privacy policy."
COOKIE = "We use cookies to improve your experience. By continuing to browse you agree to our use of cookies."
SHARE = "Share on Facebook Share on Twitter Share by email"
COMMENTS = [
    "Reader42 wrote: this is exactly what I predicted last month, nobody listened",
    "jin_li wrote: 说得好，期待后续报道",
]
MOST_READ = [
    "Most read: Ten places to retire on a budget",
    "Most read: The gadget everyone is buying",
]


def _paragraphs(texts: list[str], advert_after: int | None = None, advert: str = ADVERT) -> str:
    parts = []
    for n, text in enumerate(texts):
        parts.append(f"<p>{escape(text)}</p>")
        if advert_after is not None and n == advert_after:
            parts.append(f'<div class="ad-slot"><a href="/promo">{escape(advert)}</a></div>')
    return "".join(parts)


def _list(items: list[str], css: str) -> str:
    return (
        f'<ul class="{css}">'
        + "".join(f'<li><a href="/x">{escape(i)}</a></li>' for i in items)
        + "</ul>"
    )


def layout_article(title: str, texts: list[str]) -> tuple[str, list[str]]:
    page = (
        f"<html><head><title>{title}</title><script>var tracking = 1;</script></head><body>{NAV}"
        f"<main><article><h1>{title}</h1><p class='byline'>By Staff Reporter</p>{_paragraphs(texts)}</article>"
        f"<section class='related'>{_list(RELATED, 'related')}</section></main><footer>{FOOTER}</footer></body></html>"
    )
    return page, NAV_TEXT + RELATED + [FOOTER]


def layout_portal(title: str, texts: list[str]) -> tuple[str, list[str]]:
    page = (
        f"<html><head><title>{title}</title></head><body>{NAV}<div id='wrap'><div class='col-left'>{_list(MOST_READ, 'hot')}</div>"
        f"<div class='col-main'><h1>{title}</h1><div class='text'>{_paragraphs(texts, advert_after=1)}</div></div>"
        f"<div class='col-right'><div class='ad'>{ADVERT_CN}</div>{_list(RELATED, 'rel')}</div></div>"
        f"<div class='footer'>{FOOTER}</div></body></html>"
    )
    return page, NAV_TEXT + MOST_READ + RELATED + [ADVERT, ADVERT_CN, FOOTER]


def layout_table(title: str, texts: list[str]) -> tuple[str, list[str]]:
    body = "".join(f"<tr><td>{escape(t)}<br><br></td></tr>" for t in texts)
    page = (
        f"<html><head><title>{title}</title></head><body><table width='100%'><tr><td colspan='2'>{NAV}</td></tr>"
        f"<tr><td width='200'>{_list(MOST_READ, 'side')}</td><td><table><tr><td><b>{title}</b></td></tr>{body}</table></td></tr>"
        f"<tr><td colspan='2'>{FOOTER}</td></tr></table></body></html>"
    )
    return page, NAV_TEXT + MOST_READ + [FOOTER]


def layout_blog(title: str, texts: list[str]) -> tuple[str, list[str]]:
    comments = "".join(f"<div class='comment'><p>{escape(c)}</p></div>" for c in COMMENTS)
    page = (
        f"<html><head><title>{title}</title></head><body><header>{NAV}</header><div class='post'><h2>{title}</h2>"
        f"<div class='entry-content'>{_paragraphs(texts)}</div><div class='share'>{SHARE}</div></div>"
        f"<div id='comments'><h3>Comments</h3>{comments}</div><footer>{FOOTER}</footer></body></html>"
    )
    return page, [*NAV_TEXT, SHARE, FOOTER, *COMMENTS]


def layout_gb18030(title: str, texts: list[str]) -> tuple[str, list[str]]:
    page, boilerplate = layout_portal(title, texts)
    return page.replace("<head>", '<head><meta charset="gb2312">'), boilerplate


def layout_cookie(title: str, texts: list[str]) -> tuple[str, list[str]]:
    page = (
        f"<html><head><title>{title}</title></head><body><div class='cookie-banner'>{COOKIE}</div>{NAV}"
        f"<div class='share-top'>{SHARE}</div><div class='story'><h1>{title}</h1>{_paragraphs(texts, advert_after=2)}</div>"
        f"<aside>{_list(MOST_READ, 'most')}</aside><footer>{FOOTER}</footer></body></html>"
    )
    return page, NAV_TEXT + MOST_READ + [COOKIE, SHARE, ADVERT, FOOTER]


LAYOUTS = {
    "article": layout_article,
    "portal": layout_portal,
    "table": layout_table,
    "blog": layout_blog,
    "gb18030": layout_gb18030,
    "cookie": layout_cookie,
}


@dataclass
class Quality:
    page: str
    main: int
    recovered: int
    boilerplate: int
    let_through: int


def _flat(text: str) -> str:
    return _SPACE.sub("", text)


def quality() -> list[Quality]:
    results = []
    for layout, make in LAYOUTS.items():
        for subject, texts in SUBJECTS.items():
            page, boilerplate = make(subject.title(), texts)
            body = page.encode("gb18030" if layout == "gb18030" else "utf-8")
            html = extract_article(body, f"http://news.example/{layout}/{subject}.html", {}) or ""
            text = (
                _flat(lxml.html.fragment_fromstring(html, create_parent="div").text_content())
                if html
                else ""
            )
            main = sum(len(_flat(t)) for t in texts)
            recovered = sum(len(_flat(t)) for t in texts if _flat(t) in text)
            noise = sum(len(_flat(b)) for b in boilerplate)
            through = sum(len(_flat(b)) for b in boilerplate if _flat(b) in text)
            results.append(Quality(f"{layout}/{subject}", main, recovered, noise, through))
    return results


# --- report ----------------------------------------------------------------------------------


def report(runs: list[Throughput], pages: list[Quality], page_delay: float) -> str:
    lines = [
        "# Full text: throughput and extraction quality",
        "",
        "Measured by `python bench/fulltext.py --write` (see its docstring for the method).",
        "",
        f"## {runs[0].items} new items, each article page answering in {page_delay * 1000:.0f} ms",
        "",
        "| per_host_delay | wall time | requests | most at once (one host) | posts with their article |",
        "|---|---|---|---|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run.delay:g} s | {run.seconds:.1f} s | {run.requests} | {run.max_concurrent} | "
            f"{run.with_article} of {run.items} |"
        )
    main = sum(p.main for p in pages)
    noise = sum(p.boilerplate for p in pages)
    lines += [
        "",
        f"## Extraction quality on {len(pages)} article pages of known content",
        "",
        f"Main text recovered: **{100 * sum(p.recovered for p in pages) / main:.1f}%** of {main} characters; "
        f"boilerplate let through: **{100 * sum(p.let_through for p in pages) / noise:.1f}%** of {noise} characters.",
        "",
        "| page | main text recovered | boilerplate let through |",
        "|---|---|---|",
    ]
    for page in pages:
        lines.append(
            f"| {page.page} | {100 * page.recovered / page.main:.0f}% | "
            f"{100 * page.let_through / page.boilerplate:.0f}% |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--page-delay", type=float, default=0.05)
    parser.add_argument("--delays", default="1,0", help="per_host_delay values, comma-separated")
    parser.add_argument("--write", action="store_true", help="write bench/FULLTEXT.md")
    arguments = parser.parse_args()
    runs = [
        throughput(arguments.items, arguments.page_delay, float(delay))
        for delay in arguments.delays.split(",")
    ]
    text = report(runs, quality(), arguments.page_delay)
    print(text)
    if arguments.write:
        (REPOSITORY / "bench" / "FULLTEXT.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
