"""``kind = "json"``: a JSON web API read through JMESPath expressions from the config.

``items`` gives the list of items in the answer; each ``[upstreams.fields]`` expression is
applied to one item. The body is untrusted: JSON nested past Python's recursion limit, an
expression that matches nothing, values of the wrong type are each one clear message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

from syndicator.core.config import FieldRule, UpstreamConfig
from syndicator.core.text import excerpt, one_line
from syndicator.upstreams.items import cleaned, date_format_warning, entry_from_fields
from syndicator.upstreams.parse import NotAFeedError, UpstreamFeed

EXCERPT_CHARACTERS = 300
_MAX_INT_DIGITS = 4000


def read_json(body: bytes, url: str) -> Any:
    """The JSON document in ``body``; NotAFeedError naming ``url`` if it is none."""
    try:
        return json.loads(body.decode("utf-8-sig", errors="replace"), parse_int=_integer)
    except RecursionError:
        raise NotAFeedError(f"{url}: the JSON is nested too deeply to read") from None
    except ValueError as error:
        raise NotAFeedError(
            f"{url} is not valid JSON ({error}); it starts: {document_excerpt(body)}"
        ) from None


def _integer(digits: str) -> int | str:
    """An integer; one too long for Python to convert (over 4300 digits) stays its digits,
    rather than making the whole document unreadable."""
    return int(digits) if len(digits) <= _MAX_INT_DIGITS else digits


def document_excerpt(document: object) -> str:
    """The start of a document (bytes, text or parsed JSON) on one line, for messages."""
    if isinstance(document, bytes):
        text = document[: EXCERPT_CHARACTERS * 4].decode("utf-8", errors="replace")
    elif isinstance(document, str):
        text = document[: EXCERPT_CHARACTERS * 4]
    else:
        try:
            text = json.dumps(document, ensure_ascii=False)[: EXCERPT_CHARACTERS * 4]
        except (ValueError, RecursionError):
            text = repr(type(document))
    return excerpt(text, EXCERPT_CHARACTERS) or "(nothing)"


def parse_json_source(
    body: bytes, url: str, upstream: UpstreamConfig, zone: tzinfo
) -> UpstreamFeed:
    """The entries of a JSON API answer, as the feed parser would give them."""
    document = read_json(body, url)
    found = search(upstream.items, document, url)
    if not isinstance(found, list):
        said = "nothing" if found is None else f"a {type(found).__name__}, not a list"
        raise NotAFeedError(
            f'{url}: items = "{upstream.items}" matched {said} in the document, which '
            f"starts: {document_excerpt(document)}; fix the expression (`syndicator preview "
            f"{upstream.name}` shows the result)"
        )
    objects = [item for item in found if isinstance(item, dict)]
    warnings = []
    if len(objects) < len(found):
        warnings.append(f"{len(found) - len(objects)} items that are not objects skipped")
    rules = dict(upstream.fields)
    values = [json_values(item, rules, url) for item in objects]
    warnings.extend(unmatched_fields(rules, values, objects))
    warnings.extend(date_format_warning(values, upstream.date_format))
    entries = tuple(
        entry_from_fields(v, url, upstream, zone, summary_is_html=False) for v in values
    )
    return UpstreamFeed(
        title=upstream.name,
        link=None,
        version="json-api",
        entries=entries,
        ttl=None,
        warnings=tuple(warnings),
    )


def search(expression: str, document: object, url: str) -> Any:
    try:
        return jmespath.search(expression, document)
    except (JMESPathError, RecursionError) as error:
        raise NotAFeedError(f'{url}: "{expression}" failed on the document: {error}') from None


def json_values(item: object, rules: Mapping[str, FieldRule], url: str) -> dict[str, str]:
    """Each field's text in ``item``, cleaned; a field its expression does not find is absent."""
    values = {}
    for name, rule in rules.items():
        text = _as_text(search(rule.source, item, url))
        if text is not None and (value := cleaned(name, text, rule)):
            values[name] = value
    return values


def unmatched_fields(
    rules: Mapping[str, FieldRule], values: list[dict[str, str]], items: list[Any]
) -> list[str]:
    """A warning for each field whose expression matched in none of the items."""
    if not items:
        return []
    return [
        f'fields.{name} = "{rule.source}" matched nothing in any of the {len(items)} items; '
        f"the first is: {document_excerpt(items[0])}"
        for name, rule in rules.items()
        if not any(name in found for found in values)
    ]


def _as_text(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        parts = [_as_text(part) for part in value]
        return "\n".join(one_line(part) for part in parts if part) or None
    return None
