"""Offline feed validity checks for the test suite.

The W3C Feed Validation Service is the reference for "is this feed valid",
but it is a network service and tests here run without network.  This module
re-creates its checks as strictly as practical so that tests can assert that
what syndicator emits would pass it:

* Atom (RFC 4287): the RFC's RELAX NG schema (schemas/atom.rng beside this file, made
  with trang from atom.rnc) run through ``xmllint --relaxng``, plus the rules
  the W3C validator enforces beyond the schema (author presence, absolute
  IRI ids, RFC 3339 dates, one alternate link per type+hreflang, a
  rel="self" link, no Atom 0.3 type="CDATA", valid content types).
* RSS 2.0: there is no official schema, so the W3C validator's RSS 2.0
  rules are implemented with lxml (required channel/item elements, absolute
  URLs, strict RFC 822 dates, guid/source/enclosure/category rules, no
  undefined elements in the RSS namespace, an atom:link rel="self").
* JSON Feed 1.1: the rules of the specification, checked in plain Python.

RSS and Atom are also parsed with feedparser, because that is what most
consumers do: a ``bozo`` document or an unexpected detected version is a
problem even when the validator rules pass.

W3C *warnings* (for example a missing self link) are reported as problems
too: the aim is a feed that validates cleanly, not one that merely parses.

Each problem is a string ``"<rule>: <detail>"`` (with the line number where
one is known); the rule name is stable so tests can match on it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
from lxml import etree

__all__ = [
    "ATOM_RNG",
    "assert_valid_atom",
    "assert_valid_jsonfeed",
    "assert_valid_rss",
    "check_atom",
    "check_atom_schema",
    "check_jsonfeed",
    "check_rss",
    "is_absolute_iri",
    "is_absolute_url",
    "is_rfc3339",
    "rfc822_problems",
    "xmllint_path",
]

ATOM_RNG = Path(__file__).resolve().parent / "schemas" / "atom.rng"

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"

Element = etree._Element
Problems = list[str]


def _problem(rule: str, detail: str, element: Element | None = None) -> str:
    """Format one problem; the line number makes failures easy to locate."""
    line = getattr(element, "sourceline", None)
    where = f" (line {line})" if line else ""
    return f"{rule}{where}: {detail}"


def _raise_if_problems(kind: str, problems: Problems) -> None:
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise AssertionError(f"invalid {kind} ({len(problems)} problems):\n{listing}")


def _require_bytes(data: object) -> bytes:
    # A str would make lxml reject an encoding declaration and would hide
    # encoding bugs, which are exactly what a feed check should catch.
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"feed data must be bytes, not {type(data).__name__}")
    return bytes(data)


# --------------------------------------------------------------------------
# Shared value checks
# --------------------------------------------------------------------------

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
# Characters that RFC 3987 never allows unescaped (whitespace, delimiters,
# controls); everything else non-ASCII is an IRI "ucschar" and allowed.
_IRI_FORBIDDEN = re.compile(r'[\s<>"{}|\\^`\x00-\x1f\x7f]')
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# Schemes whose URIs are meaningless without an authority ("http:foo").
_HIERARCHICAL_SCHEMES = frozenset({"http", "https", "ftp", "ws", "wss"})
_TAG_URI = re.compile(r"tag:[^,\s]+,\d{4}(?:-\d{2}(?:-\d{2})?)?:.*", re.DOTALL)


def _scheme_specific_ok(value: str) -> bool:
    """Stricter checks for schemes feeds commonly use as ids."""
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme in _HIERARCHICAL_SCHEMES:
        return bool(parts.hostname)
    if scheme == "tag":
        return bool(_TAG_URI.fullmatch(value))
    if scheme == "urn" and value[4:].lower().startswith("uuid:"):
        try:
            uuid.UUID(value[9:])
        except ValueError:
            return False
    return True


def is_absolute_iri(value: str) -> bool:
    """True if *value* is an absolute IRI (RFC 3987) with a plausible shape."""
    if not _SCHEME.match(value) or _IRI_FORBIDDEN.search(value) or _BAD_PERCENT.search(value):
        return False
    try:
        return _scheme_specific_ok(value)
    except ValueError:  # urlsplit rejects malformed IPv6 hosts and ports
        return False


def is_absolute_url(value: str) -> bool:
    """True if *value* is an absolute URL: an absolute IRI limited to ASCII.

    RSS 2.0 predates IRIs and the W3C validator checks its links as RFC 2396
    URLs, so non-ASCII characters must be percent-encoded there.
    """
    return value.isascii() and is_absolute_iri(value)


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|[+-](\d{2}):(\d{2}))"
)


def is_rfc3339(value: str) -> bool:
    """True if *value* is an RFC 3339 date-time (upper-case T and Z, with zone)."""
    match = _RFC3339.fullmatch(value)
    if not match:
        return False
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    zone_hour, zone_minute = match.group(7), match.group(8)
    if zone_hour is not None and (int(zone_hour) > 23 or int(zone_minute) > 59):
        return False
    # RFC 3339 allows a leap second (60); datetime does not, so check 59.
    if second == 60:
        second = 59
    try:
        datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    return True


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_RFC822 = re.compile(
    rf"(?:(?P<dow>{'|'.join(_DAYS)}), )?"
    rf"(?P<day>\d{{1,2}}) (?P<month>{'|'.join(_MONTHS)}) (?P<year>\d{{4}}|\d{{2}}) "
    r"(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))? "
    # RFC 822 zones: UT/GMT, the US zones, military letters (no J), +-hhmm.
    r"(?P<zone>UT|GMT|[ECMP][SD]T|[A-IK-Z]|[+-]\d{4})"
)


def rfc822_problems(value: str) -> list[str]:
    """Describe what is wrong with *value* as an RSS (RFC 822) date; [] if fine."""
    match = _RFC822.fullmatch(value)
    if not match:
        return [f"{value!r} is not an RFC 822 date like 'Sat, 07 Sep 2002 00:00:01 +0000'"]
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError) as exc:
        return [f"{value!r} is not a real date ({exc})"]
    problems = []
    if len(match["year"]) == 2:
        problems.append(f"{value!r} has a 2-digit year; use 4 digits")
    if match["dow"] and match["dow"] != _DAYS[parsed.weekday()]:
        problems.append(f"{value!r}: {match['dow']} is the wrong day of the week")
    return problems


_MIME_TOKEN = r"[A-Za-z0-9!#$&^_.+\-]+"
_MIME_TYPE = re.compile(rf"{_MIME_TOKEN}/{_MIME_TOKEN}(?:\s*;\s*{_MIME_TOKEN}=\S+)*")


def _is_mime_type(value: str) -> bool:
    return bool(_MIME_TYPE.fullmatch(value))


_EMAIL = re.compile(r"[^@\s()<>]+@[^@\s()<>]+\.[^@\s()<>]+")


# --------------------------------------------------------------------------
# XML parsing and feedparser
# --------------------------------------------------------------------------


def _parse_xml(data: bytes) -> tuple[Element | None, Problems]:
    """Parse *data*; a feed that is not well-formed XML is invalid outright."""
    # No network, no entity expansion: a feed must stand on its own.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        return etree.fromstring(data, parser), []
    except etree.XMLSyntaxError as exc:
        return None, [_problem("xml", f"not well-formed: {exc}")]


def _check_with_feedparser(data: bytes, expected_version: str) -> Problems:
    """Report what feedparser, the de-facto consumer, chokes on."""
    parsed = feedparser.parse(data)
    problems = []
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        problems.append(_problem("feedparser.bozo", f"{type(exc).__name__}: {exc}"))
    version = parsed.get("version", "")
    if version != expected_version:
        problems.append(
            _problem("feedparser.version", f"detected {version!r}, expected {expected_version!r}")
        )
    return problems


def _text(element: Element | None) -> str:
    return "" if element is None else (element.text or "")


def _child_elements(element: Element) -> list[Element]:
    # len()/iteration also count comments and processing instructions.
    return [child for child in element if isinstance(child.tag, str)]


def _run_rules(root: Element, rules: Iterable[Callable[[Element], Problems]]) -> Problems:
    problems: Problems = []
    for rule in rules:
        problems.extend(rule(root))
    return problems


# --------------------------------------------------------------------------
# Atom
# --------------------------------------------------------------------------


def _a(name: str) -> str:
    return f"{{{ATOM_NS}}}{name}"


def xmllint_path() -> str | None:
    """Where xmllint is, or None; tests skip the schema part without it."""
    return shutil.which("xmllint")


_XMLLINT_STDIN_LINE = re.compile(r"^-:(\d+): ")


def _xmllint_messages(stderr: str) -> list[str]:
    # xmllint ends with a "- fails to validate" summary that adds nothing,
    # and names stdin "-", which reads better as a line number.
    lines = (line.strip() for line in stderr.splitlines())
    messages = (
        _XMLLINT_STDIN_LINE.sub(r"line \1: ", line)
        for line in lines
        if line and not line.endswith(" validate")
    )
    # libxml2 repeats some messages while backtracking through interleaves.
    return list(dict.fromkeys(messages))


def check_atom_schema(data: bytes) -> list[str]:
    """Validate *data* against the RFC 4287 RELAX NG schema with xmllint.

    Raises FileNotFoundError if xmllint is not installed, so that a missing
    tool can never pass for a valid feed.
    """
    data = _require_bytes(data)
    xmllint = xmllint_path()
    if xmllint is None:
        raise FileNotFoundError("xmllint is not on PATH (Debian package libxml2-utils)")
    result = subprocess.run(
        [xmllint, "--noout", "--nonet", "--relaxng", str(ATOM_RNG), "-"],
        input=data,
        capture_output=True,
        timeout=60,
        check=False,
    )
    if result.returncode == 0:
        return []
    stderr = result.stderr.decode("utf-8", errors="replace")
    messages = _xmllint_messages(stderr) or [f"xmllint exited {result.returncode}: {stderr}"]
    return [_problem("atom.schema", message) for message in messages]


def _atom_root(root: Element) -> Problems:
    # An entry document is valid Atom, but not a feed.
    if root.tag != _a("feed"):
        return [_problem("atom.root", f"root element is {root.tag}, expected atom:feed", root)]
    return []


def _atom_author(root: Element) -> Problems:
    # RFC 4287 4.1.1: a feed needs an author unless every entry has one
    # (directly or in its atom:source).
    if root.find(_a("author")) is not None:
        return []
    return [
        _problem("atom.author", "entry has no atom:author and the feed has none", entry)
        for entry in root.iter(_a("entry"))
        if entry.find(_a("author")) is None and entry.find(f"{_a('source')}/{_a('author')}") is None
    ]


def _atom_ids(root: Element) -> Problems:
    problems = [
        _problem("atom.id", f"{_text(el)!r} is not an absolute IRI", el)
        for el in root.iter(_a("id"))
        if not is_absolute_iri(_text(el))
    ]
    # Entry ids identify entries across feed fetches, so a repeat is a bug.
    ids = Counter(_text(entry.find(_a("id"))) for entry in root.iter(_a("entry")))
    problems += [
        _problem("atom.id", f"entry id {value!r} is used {count} times")
        for value, count in ids.items()
        if count > 1 and value
    ]
    return problems


def _atom_dates(root: Element) -> Problems:
    return [
        _problem("atom.date", f"<{etree.QName(el).localname}> {el.text!r} is not RFC 3339", el)
        for name in ("updated", "published")
        for el in root.iter(_a(name))
        if not is_rfc3339(_text(el).strip())
    ]


def _is_alternate(link: Element) -> bool:
    # A missing rel means "alternate" (RFC 4287 4.2.7.2), and the IANA
    # registry URI is the same relation spelled in full.
    rel = link.get("rel", "alternate")
    return rel in ("alternate", "http://www.iana.org/assignments/relation/alternate")


def _atom_alternates(root: Element) -> Problems:
    problems = []
    for parent in (root, *root.iter(_a("entry"), _a("source"))):
        links = [link for link in parent.findall(_a("link")) if _is_alternate(link)]
        keys = Counter((link.get("type"), link.get("hreflang")) for link in links)
        problems += [
            _problem(
                "atom.alternate",
                f"{count} rel=alternate links with type={kind!r} hreflang={lang!r}",
                parent,
            )
            for (kind, lang), count in keys.items()
            if count > 1
        ]
    return problems


def _atom_content_or_alternate(root: Element) -> Problems:
    # The RFC's Schematron rule, which xmllint does not run.
    return [
        _problem("atom.alternate", "entry has neither atom:content nor a rel=alternate link", entry)
        for entry in root.iter(_a("entry"))
        if entry.find(_a("content")) is None
        and not any(_is_alternate(link) for link in entry.findall(_a("link")))
    ]


def _resolved_href(link: Element) -> str:
    """The link's href resolved against the xml:base values above it."""
    bases = [el.get(XML_BASE) for el in (link, *link.iterancestors())]
    href = link.get("href", "")
    for base in bases:
        if base is not None:
            href = urljoin(base, href)
    return href


def _atom_self(root: Element) -> Problems:
    # The W3C validator warns without a self link; readers need it to know
    # the feed's canonical address (and WebSub needs it to subscribe).
    selves = [link for link in root.findall(_a("link")) if link.get("rel") == "self"]
    if not selves:
        return [_problem("atom.self", 'feed has no <link rel="self">', root)]
    return [
        _problem("atom.self", f"self link href {link.get('href')!r} is not absolute", link)
        for link in selves
        if not is_absolute_iri(_resolved_href(link))
    ]


def _atom_elements(root: Element) -> Iterable[Element]:
    return (el for el in root.iter() if isinstance(el.tag, str) and el.tag.startswith(_a("")))


def _atom_cdata(root: Element) -> Problems:
    # type="CDATA" is Atom 0.3 and invalid in Atom 1.0; checked here as well
    # so it is caught even when xmllint is missing.
    return [
        _problem("atom.cdata", f'<{etree.QName(el).localname} type="CDATA"> is Atom 0.3', el)
        for el in _atom_elements(root)
        if el.get("type", "").upper() == "CDATA"
    ]


_TEXT_CONSTRUCTS = ("title", "subtitle", "summary", "rights")
_TEXT_TYPES = ("text", "html", "xhtml")


def _atom_text_types(root: Element) -> Problems:
    return [
        _problem("atom.text-type", f"<{name} type={el.get('type')!r}> must be text/html/xhtml", el)
        for name in _TEXT_CONSTRUCTS
        for el in root.iter(_a(name))
        if el.get("type", "text") not in _TEXT_TYPES
    ]


def _is_xml_media_type(media_type: str) -> bool:
    essence = media_type.split(";")[0].strip().lower()
    return essence.endswith(("+xml", "/xml"))


def _content_type_problems(content: Element) -> list[str]:
    """RFC 4287 4.1.3.1-4.1.3.3 rules for one atom:content element."""
    kind = content.get("type", "text")
    has_children = bool(_child_elements(content))
    if kind in _TEXT_TYPES:
        if content.get("src") is not None:
            return [f'with src, type must be a MIME type, not "{kind}"']
        if kind != "xhtml" and has_children:
            return [f'type "{kind}" must not contain child elements']
        return []
    if not _is_mime_type(kind):
        return [f"type {kind!r} is neither text/html/xhtml nor a MIME type"]
    if kind.lower().startswith(("multipart/", "message/")):
        return [f"type {kind!r} is a composite MIME type"]
    if kind.lower().startswith("text/") and has_children:
        return [f"type {kind!r} must not contain child elements"]
    return []


def _atom_content_types(root: Element) -> Problems:
    return [
        _problem("atom.content-type", detail, content)
        for content in root.iter(_a("content"))
        for detail in _content_type_problems(content)
    ]


def _needs_summary(content: Element) -> bool:
    # RFC 4287 4.1.1.1: out-of-line or Base64 content needs an atom:summary.
    kind = content.get("type", "text")
    if content.get("src") is not None:
        return True
    if kind in _TEXT_TYPES or kind.lower().startswith("text/"):
        return False
    return not _is_xml_media_type(kind)


def _atom_summary(root: Element) -> Problems:
    return [
        _problem("atom.summary", "entry with src or Base64 content needs atom:summary", entry)
        for entry in root.iter(_a("entry"))
        if (content := entry.find(_a("content"))) is not None
        and _needs_summary(content)
        and entry.find(_a("summary")) is None
    ]


def _atom_emails(root: Element) -> Problems:
    return [
        _problem("atom.email", f"{el.text!r} is not an email address", el)
        for el in root.iter(_a("email"))
        if not _EMAIL.fullmatch(_text(el))
    ]


_ATOM_RULES: tuple[Callable[[Element], Problems], ...] = (
    _atom_author,
    _atom_ids,
    _atom_dates,
    _atom_alternates,
    _atom_content_or_alternate,
    _atom_self,
    _atom_cdata,
    _atom_text_types,
    _atom_content_types,
    _atom_summary,
    _atom_emails,
)


def _atom_schema_if_available(data: bytes) -> Problems:
    if xmllint_path() is None:
        # Loud, not silent: the rest of the checks still run, but the
        # schema half of Atom validation is missing on this machine.
        warnings.warn(
            "xmllint not on PATH: Atom RELAX NG schema check skipped "
            "(apt-get install libxml2-utils)",
            RuntimeWarning,
            stacklevel=3,
        )
        return []
    return check_atom_schema(data)


def check_atom(data: bytes) -> list[str]:
    """Every problem the W3C validator would report for an Atom 1.0 feed."""
    data = _require_bytes(data)
    root, problems = _parse_xml(data)
    problems += _check_with_feedparser(data, "atom10")
    if root is None:
        return problems
    if root.tag != _a("feed"):
        return problems + _atom_root(root)
    problems += _atom_schema_if_available(data)
    return problems + _run_rules(root, _ATOM_RULES)


def assert_valid_atom(data: bytes) -> None:
    """Raise AssertionError listing every problem in an Atom feed."""
    _raise_if_problems("Atom feed", check_atom(data))


# --------------------------------------------------------------------------
# RSS 2.0
# --------------------------------------------------------------------------

# https://www.rssboard.org/rss-specification: everything else in the empty
# namespace is an "Undefined channel/item element" for the W3C validator.
RSS_CHANNEL_ELEMENTS = frozenset(
    {
        "title",
        "link",
        "description",
        "language",
        "copyright",
        "managingEditor",
        "webMaster",
        "pubDate",
        "lastBuildDate",
        "category",
        "generator",
        "docs",
        "cloud",
        "ttl",
        "image",
        "rating",
        "textInput",
        "skipHours",
        "skipDays",
        "item",
    }
)
RSS_ITEM_ELEMENTS = frozenset(
    {
        "title",
        "link",
        "description",
        "author",
        "category",
        "comments",
        "enclosure",
        "guid",
        "pubDate",
        "source",
    }
)
_CHANNEL_SINGLETONS = RSS_CHANNEL_ELEMENTS - {"category", "item"}
# The W3C validator warns on a second enclosure: most readers take one.
_ITEM_SINGLETONS = RSS_ITEM_ELEMENTS - {"category"}
_CHANNEL_URLS = ("link", "docs")
_ITEM_URLS = ("link", "comments")
_CHANNEL_DATES = ("pubDate", "lastBuildDate")
_CHANNEL_EMAILS = ("managingEditor", "webMaster")
# Elements with attributes or sub-elements of their own; the rest are text.
_STRUCTURED = frozenset({"cloud", "image", "textInput", "skipHours", "skipDays", "item"})


def _channel(root: Element) -> Element | None:
    return root.find("channel")


def _the_channel(root: Element) -> Element:
    """The channel, for rules that check_rss runs only once it exists."""
    channel = _channel(root)
    if channel is None:
        raise ValueError("RSS channel rules need a <channel>")
    return channel


def _items(root: Element) -> list[Element]:
    channel = _channel(root)
    return [] if channel is None else channel.findall("item")


def _rss_root(root: Element) -> Problems:
    if root.tag != "rss":
        return [_problem("rss.root", f"root element is {root.tag}, expected <rss>", root)]
    if root.get("version") != "2.0":
        return [_problem("rss.root", f'version={root.get("version")!r}, expected "2.0"', root)]
    return []


def _rss_channel(root: Element) -> Problems:
    count = len(root.findall("channel"))
    if count != 1:
        return [_problem("rss.channel", f"<rss> must have one <channel>, has {count}", root)]
    return []


def _rss_required(root: Element) -> Problems:
    channel = _the_channel(root)
    return [
        _problem("rss.required", f"<channel> has no <{name}>", channel)
        for name in ("title", "link", "description")
        if channel.find(name) is None
    ]


def _rss_unknown(root: Element) -> Problems:
    # Namespaced extensions are fine; only the RSS (empty) namespace is closed.
    scopes = [(root, frozenset({"channel"}), "rss")]
    channel = _channel(root)
    if channel is not None:
        scopes.append((channel, RSS_CHANNEL_ELEMENTS, "channel"))
        scopes += [(item, RSS_ITEM_ELEMENTS, "item") for item in _items(root)]
    return [
        _problem("rss.unknown", f"undefined {scope} element <{child.tag}>", child)
        for parent, allowed, scope in scopes
        for child in parent
        if isinstance(child.tag, str) and "}" not in child.tag and child.tag not in allowed
    ]


def _duplicates(parent: Element, singletons: frozenset[str], scope: str) -> Problems:
    counts = Counter(child.tag for child in parent if child.tag in singletons)
    return [
        _problem("rss.duplicate", f"<{scope}> has {count} <{tag}> elements", parent)
        for tag, count in counts.items()
        if count > 1
    ]


def _rss_duplicates(root: Element) -> Problems:
    channel = _the_channel(root)
    problems = _duplicates(channel, _CHANNEL_SINGLETONS, "channel")
    for item in _items(root):
        problems += _duplicates(item, _ITEM_SINGLETONS, "item")
    return problems


def _rss_text_only(root: Element) -> Problems:
    # HTML belongs escaped (or in CDATA) inside <description>; raw child
    # elements there are undefined elements for the W3C validator.
    channel = _the_channel(root)
    parents = [channel, *_items(root)]
    return [
        _problem("rss.markup", f"<{child.tag}> must be text, found <{inner[0].tag}> inside", child)
        for parent in parents
        for child in _child_elements(parent)
        if child.tag in RSS_CHANNEL_ELEMENTS | RSS_ITEM_ELEMENTS
        and child.tag not in _STRUCTURED
        and (inner := _child_elements(child))
    ]


def _url_problems(parent: Element, names: Iterable[str]) -> Problems:
    return [
        _problem("rss.url", f"<{name}> {_text(el)!r} is not an absolute URL", el)
        for name in names
        for el in parent.findall(name)
        if not is_absolute_url(_text(el).strip())
    ]


def _rss_urls(root: Element) -> Problems:
    channel = _the_channel(root)
    problems = _url_problems(channel, _CHANNEL_URLS)
    for item in _items(root):
        problems += _url_problems(item, _ITEM_URLS)
    return problems


def _date_problems(parent: Element, names: Iterable[str]) -> Problems:
    return [
        _problem("rss.date", f"<{name}> {detail}", el)
        for name in names
        for el in parent.findall(name)
        for detail in rfc822_problems(_text(el).strip())
    ]


def _rss_dates(root: Element) -> Problems:
    channel = _the_channel(root)
    problems = _date_problems(channel, _CHANNEL_DATES)
    for item in _items(root):
        problems += _date_problems(item, ("pubDate",))
    return problems


def _rss_items(root: Element) -> Problems:
    return [
        _problem("rss.item", "item has neither <title> nor <description>", item)
        for item in _items(root)
        if not _text(item.find("title")).strip() and not _text(item.find("description")).strip()
    ]


def _guid_problems(guid: Element) -> list[str]:
    perma = guid.get("isPermaLink", "true")
    if perma not in ("true", "false"):
        return [f'isPermaLink={perma!r} must be "true" or "false"']
    value = _text(guid).strip()
    if not value:
        return ["<guid> is empty"]
    if perma == "true" and not is_absolute_url(value):
        return [f'{value!r} is not an absolute URL; set isPermaLink="false" if it is not one']
    return []


def _rss_guid(root: Element) -> Problems:
    return [
        _problem("rss.guid", detail, guid)
        for item in _items(root)
        for guid in item.findall("guid")
        for detail in _guid_problems(guid)
    ]


def _rss_source(root: Element) -> Problems:
    return [
        _problem("rss.source", f"<source url={source.get('url')!r}> needs an absolute URL", source)
        for item in _items(root)
        for source in item.findall("source")
        if not is_absolute_url(source.get("url", ""))
    ]


def _enclosure_problems(enclosure: Element) -> list[str]:
    problems = []
    if not is_absolute_url(enclosure.get("url", "")):
        problems.append(f"url {enclosure.get('url')!r} is not an absolute URL")
    if not enclosure.get("length", "").isdecimal():
        problems.append(f"length {enclosure.get('length')!r} is not a byte count")
    if not _is_mime_type(enclosure.get("type", "")):
        problems.append(f"type {enclosure.get('type')!r} is not a MIME type")
    return problems


def _rss_enclosure(root: Element) -> Problems:
    return [
        _problem("rss.enclosure", detail, enclosure)
        for item in _items(root)
        for enclosure in item.findall("enclosure")
        for detail in _enclosure_problems(enclosure)
    ]


def _rss_category(root: Element) -> Problems:
    channel = _the_channel(root)
    return [
        _problem("rss.category", "<category> is empty", category)
        for parent in (channel, *_items(root))
        for category in parent.findall("category")
        if not _text(category).strip()
    ]


def _email_problems(parent: Element, names: Iterable[str]) -> Problems:
    # RSS 2.0 people are "email (Name)"; a bare name is an error for W3C.
    return [
        _problem("rss.email", f"<{name}> {_text(el)!r} must start with an email address", el)
        for name in names
        for el in parent.findall(name)
        if not _EMAIL.fullmatch(_text(el).strip().split(" ", 1)[0])
    ]


def _rss_emails(root: Element) -> Problems:
    channel = _the_channel(root)
    problems = _email_problems(channel, _CHANNEL_EMAILS)
    for item in _items(root):
        problems += _email_problems(item, ("author",))
    return problems


def _image_problems(image: Element) -> list[str]:
    problems = [
        f"<image> has no <{name}>" for name in ("url", "title", "link") if image.find(name) is None
    ]
    problems += [
        f"<image><{name}> {_text(image.find(name))!r} is not an absolute URL"
        for name in ("url", "link")
        if image.find(name) is not None and not is_absolute_url(_text(image.find(name)).strip())
    ]
    for name, limit in (("width", 144), ("height", 400)):
        value = _text(image.find(name)).strip()
        if image.find(name) is not None and not (value.isdecimal() and int(value) <= limit):
            problems.append(f"<image><{name}> {value!r} must be a number up to {limit}")
    return problems


def _rss_image(root: Element) -> Problems:
    channel = _the_channel(root)
    return [
        _problem("rss.image", detail, image)
        for image in channel.findall("image")
        for detail in _image_problems(image)
    ]


def _rss_ttl(root: Element) -> Problems:
    channel = _the_channel(root)
    return [
        _problem("rss.ttl", f"<ttl> {_text(ttl)!r} is not a whole number of minutes", ttl)
        for ttl in channel.findall("ttl")
        if not _text(ttl).strip().isdecimal()
    ]


def _rss_self(root: Element) -> Problems:
    # The W3C validator warns "Missing atom:link with rel="self"" for RSS.
    channel = _the_channel(root)
    selves = [link for link in channel.findall(_a("link")) if link.get("rel") == "self"]
    if not selves:
        return [_problem("rss.self", '<channel> has no <atom:link rel="self">', channel)]
    problems = []
    for link in selves:
        if not is_absolute_url(link.get("href", "")):
            problems.append(
                _problem("rss.self", f"atom:link href {link.get('href')!r} is not absolute", link)
            )
        if not _is_mime_type(link.get("type", "")):
            problems.append(_problem("rss.self", "atom:link rel=self needs a MIME type", link))
    return problems


# Run only once the root and its single channel are known to be right.
_RSS_CHANNEL_RULES: tuple[Callable[[Element], Problems], ...] = (
    _rss_required,
    _rss_unknown,
    _rss_duplicates,
    _rss_text_only,
    _rss_urls,
    _rss_dates,
    _rss_items,
    _rss_guid,
    _rss_source,
    _rss_enclosure,
    _rss_category,
    _rss_emails,
    _rss_image,
    _rss_ttl,
    _rss_self,
)


def check_rss(data: bytes) -> list[str]:
    """Every problem the W3C validator would report for an RSS 2.0 feed."""
    data = _require_bytes(data)
    root, problems = _parse_xml(data)
    problems += _check_with_feedparser(data, "rss20")
    if root is None:
        return problems
    structure = _rss_root(root) + _rss_channel(root)
    if structure and (root.tag != "rss" or _channel(root) is None):
        return problems + structure
    return problems + structure + _run_rules(root, _RSS_CHANNEL_RULES)


def assert_valid_rss(data: bytes) -> None:
    """Raise AssertionError listing every problem in an RSS 2.0 feed."""
    _raise_if_problems("RSS 2.0 feed", check_rss(data))


# --------------------------------------------------------------------------
# JSON Feed 1.1
# --------------------------------------------------------------------------

JSONFEED_VERSION = "https://jsonfeed.org/version/1.1"

# https://www.jsonfeed.org/version/1.1/ - key -> expected JSON type.
_FEED_KEYS: dict[str, type | tuple[type, ...]] = {
    "version": str,
    "title": str,
    "home_page_url": str,
    "feed_url": str,
    "description": str,
    "user_comment": str,
    "next_url": str,
    "icon": str,
    "favicon": str,
    "authors": list,
    "language": str,
    "expired": bool,
    "hubs": list,
    "items": list,
}
_ITEM_KEYS: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "url": str,
    "external_url": str,
    "title": str,
    "content_html": str,
    "content_text": str,
    "summary": str,
    "image": str,
    "banner_image": str,
    "date_published": str,
    "date_modified": str,
    "authors": list,
    "tags": list,
    "language": str,
    "attachments": list,
}
_AUTHOR_KEYS: dict[str, type | tuple[type, ...]] = {"name": str, "url": str, "avatar": str}
_HUB_KEYS: dict[str, type | tuple[type, ...]] = {"type": str, "url": str}
_ATTACHMENT_KEYS: dict[str, type | tuple[type, ...]] = {
    "url": str,
    "mime_type": str,
    "title": str,
    # bool is an int subclass in Python but not a number in JSON terms.
    "size_in_bytes": (int, float),
    "duration_in_seconds": (int, float),
}
_FEED_URLS = ("home_page_url", "feed_url", "next_url", "icon", "favicon")
_ITEM_URLS_JSON = ("url", "external_url", "image", "banner_image")
_ITEM_DATES = ("date_published", "date_modified")

JsonObject = dict[str, Any]


def _json_type_name(value: Any) -> str:
    return type(value).__name__


def _expected_name(expected: type | tuple[type, ...]) -> str:
    kinds = expected if isinstance(expected, tuple) else (expected,)
    return " or ".join(kind.__name__ for kind in kinds)


def _is_json_type(value: Any, expected: type | tuple[type, ...]) -> bool:
    if isinstance(value, bool) and expected is not bool:
        return False
    return isinstance(value, expected)


def _object_problems(
    obj: JsonObject, schema: dict[str, type | tuple[type, ...]], where: str
) -> Problems:
    """Type-check known keys; unknown keys must be `_` extensions."""
    problems = []
    for key, value in obj.items():
        expected = schema.get(key)
        if expected is None:
            if not key.startswith("_"):
                problems.append(_problem("json.unknown", f"{where}: unknown key {key!r}"))
        elif not _is_json_type(value, expected):
            problems.append(
                _problem(
                    "json.type",
                    f"{where}.{key} is {_json_type_name(value)}, not {_expected_name(expected)}",
                )
            )
    return problems


def _url_fields(obj: JsonObject, keys: Iterable[str], where: str) -> Problems:
    return [
        _problem("json.url", f"{where}.{key} {obj[key]!r} is not an absolute URL")
        for key in keys
        if isinstance(obj.get(key), str) and not is_absolute_iri(obj[key])
    ]


def _json_authors(obj: JsonObject, where: str) -> Problems:
    authors = obj.get("authors")
    if not isinstance(authors, list):
        return []
    problems = []
    for index, author in enumerate(authors):
        here = f"{where}.authors[{index}]"
        if not isinstance(author, dict):
            problems.append(_problem("json.authors", f"{here} is not an object"))
            continue
        if not author.keys() & _AUTHOR_KEYS.keys():
            problems.append(_problem("json.authors", f"{here} has none of name/url/avatar"))
        problems += _object_problems(author, _AUTHOR_KEYS, here)
        problems += _url_fields(author, ("url", "avatar"), here)
    return problems


def _json_deprecated_author(obj: JsonObject, where: str) -> Problems:
    # `author` is JSON Feed 1.0; 1.1 readers are told to prefer `authors`.
    if "author" in obj:
        return [_problem("json.authors", f"{where}.author is deprecated in 1.1; use authors")]
    return []


def _json_feed_header(feed: JsonObject) -> Problems:
    problems = []
    if feed.get("version") != JSONFEED_VERSION:
        problems.append(
            _problem(
                "json.version", f"version is {feed.get('version')!r}, not {JSONFEED_VERSION!r}"
            )
        )
    if not isinstance(feed.get("title"), str):
        problems.append(_problem("json.title", "feed has no string title"))
    if not isinstance(feed.get("items"), list):
        problems.append(_problem("json.items", "feed has no items list"))
    # The JSON Feed analogue of Atom's rel="self", "strongly recommended".
    if "feed_url" not in feed:
        problems.append(_problem("json.url", "feed has no feed_url"))
    return problems


def _json_hubs(feed: JsonObject) -> Problems:
    hubs = feed.get("hubs")
    if not isinstance(hubs, list):
        return []
    problems = []
    for index, hub in enumerate(hubs):
        here = f"feed.hubs[{index}]"
        if not isinstance(hub, dict) or not {"type", "url"} <= hub.keys():
            problems.append(_problem("json.hubs", f"{here} needs type and url"))
            continue
        problems += _object_problems(hub, _HUB_KEYS, here)
        problems += _url_fields(hub, ("url",), here)
    return problems


def _json_item_content(item: JsonObject, where: str) -> Problems:
    if "content_html" not in item and "content_text" not in item:
        return [_problem("json.content", f"{where} has neither content_html nor content_text")]
    return []


def _json_item_id(item: JsonObject, where: str) -> Problems:
    if not isinstance(item.get("id"), str) or not item["id"]:
        return [
            _problem("json.id", f"{where}.id must be a non-empty string, is {item.get('id')!r}")
        ]
    return []


def _json_item_dates(item: JsonObject, where: str) -> Problems:
    return [
        _problem("json.date", f"{where}.{key} {item[key]!r} is not RFC 3339")
        for key in _ITEM_DATES
        if isinstance(item.get(key), str) and not is_rfc3339(item[key])
    ]


def _json_item_tags(item: JsonObject, where: str) -> Problems:
    tags = item.get("tags")
    if isinstance(tags, list) and not all(isinstance(tag, str) for tag in tags):
        return [_problem("json.tags", f"{where}.tags must all be strings: {tags!r}")]
    return []


def _json_attachments(item: JsonObject, where: str) -> Problems:
    attachments = item.get("attachments")
    if not isinstance(attachments, list):
        return []
    problems = []
    for index, attachment in enumerate(attachments):
        here = f"{where}.attachments[{index}]"
        if not isinstance(attachment, dict) or not {"url", "mime_type"} <= attachment.keys():
            problems.append(_problem("json.attachments", f"{here} needs url and mime_type"))
            continue
        problems += _object_problems(attachment, _ATTACHMENT_KEYS, here)
        problems += _url_fields(attachment, ("url",), here)
    return problems


_ItemRule = Callable[[JsonObject, str], Problems]
_JSON_ITEM_RULES: tuple[_ItemRule, ...] = (
    lambda item, where: _object_problems(item, _ITEM_KEYS | {"author": dict}, where),
    _json_item_id,
    _json_item_content,
    lambda item, where: _url_fields(item, _ITEM_URLS_JSON, where),
    _json_item_dates,
    _json_authors,
    _json_deprecated_author,
    _json_item_tags,
    _json_attachments,
)


def _json_items(feed: JsonObject) -> Problems:
    items = feed.get("items")
    if not isinstance(items, list):
        return []
    problems = []
    for index, item in enumerate(items):
        where = f"items[{index}]"
        if not isinstance(item, dict):
            problems.append(_problem("json.items", f"{where} is not an object"))
            continue
        for rule in _JSON_ITEM_RULES:
            problems += rule(item, where)
    ids = Counter(item.get("id") for item in items if isinstance(item, dict))
    problems += [
        _problem("json.id", f"item id {value!r} is used {count} times")
        for value, count in ids.items()
        if count > 1 and isinstance(value, str)
    ]
    return problems


def _load_json(data: bytes) -> tuple[Any, Problems]:
    # JSON Feed is UTF-8 JSON (RFC 8259); anything else is invalid.
    try:
        return json.loads(data.decode("utf-8")), []
    except UnicodeDecodeError as exc:
        return None, [_problem("json.syntax", f"not UTF-8: {exc}")]
    except json.JSONDecodeError as exc:
        return None, [_problem("json.syntax", f"not JSON: {exc}")]


def check_jsonfeed(data: bytes) -> list[str]:
    """Every problem against the JSON Feed 1.1 specification."""
    feed, problems = _load_json(_require_bytes(data))
    if problems:
        return problems
    if not isinstance(feed, dict):
        return [_problem("json.syntax", f"top level is {_json_type_name(feed)}, not an object")]
    problems += _json_feed_header(feed)
    problems += _object_problems(feed, _FEED_KEYS | {"author": dict}, "feed")
    problems += _url_fields(feed, _FEED_URLS, "feed")
    problems += _json_authors(feed, "feed")
    problems += _json_deprecated_author(feed, "feed")
    problems += _json_hubs(feed)
    return problems + _json_items(feed)


def assert_valid_jsonfeed(data: bytes) -> None:
    """Raise AssertionError listing every problem in a JSON Feed 1.1 document."""
    _raise_if_problems("JSON Feed 1.1", check_jsonfeed(data))
