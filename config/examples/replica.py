"""A local replica of the upstreams the example configs read: the rolling-news JSON API
(list and detail), a summary-only RSS feed, article pages, a GB18030 news list page and a
robots.txt. Its data is made up here (or, with --corpus, rebuilt from a corpus's emnews
posts); tests and bench/fulltext.py start it in-process.

    python3 config/examples/replica.py --port 8765 [--corpus ../shared/corpus/finews]
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from dataclasses import dataclass, field
from html import escape, unescape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

_FRONT = re.compile(r"\A---\n(.*?)\n---\n(.*)\Z", re.S)
_URL_LINE = re.compile(r"^<(https?://[^>]+)>$", re.M)


@dataclass
class Replica:
    """What the replica serves, and what it saw: the most requests under way at once."""

    records: list[dict[str, str]] = field(default_factory=list)
    pages: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    delay: float = 0.0  # seconds each answer takes
    robots: str = "User-agent: *\nDisallow: /private/\n"
    requests: list[str] = field(default_factory=list)
    max_concurrent: int = 0
    _current: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, bytes, str]:
        if path == "/api/list":
            return 200, _json({"rc": 1, "records": self.records}), "application/json"
        if path == "/api/detail":
            wanted = (query.get("id") or [""])[0]
            for record in self.records:
                if record["id"] == wanted and "content" in record:
                    return 200, _json({"data": {"content": record["content"]}}), "application/json"
            return 404, b"{}", "application/json"
        if path == "/robots.txt":
            return 200, self.robots.encode(), "text/plain"
        if path in self.pages:
            body, media_type = self.pages[path]
            return 200, body, media_type
        return 404, b"not here", "text/plain"


def html_unescape(text: str) -> str:
    """HTML text as plain text: what a post's paragraph says."""
    return unescape(text)


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def serve(replica: Replica, port: int = 0) -> ThreadingHTTPServer:
    """Start serving ``replica`` on 127.0.0.1 in a thread; ``server_address[1]`` is the port."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            with replica._lock:
                replica._current += 1
                replica.max_concurrent = max(replica.max_concurrent, replica._current)
                replica.requests.append(self.path)
            try:
                if replica.delay:
                    time.sleep(replica.delay)
                status, body, media_type = replica.answer(parts.path, parse_qs(parts.query))
                self.send_response(status)
                self.send_header("Content-Type", media_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            finally:
                with replica._lock:
                    replica._current -= 1

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --- data ------------------------------------------------------------------------------------


def made_up_records() -> list[dict[str, str]]:
    """Three records in the API's shape: NW ids, 【…】 digests, China time without offset."""
    return [
        {
            "id": "NW202206022400745178",
            "title": "央行开展100亿元逆回购操作",
            "digest": "【央行开展100亿元逆回购操作】人民银行今日开展100亿元7天期逆回购操作，中标利率2.1%。",
            "url_w": "http://finance.example.com/a/202206022400745178.html",
            "showtime": "2022-06-02 14:05:33",
            "content": "<p>人民银行今日开展100亿元7天期逆回购操作。</p><script>track()</script>",
        },
        {
            "id": "NW202206022400745001",
            "title": "沪指午盘涨0.5%",
            "digest": "【沪指午盘涨0.5%】沪指午盘上涨0.5%，创业板指涨1.2%。",
            "url_w": "http://finance.example.com/a/202206022400745001.html",
            "showtime": "2022-06-02 11:30:02",
            "content": "<p>沪指午盘上涨0.5%。</p>",
        },
        {
            "id": "NW202206012400700000",
            "title": "六月首日成交额破万亿",
            "digest": "【六月首日成交额破万亿】两市成交额连续第三日突破万亿元。",
            "url_w": "http://finance.example.com/a/202206012400700000.html",
            "showtime": "2022-06-01 15:00:00",
            "content": "<p>两市成交额连续第三日突破万亿元。</p>",
        },
    ]


def corpus_records(corpus: Path, shape: str = "list") -> list[dict[str, str]]:
    """The API's records rebuilt from a corpus's emnews posts: what the site's own script read
    to write them. ``shape`` "list": the posts made from the list alone (the digest, then the
    original URL); "detail": those whose body came from a detail request (the digest quoted,
    then the article's HTML), each record with that HTML as the detail's ``content``."""
    records = []
    for path in sorted((corpus / "_posts").glob("*.md")):
        found = _FRONT.match(path.read_text(encoding="utf-8").lstrip())
        if not found or "\ncategories: emnews\n" not in f"\n{found.group(1)}\n":
            continue
        front = dict(line.split(": ", 1) for line in found.group(1).splitlines() if ": " in line)
        body = found.group(2)
        url = _URL_LINE.search(body)
        paragraphs = [p.strip() for p in body.split("\n\n") if p.strip()]
        if not paragraphs or not json.loads(front.get("title", '""')) or not front["date"].strip():
            continue  # the corpus's one broken post: no title, no date
        quoted = paragraphs[0].startswith("> ")
        if quoted != (shape == "detail"):
            continue
        title = json.loads(front["title"])
        record = {
            "id": "NW" + path.stem.split("-", 3)[3],
            "title": title,
            "digest": f"【{title}】{paragraphs[0].removeprefix('> ')}",
            "url_w": url.group(1) if url else "",  # one post's script wrote "<>"
            "showtime": front["date"].strip()[:19],
        }
        if quoted:
            record["content"] = paragraphs[1]
        records.append(record)
    return records


ARTICLE = """<!DOCTYPE html>
<html><head><meta charset="{charset}"><title>{title} - 示例财经</title>
<script>window.ads = load('/ads.js');</script><style>.ad {{ color: red }}</style></head>
<body><nav class="top"><a href="/">首页</a> <a href="/news/">新闻</a> <a href="/data/">数据</a></nav>
<div class="ad">开户送好礼，点击领取</div>
<div class="main"><article><h1>{title}</h1>
<div class="article-body">{paragraphs}
<p><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" data-src="/img/{number}.jpg" alt="图{number}"></p>
</div></article>
<aside><h3>热门文章</h3><ul><li><a href="/a/1">今日热门一</a></li><li><a href="/a/2">今日热门二</a></li></ul></aside></div>
<footer>版权所有 示例财经 京ICP备00000000号 <a href="/about">关于我们</a></footer>
<script>track('{number}')</script></body></html>
"""


def article_text(number: int) -> list[str]:
    """The known main text of article ``number``: three paragraphs of its own."""
    return [
        f"第{number}篇报道：市场在本周迎来新的变化，多家机构认为行业景气度正在回升，投资者关注度明显提高。",
        f"分析人士指出，第{number}号样本公司的订单增长来自海外市场，全年营收有望保持两位数增长。",
        f"业内人士表示，后续政策落地节奏仍是关键，建议关注产业链上下游的龙头企业（编号{number}）。",
    ]


def article_page(number: int, charset: str = "utf-8") -> bytes:
    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in article_text(number))
    title = f"样本报道{number}"
    page = ARTICLE.format(charset=charset, title=title, paragraphs=paragraphs, number=number)
    return page.encode("gb18030" if charset == "gb18030" else charset)


def summary_feed(base: str, count: int) -> bytes:
    """An RSS feed of ``count`` items carrying only a summary, linking to /articles/N.html."""
    items = "".join(
        f"<item><title>样本报道{n}</title><link>{base}/articles/{n}.html</link>"
        f"<guid>{base}/articles/{n}.html</guid><description>摘要{n}</description>"
        f"<pubDate>Thu, 02 Jun 2022 {n % 24:02d}:{n % 60:02d}:00 +0800</pubDate></item>"
        for n in range(1, count + 1)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>示例新闻</title>'
        f"<link>{base}/</link><description>摘要</description>{items}</channel></rss>"
    ).encode()


def news_list_page(count: int) -> bytes:
    """A GB18030 news list: relative links, Chinese dates, an advert among the items."""
    items = "".join(
        f'<li><a class="title" href="../articles/{n}.html">样本报道{n}</a>'
        f'<span class="time">2022年06月02日 {n % 24:02d}:{n % 60:02d}</span>'
        f'<p class="digest">第{n}篇报道的<b>摘要</b>。</p></li>'
        for n in range(1, count + 1)
    )
    advert = (
        '<li><a class="title" href="/promo">推广：开户送好礼</a><span class="time"></span></li>'
    )
    page = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
        f'<title>示例新闻列表</title></head><body><ul class="news-list">{items}{advert}</ul>'
        "</body></html>"
    )
    return page.encode("gb18030")


def example_replica(
    base: str, count: int = 5, corpus: Path | None = None, shape: str = "list"
) -> Replica:
    """The replica the example configs read, its URLs under ``base``."""
    pages = {
        f"/articles/{n}.html": (article_page(n), "text/html; charset=utf-8")
        for n in range(1, count + 1)
    }
    pages["/summary.xml"] = (summary_feed(base, count), "application/rss+xml")
    pages["/news/list.html"] = (news_list_page(count), "text/html")
    records = corpus_records(corpus, shape) if corpus else made_up_records()
    return Replica(records=records, pages=pages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--corpus", type=Path, help="rebuild the API's records from this corpus")
    arguments = parser.parse_args()
    replica = example_replica(f"http://127.0.0.1:{arguments.port}", corpus=arguments.corpus)
    server = serve(replica, arguments.port)
    print(f"serving on http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
