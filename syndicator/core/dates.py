"""Post dates in every form the front matter gives them, made timezone-aware."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

MIN_YEAR = 1000  # RSS dates (RFC 822) have four-digit years
# Jekyll's own format puts a space before a colon-less offset: "2022-06-02 14:05:33 +0800".
_JEKYLL_DATE = re.compile(
    r"^(?P<date>\d{4}-\d{1,2}-\d{1,2})"
    r"(?:[T ]+(?P<time>\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?"
    r"\s*(?P<zone>Z|[+-]\d{2}:?\d{2})?$"
)


def parse_date(value: object, zone: tzinfo) -> datetime:
    """An aware datetime from a front matter ``date`` of any of the four types YAML gives.

    Naive values are taken as wall-clock time in ``zone`` (the site's time zone).
    Raises ValueError with a message fit for the operator, also for a year feeds cannot
    carry (RFC 822 dates have four-digit years).
    """
    if isinstance(value, datetime):
        parsed = value if value.tzinfo else value.replace(tzinfo=zone)
    elif isinstance(value, date):
        parsed = datetime.combine(value, time(), tzinfo=zone)
    elif isinstance(value, str):
        parsed = _parse_date_string(value.strip(), zone)
    else:
        raise ValueError(f"date {value!r} is not a date")
    if parsed.year < MIN_YEAR:
        raise ValueError(f"date {value!s} is before the year {MIN_YEAR}, which feeds cannot carry")
    return parsed


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
    """``2022-06-02T14:05:33+08:00``: the offset the post gave is kept (see feed_moment)."""
    return feed_moment(moment).isoformat(timespec="seconds")


def feed_moment(moment: datetime) -> datetime:
    """``moment`` as feeds can write it: whole seconds, and an offset of whole minutes.

    RFC 3339 and RFC 822 offsets are hours and minutes, but historical zone offsets have
    seconds (Asia/Shanghai was LMT +08:05:43 until 1901): such a moment is given in UTC,
    or, at the very edge of the calendar where UTC would leave it, with its offset cut to
    the minute.
    """
    moment = moment.replace(microsecond=0)
    offset = moment.utcoffset()
    if offset is None or offset % timedelta(minutes=1) == timedelta(0):
        return moment
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        minutes = timedelta(minutes=offset // timedelta(minutes=1))
        return moment.replace(tzinfo=timezone(minutes))
