"""Post dates in every form the front matter gives them, made timezone-aware."""

from __future__ import annotations

import re
from datetime import date, datetime, time, tzinfo

# Jekyll's own format puts a space before a colon-less offset: "2022-06-02 14:05:33 +0800".
_JEKYLL_DATE = re.compile(
    r"^(?P<date>\d{4}-\d{1,2}-\d{1,2})"
    r"(?:[T ]+(?P<time>\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?"
    r"\s*(?P<zone>Z|[+-]\d{2}:?\d{2})?$"
)


def parse_date(value: object, zone: tzinfo) -> datetime:
    """An aware datetime from a front matter ``date`` of any of the four types YAML gives.

    Naive values are taken as wall-clock time in ``zone`` (the site's time zone).
    Raises ValueError with a message fit for the operator.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=zone)
    if isinstance(value, str):
        return _parse_date_string(value.strip(), zone)
    raise ValueError(f"date {value!r} is not a date")


def _parse_date_string(text: str, zone: tzinfo) -> datetime:
    match = _JEKYLL_DATE.match(text)
    if not match:
        raise ValueError(f"date {text!r} is not a date (expected e.g. 2022-06-02 14:05:33 +0800)")
    year, month, day = (int(part) for part in match.group("date").split("-"))
    clock = match.group("time") or "00:00:00"
    offset = match.group("zone") or ""
    if offset and offset != "Z" and ":" not in offset:
        offset = f"{offset[:3]}:{offset[3:]}"
    iso = f"{year:04d}-{month:02d}-{day:02d}T{_pad_clock(clock)}{offset}"
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError as error:
        raise ValueError(f"date {text!r} is not a valid date: {error}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def _pad_clock(clock: str) -> str:
    parts = clock.split(":")
    parts[0] = parts[0].zfill(2)
    if len(parts) == 2:
        parts.append("00")
    return ":".join(parts)


def rfc3339(moment: datetime) -> str:
    """``2022-06-02T14:05:33+08:00``: the offset the post gave is kept."""
    return moment.isoformat(timespec="seconds")
