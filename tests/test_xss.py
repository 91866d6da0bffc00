"""Untrusted HTML never reaches a post or a feed unsanitized.

The known XSS vectors go through the real path: three local upstreams (RSS, Atom, JSON Feed)
serve one entry per vector, ``poll`` writes the posts, ``build`` writes the feeds. Every post
body (rendered as Markdown, as the site's generator would) and every HTML field of every feed
(RSS ``content:encoded`` and ``description``, Atom ``content``, JSON Feed ``content_html``) is
parsed with lxml and checked: no script, no ``on*`` attribute, no URL attribute whose scheme is
not http, https or mailto (after the clean-up browsers do: entities decoded, tabs, newlines and
control characters dropped, case folded), no ``style`` attribute, no base, meta, form, iframe,
frame, object, embed, svg, math, style, link, template or noscript element.

A hypothesis strategy then assembles HTML-ish strings from the same pieces and checks the
sanitizer, the post writer and the feed entries directly.
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from lxml import html as lxml_html
from support.site import SITE_TOML
from support.upstreams import HostileServer, answer

from syndicator import refresh
from syndicator.core.config import Config, UpstreamConfig, load_config
from syndicator.core.sanitize import sanitize_html
from syndicator.core.text import xml_safe
from syndicator.feeds.entries import make_entry
from syndicator.feeds.jsonfeed import render_json
from syndicator.feeds.layout import SITE, FeedSpec
from syndicator.feeds.render import feed_meta
from syndicator.feeds.rss_atom import render_atom, render_rss
from syndicator.site.files import PostFile
from syndicator.site.markdown import render_markdown
from syndicator.site.posts import load_post
from syndicator.state.db import State
from syndicator.upstreams.parse import UpstreamEntry
from syndicator.upstreams.poll import make_fetcher
from syndicator.upstreams.postwriter import PostSource, render_post

SAFE_SCHEMES = {"http", "https", "mailto"}
FORBIDDEN_ELEMENTS = {
    "script", "style", "base", "meta", "form", "iframe", "frame", "frameset", "object",
    "embed", "svg", "math", "link", "template", "noscript", "applet", "input", "button",
    "textarea", "select", "isindex", "use", "xml", "param", "audio", "video", "source",
}  # fmt: skip
URL_ATTRIBUTES = {
    "href", "src", "action", "formaction", "data", "poster", "background", "cite",
    "longdesc", "lowsrc", "dynsrc", "xlink:href", "srcset", "codebase", "manifest", "ping",
    "icon", "archive", "classid", "usemap", "profile",
}  # fmt: skip
FORBIDDEN_ATTRIBUTES = {"style", "srcdoc", "http-equiv"}
RAW_TAG = re.compile(
    r"<\s*/?\s*(script|iframe|frame|object|embed|svg|math|style|base|meta|form|link)\b", re.I
)
# What browsers drop from a URL before they read its scheme.
URL_NOISE = re.compile(r"[\x00-\x20\x7f]")
SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):")

VECTORS = {
    "script": "<script>alert(1)</script>",
    "script-src": "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "script-nested": "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "img-onerror": "<img src=x onerror=alert(1)>",
    "body-onload": "<body onload=alert(1)>x</body>",
    "div-onmouseover": '<div onmouseover="alert(1)">x</div>',
    "details-ontoggle": "<details open ontoggle=alert(1)><summary>x</summary></details>",
    "input-autofocus": "<input onfocus=alert(1) autofocus>",
    "marquee": "<marquee onstart=alert(1)>x</marquee>",
    "video-source": "<video><source onerror=alert(1)></video>",
    "js-url": '<a href="javascript:alert(1)">x</a>',
    "js-mixed-case": '<a href="JaVaScRiPt:alert(1)">x</a>',
    "js-decimal-entities": '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;'
    '&#116;&#58;alert(1)">x</a>',
    "js-hex-entities": '<a href="&#x6A;avascript&colon;alert(1)">x</a>',
    "js-padded-entities": '<a href="&#0000106&#0000097vascript:alert(1)">x</a>',
    "js-tab": '<a href="java\tscript:alert(1)">x</a>',
    "js-tab-entity": '<a href="java&#x09;script:alert(1)">x</a>',
    "js-newline": '<a href="java\nscript:alert(1)">x</a>',
    "js-newline-entity": '<a href="jav&#x0A;ascript:alert(1)">x</a>',
    "js-leading-space": '<a href=" \x01 javascript:alert(1)">x</a>',
    "js-unquoted": "<a href=javascript:alert(1)//>x",
    "js-img": '<img src="javascript:alert(1)">',
    "js-img-entity": '<img src="jav&#x61;script:alert(1)">',
    "vbscript": '<a href="vbscript:msgbox(1)">x</a>',
    "data-html": '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    "data-img-svg": '<img src="data:image/svg+xml,<svg onload=alert(1)>">',
    "data-mixed-case": '<a href="DaTa:text/html,<script>alert(1)</script>">x</a>',
    "svg-onload": "<svg onload=alert(1)><circle r=1></circle></svg>",
    "svg-use": '<svg><use href="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=#x"/></svg>',
    "svg-use-xlink": '<svg><use xlink:href="javascript:alert(1)"/></svg>',
    "svg-a": '<svg><a xlink:href="javascript:alert(1)"><text y="9">x</text></a></svg>',
    "svg-script": "<svg><script>alert(1)</script></svg>",
    "svg-animate": '<svg><animate attributeName="href" values="javascript:alert(1)"/></svg>',
    "math": '<math><maction actiontype="statusline" xlink:href="javascript:alert(1)">x</maction></math>',
    "base-js": '<base href="javascript:alert(1)//">',
    "base-evil": '<base href="http://evil.example/"><a href="x.html">x</a>',
    "meta-refresh": '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "meta-refresh-data": '<META HTTP-EQUIV="refresh" CONTENT="0;url=data:text/html,x">',
    "form-action": '<form action="javascript:alert(1)"><input type=submit></form>',
    "button-formaction": "<button formaction=javascript:alert(1)>x</button>",
    "isindex": "<isindex action=javascript:alert(1) type=image>",
    "style-attribute-url": '<div style="background:url(javascript:alert(1))">x</div>',
    "style-expression": '<p style="width: expression(alert(1))">x</p>',
    "style-element": '<style>body{background:url("javascript:alert(1)")}</style>',
    "style-import": "<style>@import 'http://evil.example/x.css';</style>",
    "link-stylesheet": '<link rel=stylesheet href="http://evil.example/x.css">',
    "object-data": '<object data="javascript:alert(1)"></object>',
    "object-classid": '<object classid="clsid:x" codebase="javascript:alert(1)"></object>',
    "embed": '<embed src="javascript:alert(1)">',
    "iframe": '<iframe src="javascript:alert(1)"></iframe>',
    "iframe-srcdoc": '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>',
    "frameset": '<frameset><frame src="javascript:alert(1)"></frameset>',
    "applet": "<applet code=x.class></applet>",
    "unclosed-img": '<img src="x" onerror="alert(1)"',
    "unclosed-a": '<div><a href="javascript:alert(1)">x',
    "double-open": "<<script>alert(1);//<</script>",
    "quote-break": '<img """><script>alert(1)</script>">',
    "backtick": "<img src=`x` onerror=alert(1)>",
    "no-space": "<img src='x'onerror='alert(1)'>",
    "slash-attribute": "<img/src=x/onerror=alert(1)>",
    "title-break": "<p title='\"><script>alert(1)</script>'>x</p>",
    "comment": "<!--<script>alert(1)</script>-->",
    "comment-bang": "<!-- --!><script>alert(1)</script> -->",
    "conditional-comment": "<!--[if IE]><script>alert(1)</script><![endif]-->",
    "cdata": "<![CDATA[<script>alert(1)</script>]]>",
    "noscript": '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "template": "<template><script>alert(1)</script><img src=x onerror=alert(1)></template>",
    "mxss-math-style": "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "mxss-svg-style": '<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">',
    "escaped-text": "<p>&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(2)&gt;</p>",
    "xml-namespace": '<x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>',
}


# --- the checks --------------------------------------------------------------------------------


def url_scheme(value: str) -> str | None:
    """The scheme a browser would see in ``value`` (an attribute value, entities decoded)."""
    found = SCHEME.match(URL_NOISE.sub("", value).lower())
    return found.group(1) if found else None


def problems(fragment: str) -> list[str]:
    """What makes ``fragment`` unsafe, parsed as HTML by lxml; [] when it is safe."""
    found = [f"raw tag {m.group(0)!r}" for m in RAW_TAG.finditer(fragment)]
    if not fragment.strip():
        return found
    # lxml refuses the characters XML forbids; browsers show them as text.
    root = lxml_html.fragment_fromstring(xml_safe(fragment), create_parent="div")
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue  # comments and processing instructions are not rendered
        tag = element.tag.split("}")[-1].lower()
        if tag in FORBIDDEN_ELEMENTS:
            found.append(f"<{tag}> element")
        for name, value in element.attrib.items():
            name = name.split("}")[-1].lower() if name.startswith("{") else name.lower()
            if name.startswith("on"):
                found.append(f"<{tag} {name}>")
            if name in FORBIDDEN_ATTRIBUTES:
                found.append(f"<{tag} {name}>")
            if name in URL_ATTRIBUTES or name.endswith(":href"):
                scheme = url_scheme(value)
                if scheme is not None and scheme not in SAFE_SCHEMES:
                    found.append(f"<{tag} {name}={value!r}>")
    return found


def assert_safe(fragment: str, where: str) -> None:
    found = problems(fragment)
    assert not found, f"{where}: {found}\n{fragment[:2000]}"


@pytest.mark.parametrize(
    "unsafe",
    [
        "<script>x</script>",
        "<p onclick=x>y</p>",
        '<a href="java\tscript:x">y</a>',
        '<a href="&#106;avascript:x">y</a>',
        '<img src=" DATA:x">',
        '<p style="color:red">y</p>',
        '<base href="http://x/">',
        "<svg></svg>",
        "<form></form>",
    ],
)
def test_the_checker_catches_what_it_must(unsafe):
    assert problems(unsafe)


def test_the_checker_passes_ordinary_html():
    assert (
        problems('<p>A <a href="https://x.example/" rel="noopener">b</a> <img src="/r.png"></p>')
        == []
    )


# --- through the poller into posts, through build into feeds ---------------------------------

BASE = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def upstream_documents(base_link: str) -> dict[str, tuple[bytes, str]]:
    """One entry per vector, in RSS (content:encoded), Atom (type="html") and JSON Feed."""
    rows = [
        (n, name, vector, format_datetime(BASE + timedelta(minutes=n)))
        for n, (name, vector) in enumerate(VECTORS.items())
    ]
    rss_items = "".join(
        f"<item><title>{name}</title><link>{base_link}/rss/{n}.html</link>"
        f"<guid>rss-{name}</guid><pubDate>{date}</pubDate>"
        f"<description>{html.escape(vector)}</description>"
        f"<content:encoded>{html.escape(vector)}</content:encoded></item>"
        for n, name, vector, date in rows
    )
    rss = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>R</title>'
        f"<link>{base_link}/</link><description>d</description>{rss_items}</channel></rss>"
    )
    atom_entries = "".join(
        f"<entry><title>{name}</title><id>atom-{name}</id>"
        f'<link href="{base_link}/atom/{n}.html"/>'
        f"<updated>{(BASE + timedelta(minutes=n)).isoformat()}</updated>"
        f'<content type="html">{html.escape(vector)}</content></entry>'
        for n, name, vector, _ in rows
    )
    atom = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>A</title><id>urn:a</id><updated>{BASE.isoformat()}</updated>"
        f"{atom_entries}</feed>"
    )
    json_feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "J",
        "items": [
            {
                "id": f"json-{name}",
                "url": f"{base_link}/json/{n}.html",
                "title": name,
                "content_html": vector,
                "date_published": (BASE + timedelta(minutes=n)).isoformat(),
            }
            for n, name, vector, _ in rows
        ],
    }
    return {
        "rss": (rss.encode(), "application/rss+xml"),
        "atom": (atom.encode(), "application/atom+xml"),
        "json": (json.dumps(json_feed).encode(), "application/feed+json"),
    }


HOSTILE_LINKS = [
    'http://news.example/x"><script>alert(1)</script>',
    "http://news.example/y> <img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
]


def hostile_link_feed() -> bytes:
    items = "".join(
        f"<item><title>link {n}</title><guid>link-{n}</guid>"
        f"<link>{html.escape(link)}</link><description>&lt;p&gt;x&lt;/p&gt;</description></item>"
        for n, link in enumerate(HOSTILE_LINKS)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>L</title>'
        f"<link>http://news.example/</link><description>d</description>{items}</channel></rss>"
    ).encode()


@pytest.fixture(scope="module")
def polled_site(tmp_path_factory) -> Config:
    """The vectors polled from three upstreams (and hostile links from a fourth), built."""
    root = tmp_path_factory.mktemp("xss")
    server = HostileServer()
    try:
        documents = upstream_documents("http://news.example")
        blocks = ""
        for kind, (body, content_type) in documents.items():
            url = server.route(f"/{kind}.xml", answer(body, content_type))
            blocks += f'\n[[upstreams]]\nname = "{kind}"\nurl = "{url}"\ncategory = "{kind}"\n'
        url = server.route("/links.xml", answer(hostile_link_feed()))
        blocks += f'\n[[upstreams]]\nname = "links"\nurl = "{url}"\ncategory = "links"\n'
        (root / "syndicator.toml").write_text(
            SITE_TOML.replace('dir = "feeds"', 'dir = "feeds"\nmax_items = 1000')
            + '\n[polling]\nbackfill = 1000\ntimeout = "5s"\nallow_private_addresses = true\n'
            + blocks,
            encoding="utf-8",
        )
        config = load_config(root / "syndicator.toml")
        with State.open(config.state.path) as state, make_fetcher(config) as fetcher:
            report = refresh.poll(config, state, list(config.upstreams), fetcher)
            build = refresh.build(config, state)
    finally:
        server.close()
    assert not report.failed, report.failed
    assert len(report.written) == 3 * len(VECTORS) + len(HOSTILE_LINKS)
    assert not build.problems
    return config


def test_every_post_body_is_safe(polled_site):
    posts = sorted(polled_site.posts.dirs[0].glob("*.md"))
    assert len(posts) == 3 * len(VECTORS) + len(HOSTILE_LINKS)
    for path in posts:
        body = path.read_text(encoding="utf-8").split("\n---\n", 1)[1]
        assert_safe(render_markdown(body), path.name)  # as the site's generator renders it
        assert_safe(body, path.name)


def test_hostile_links_cannot_break_out_of_the_post(polled_site):
    for path in polled_site.posts.dirs[0].glob("*.md"):
        text = path.read_text(encoding="utf-8")
        if "links" not in text.split("\n---\n", 1)[0]:
            continue
        loaded = load_post(PostFile(path, path.parent, 0, 0), polled_site)
        assert loaded is not None
        post, body = loaded
        assert post.source_url is None or post.source_url.startswith("http://news.example/")
        assert "<script" not in body and "<img" not in body
        assert "javascript:" not in body and "data:" not in body


def feed_html_fields(config: Config) -> list[tuple[str, str]]:
    """(where, HTML) of every field a reader renders as HTML, in every feed written."""
    fields = []
    namespaces = {"atom": "http://www.w3.org/2005/Atom"}
    for path in sorted(config.feeds.dir.rglob("*")):
        where = path.relative_to(config.feeds.dir).as_posix()
        if path.name == "rss.xml":
            root = etree.fromstring(path.read_bytes())
            for item in root.iter("item"):
                for element in item:
                    if element.tag in (
                        "description",
                        "{http://purl.org/rss/1.0/modules/content/}encoded",
                    ):
                        fields.append((f"{where} {element.tag}", element.text or ""))
        elif path.name == "atom.xml":
            root = etree.fromstring(path.read_bytes())
            for element in root.iterfind(".//atom:entry/atom:*", namespaces):
                kind = element.get("type", "text")
                if element.tag.endswith(("content", "summary", "title")) and kind == "html":
                    fields.append((f"{where} {element.tag}", element.text or ""))
                elif kind == "xhtml":
                    fields.append((where, etree.tostring(element, encoding="unicode")))
        elif path.name == "feed.json":
            for item in json.loads(path.read_bytes())["items"]:
                fields.append((f"{where} {item['id']}", item.get("content_html", "")))
    return fields


def test_every_feed_field_is_safe(polled_site):
    fields = feed_html_fields(polled_site)
    assert len(fields) > 6 * len(VECTORS)
    for where, fragment in fields:
        assert_safe(fragment, where)


def test_escaped_text_stays_text_in_the_rss_description(polled_site):
    """The summary is plain text; RSS readers render <description> as HTML."""
    rss = etree.fromstring((polled_site.feeds.dir / "categories/rss/rss.xml").read_bytes())
    [item] = [i for i in rss.iter("item") if i.findtext("title") == "escaped-text"]
    description = item.findtext("description")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in description
    assert "<script" not in description


# --- generated HTML ------------------------------------------------------------------------------

TAGS = st.sampled_from(
    ["script", "img", "a", "svg", "iframe", "style", "base", "meta", "form", "object", "embed",
     "math", "noscript", "template", "p", "b", "div", "frame", "use", "link", "input", "SCRIPT",
     "sCrIpT", "x:script", "table", "mglyph", "textarea", "title", "xmp", "plaintext"]
)  # fmt: skip
ATTRIBUTES = st.sampled_from(
    ["onerror", "onload", "onclick", "ONMOUSEOVER", "href", "src", "style", "action",
     "formaction", "xlink:href", "srcdoc", "data", "http-equiv", "content", "title", "id",
     "background", "poster"]
)  # fmt: skip
DANGEROUS_URLS = st.sampled_from(
    ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "java\tscript:alert(1)",
     "java&#x09;script:alert(1)", "&#106;avascript:alert(1)", "jav&#x61;script&colon;alert(1)",
     " \x01javascript:alert(1)", "vbscript:x", "data:text/html,<script>alert(1)</script>",
     "DATA:image/svg+xml,x", "//evil.example/x", "http://ok.example/", "mailto:a@b.example",
     "expression(alert(1))", "url(javascript:alert(1))", "alert(1)", "x\" onerror=\"alert(1)",
     "'><script>alert(1)</script>"]
)  # fmt: skip
QUOTES = st.sampled_from(['"', "'", "", "`"])
BREAKERS = st.sampled_from(
    ["<", ">", "</", "/>", "<!--", "-->", "--!>", "<![CDATA[", "]]>", '"', "'", "`", "=",
     "&", "&#", ";", "\t", "\n", "\x00", " ", "<!", "<?", "?>", "</script>", "</style>",
     "</noscript>", "</template>", "</title>"]
)  # fmt: skip


@st.composite
def tags(draw) -> str:
    name = draw(TAGS)
    attributes = ""
    for _ in range(draw(st.integers(0, 3))):
        quote = draw(QUOTES)
        attributes += f" {draw(ATTRIBUTES)}={quote}{draw(DANGEROUS_URLS)}{quote}"
    closing = draw(st.sampled_from([">", "/>", "", " >"]))
    return f"<{name}{attributes}{closing}"


HTMLISH = st.lists(
    st.one_of(
        tags(),
        TAGS.map(lambda name: f"</{name}>"),
        BREAKERS,
        st.sampled_from(list(VECTORS.values())),
        st.text(st.characters(codec="utf-8"), max_size=8),
    ),
    max_size=12,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(fragment=HTMLISH)
def test_generated_html_is_sanitized(fragment):
    assert_safe(sanitize_html(fragment, base_url="https://news.example/a/b.html"), "sanitize")
    assert_safe(sanitize_html(fragment), "sanitize without a base URL")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Config:
    root = tmp_path_factory.mktemp("generated")
    (root / "syndicator.toml").write_text(SITE_TOML, encoding="utf-8")
    return load_config(root / "syndicator.toml")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fragment=HTMLISH)
def test_generated_html_written_into_a_post_is_safe(site, fragment):
    upstream = UpstreamConfig(name="上游", url="https://up.example/feed", category="news")
    entry = UpstreamEntry(
        key="k",
        guid="k",
        link="https://news.example/a.html",
        title=fragment,
        content_html=fragment,
        published=BASE,
        updated=None,
    )
    text = render_post(entry, PostSource(upstream, upstream.url), BASE, site.attribution)
    body = text.split("\n---\n", 1)[1]
    assert_safe(render_markdown(body), "post body")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fragment=HTMLISH, extension=st.sampled_from([".md", ".html"]))
def test_generated_html_in_a_post_becomes_safe_feed_entries(site, fragment, extension):
    """A post of the site's own (or one edited by hand) holding anything: the feed entry's
    HTML is safe in every format."""
    folder = site.posts.dirs[0]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"2024-05-01-generated{extension}"
    body = fragment.replace("\x00", "")  # a NUL makes the file "binary": refused, not read
    path.write_text(
        f'---\ntitle: "t"\ndate: 2024-05-01 10:00:00 +0800\ncategories: news\n---\n{body}\n',
        encoding="utf-8",
    )
    loaded = load_post(PostFile(path, folder, 0, 0), site)
    assert loaded is not None
    entry = make_entry(*loaded, site)
    assert_safe(entry.content_html, "entry content")
    meta = feed_meta(FeedSpec(SITE, "", site.site.title), site)
    rss = etree.fromstring(render_rss(meta, [entry], site))
    for element in rss.iter("description", "{http://purl.org/rss/1.0/modules/content/}encoded"):
        if element.getparent().tag == "item":
            assert_safe(element.text or "", f"rss {element.tag}")
    atom = etree.fromstring(render_atom(meta, [entry], site))
    for element in atom.iter("{http://www.w3.org/2005/Atom}content"):
        assert_safe(element.text or "", "atom content")
    for item in json.loads(render_json(meta, [entry], site))["items"]:
        assert_safe(item["content_html"], "json content_html")
