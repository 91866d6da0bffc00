"""Post dates: the four types python-frontmatter gives, made aware, offsets kept.

PITFALLS.md (python-frontmatter): ``date`` comes back as a string, a ``date``, a naive
``datetime`` or an aware ``datetime``; feedgen raises on naive ones.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import yaml

from syndicator.core.dates import parse_date, rfc3339

SHANGHAI = ZoneInfo("Asia/Shanghai")


def offset(moment: datetime) -> timedelta | None:
    return moment.utcoffset()


def test_jekyll_string_keeps_its_offset():
    moment = parse_date("2024-01-05 10:00:00 +0100", SHANGHAI)
    assert moment == datetime(2024, 1, 5, 10, tzinfo=timezone(timedelta(hours=1)))
    assert offset(moment) == timedelta(hours=1)


def test_yaml_date_is_midnight_in_the_site_zone():
    moment = parse_date(date(2022, 2, 2), SHANGHAI)
    assert moment == datetime(2022, 2, 2, tzinfo=SHANGHAI)
    assert offset(moment) == timedelta(hours=8)


def test_naive_datetime_is_wall_clock_in_the_site_zone():
    moment = parse_date(datetime(2021, 12, 8, 10, 46, 18), SHANGHAI)
    assert moment.isoformat() == "2021-12-08T10:46:18+08:00"


def test_aware_datetime_kept_as_it_is():
    given = datetime(2022, 2, 3, 14, 5, 33, tzinfo=timezone(timedelta(hours=9)))
    assert parse_date(given, SHANGHAI) is given


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-06-02 14:05:33 +0800", "2022-06-02T14:05:33+08:00"),
        ("2022-06-02 14:05:33 -0530", "2022-06-02T14:05:33-05:30"),
        ("2022-06-02 14:05:33 +08:00", "2022-06-02T14:05:33+08:00"),
        ("2022-06-02T14:05:33Z", "2022-06-02T14:05:33+00:00"),
        ("2022-06-02T14:05:33+0900", "2022-06-02T14:05:33+09:00"),
        ("2022-06-02 14:05:33", "2022-06-02T14:05:33+08:00"),
        ("2022-06-02 14:05", "2022-06-02T14:05:00+08:00"),
        ("2022-06-02", "2022-06-02T00:00:00+08:00"),
        ("2022-6-2 9:05:33 +0800", "2022-06-02T09:05:33+08:00"),
        ("  2022-06-02 14:05:33 +0800  ", "2022-06-02T14:05:33+08:00"),
    ],
)
def test_date_strings(text, expected):
    assert rfc3339(parse_date(text, SHANGHAI)) == expected


def test_naive_values_follow_the_zone_rules_not_a_fixed_offset():
    berlin = ZoneInfo("Europe/Berlin")
    assert rfc3339(parse_date("2022-01-15 12:00:00", berlin)).endswith("+01:00")
    assert rfc3339(parse_date("2022-07-15 12:00:00", berlin)).endswith("+02:00")


@pytest.mark.parametrize(
    "text",
    [
        "+0800",
        "",
        "   ",
        "yesterday",
        "2022-13-01",
        "2022-02-30",
        "2022-06-02 25:00:00",
        "06/02/2022",
    ],
)
def test_bad_strings_raise_value_error_naming_the_value(text):
    with pytest.raises(ValueError) as caught:
        parse_date(text, SHANGHAI)
    assert repr(text.strip()) in str(caught.value)


@pytest.mark.parametrize("value", [20220602, 1.5, None, True, ["2022-06-02"]])
def test_other_types_raise_value_error(value):
    with pytest.raises(ValueError, match="is not a date"):
        parse_date(value, SHANGHAI)


@pytest.mark.parametrize(
    ("front", "kind"),
    [
        ("date: 2024-01-05 10:00:00 +0100", str),
        ("date: 2024-01-05", date),
        ("date: 2024-01-05 10:00:00", datetime),
        ("date: 2024-01-05T10:00:00+01:00", datetime),
    ],
)
def test_every_type_yaml_gives_is_handled(front, kind):
    """The four types really are what YAML gives for these lines, and each comes out aware."""
    value = yaml.safe_load(front)["date"]
    assert type(value) is kind
    moment = parse_date(value, SHANGHAI)
    assert moment.tzinfo is not None
    assert (moment.year, moment.month, moment.day) == (2024, 1, 5)


def test_rfc3339_keeps_the_offset_and_drops_microseconds():
    moment = datetime(2022, 6, 2, 14, 5, 33, 123456, tzinfo=timezone(timedelta(hours=8)))
    assert rfc3339(moment) == "2022-06-02T14:05:33+08:00"
