"""``/status``: the operator's page, one HTML document with its style and charts inline.

Nothing is fetched by the page (no script, font, style sheet or image of its own: the
Content-Security-Policy the server sends with it forbids them), so it reads the same without JavaScript,
offline and on a phone. Every value is escaped: upstream errors and post reasons carry text
from outside.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from urllib.parse import quote

from syndicator.web.status_data import FeedRow, StatusData, UpstreamHistory
from syndicator.web.svg_chart import Series, bar_chart

POLL_COLOURS = {
    "imported": "#2e7d32",
    "unchanged": "#90a4ae",
    "failed": "#c62828",
    "gone": "#6a1b9a",
}
STATE_CLASSES = {"ok": "ok", "never": "idle", "backoff": "warn", "error": "bad", "gone": "bad"}

STYLE = """
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:0 1rem 2rem;
color:#222;line-height:1.4}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #eee;vertical-align:top}
td.n,th.n{text-align:right}.wrap{overflow-x:auto}
.upstream{border:1px solid #ddd;border-radius:4px;padding:.5rem .75rem;margin:.75rem 0}
.upstream h3{margin:.2rem 0;font-size:1rem}.url{word-break:break-all;font-size:.85rem;color:#555}
.state{font-weight:bold;padding:0 .3rem;border-radius:3px}
.ok{background:#e8f5e9}.idle{background:#eceff1}.warn{background:#fff8e1}.bad{background:#ffebee}
.charts{display:flex;flex-wrap:wrap;gap:1rem}.charts figure{margin:0;flex:1 1 18rem}
.chart{width:100%;height:auto;max-height:8rem}figcaption{font-size:.8rem;color:#555}
.error{color:#b71c1c;word-break:break-word}dl{display:grid;grid-template-columns:auto 1fr;
gap:0 1rem;margin:.3rem 0;font-size:.9rem}dt{color:#555}dd{margin:0}
"""

# A site with tens of thousands of tags or broken posts would make a page of megabytes each
# time it is asked for: the lists stop here, and say where the rest is.
MAX_ROWS = 500


def render_status(data: StatusData) -> bytes:
    title = f"{data.site_title}: status"
    sections = [
        _upstreams(data),
        _builds(data),
        _problems(data),
        _feeds(data),
    ]
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n"
        f"<p>At {_when(data, data.now)} ({escape(str(data.zone))}); the last build at "
        f"{_when(data, data.last_build)}.</p>\n{''.join(sections)}</body>\n</html>\n"
    )
    return page.encode()


def _when(data: StatusData, timestamp: float | None) -> str:
    if timestamp is None:
        return "never"
    moment = datetime.fromtimestamp(timestamp, data.zone)
    return f'<time datetime="{moment.isoformat()}">{moment:%Y-%m-%d %H:%M:%S %z}</time>'


def _upstreams(data: StatusData) -> str:
    if not data.upstreams:
        return "<h2>Upstreams</h2>\n<p>None configured.</p>\n"
    panels = "".join(_upstream(data, history) for history in data.upstreams)
    return f'<h2>Upstreams</h2>\n<section id="upstreams">{panels}</section>\n'


def _upstream(data: StatusData, history: UpstreamHistory) -> str:
    s = history.status
    moved = f" → {escape(s.current_url)}" if s.current_url else ""
    days = [f"{day:%m-%d}" for day in data.days]
    imported = bar_chart(
        f"{s.name}: posts imported per day", days, [Series("imported", "#1565c0", history.imported)]
    )
    polls = bar_chart(
        f"{s.name}: polls per day by outcome",
        days,
        [Series(result, POLL_COLOURS[result], counts) for result, counts in history.polls.items()],
    )
    legend = ", ".join(f'<span style="color:{POLL_COLOURS[r]}">■</span> {r}' for r in history.polls)
    error = f'<p class="error">last error: {escape(s.last_error)}</p>' if s.last_error else ""
    warning = f"<p>last warning: {escape(s.last_warning)}</p>" if s.last_warning else ""
    return (
        f'<div class="upstream"><h3>{escape(s.name)} '
        f'<span class="state {STATE_CLASSES.get(s.state, "idle")}">{escape(s.state)}</span></h3>'
        f'<div class="url">{escape(s.url)}{moved}</div><dl>'
        f"<dt>last poll</dt><dd>{_iso_when(s.last_poll)} (HTTP {s.last_status or '–'})</dd>"
        f"<dt>next poll</dt><dd>{'never (gone)' if s.state == 'gone' else _iso_when(s.next_poll, 'now')}</dd>"
        f"<dt>errors in a row</dt><dd>{s.consecutive_errors}</dd>"
        f"<dt>posts imported</dt><dd>{s.imported}</dd>"
        f"<dt>WebSub push</dt><dd>{escape(s.push)}</dd></dl>{error}{warning}"
        f'<div class="charts"><figure>{imported}<figcaption>posts imported per day, '
        f"last {len(days)} days</figcaption></figure><figure>{polls}<figcaption>polls per day: "
        f"{legend}</figcaption></figure></div></div>"
    )


def _iso_when(value: str | None, missing: str = "never") -> str:
    """An ISO 8601 time from the upstream status (already in the site's zone), as shown."""
    if value is None:
        return missing
    moment = datetime.fromisoformat(value)
    return f'<time datetime="{escape(value)}">{moment:%Y-%m-%d %H:%M:%S %z}</time>'


def _builds(data: StatusData) -> str:
    if not data.builds:
        return "<h2>Last builds</h2>\n<p>No build has changed a feed yet.</p>\n"
    rows = "".join(
        f"<tr><td>{_when(data, b.finished)}</td><td class=n>{b.seconds:.3f} s</td>"
        f"<td class=n>{b.written}</td><td class=n>{b.removed}</td><td class=n>{b.problems}</td>"
        f'<td class="error">{escape(b.refused or "")}</td></tr>'
        for b in data.builds
    )
    return (
        "<h2>Last builds</h2>\n<p>Builds that wrote or removed feed files, or were refused.</p>"
        '<div class="wrap"><table id="builds"><tr><th>finished</th><th class=n>took</th>'
        "<th class=n>files written</th><th class=n>removed</th><th class=n>posts skipped</th>"
        f"<th>refused</th></tr>{rows}</table></div>\n"
    )


def _problems(data: StatusData) -> str:
    if not data.problems:
        return "<h2>Posts that cannot be read</h2>\n<p>None.</p>\n"
    rows = "".join(
        f'<tr><td class="url">{escape(str(p.path))}</td><td class="error">{escape(p.reason)}</td></tr>'
        for p in data.problems[:MAX_ROWS]
    )
    return (
        f"<h2>Posts that cannot be read ({len(data.problems)})</h2>\n"
        f'<div class="wrap"><table id="problems"><tr><th>file</th><th>why</th></tr>{rows}'
        "</table></div>\n" + _more(len(data.problems), "`syndicator check` lists every one")
    )


def _feeds(data: StatusData) -> str:
    if not data.feeds:
        return "<h2>Feeds</h2>\n<p>No feed written yet.</p>\n"
    rows = "".join(_feed(data, feed) for feed in data.feeds[:MAX_ROWS])
    return (
        f"<h2>Feeds ({len(data.feeds)})</h2>\n"
        '<div class="wrap"><table id="feeds"><tr><th>feed</th><th>kind</th>'
        f"<th class=n>posts</th><th>last change</th></tr>{rows}</table></div>\n"
        + _more(len(data.feeds), "feeds.opml lists every one")
    )


def _more(count: int, where: str) -> str:
    """The line under a list cut at MAX_ROWS."""
    if count <= MAX_ROWS:
        return ""
    return f"<p>The first {MAX_ROWS} of {count} are shown; {escape(where)}.</p>\n"


def _feed(data: StatusData, feed: FeedRow) -> str:
    return (
        f'<tr><td><a href="/{escape(quote(feed.path))}">{escape(feed.title)}</a></td>'
        f"<td>{feed.kind}</td><td class=n>{feed.entries}</td>"
        f"<td>{_when(data, feed.changed)}</td></tr>"
    )
