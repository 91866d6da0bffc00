"""``zones``: what the zone abbreviations in upstream dates mean, site-wide (``[polling]``,
with a default that follows ``site.timezone``) and per upstream."""

from __future__ import annotations

import pytest

from syndicator.core.config import ConfigError

UPSTREAM = '[[upstreams]]\nname = "A"\nurl = "https://a.example/rss"\ncategory = "a"\n'


def site(zone: str) -> str:
    return f'[site]\nurl = "https://finews.example.com"\ntimezone = "{zone}"\n'


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Asia/Taipei", "Asia/Hong_Kong"])
def test_a_site_eight_hours_ahead_reads_cst_as_china_standard_time(config_from, zone):
    assert config_from(site(zone)).polling.zones == (("CST", "+08:00"),)


@pytest.mark.parametrize("zone", ["UTC", "America/Chicago", "Europe/Berlin", "Asia/Tokyo"])
def test_elsewhere_no_abbreviation_is_read_otherwise(config_from, zone):
    assert config_from(site(zone)).polling.zones == ()


def test_polling_zones_replace_the_default(config_from):
    text = site("Asia/Shanghai") + '[polling]\nzones = { ist = "+0530", WIB = "+07:00" }\n'

    assert config_from(text).polling.zones == (("IST", "+05:30"), ("WIB", "+07:00"))


def test_polling_zones_may_be_emptied(config_from):
    assert config_from(site("Asia/Shanghai") + "[polling]\nzones = {}\n").polling.zones == ()


def test_an_upstream_has_zones_of_its_own(config_from):
    text = site("Europe/Berlin") + UPSTREAM + 'zones = { CST = "+08:00" }\n'

    config = config_from(text)

    assert config.polling.zones == ()
    assert config.upstreams[0].zones == (("CST", "+08:00"),)


@pytest.mark.parametrize(
    ("zones", "named", "said"),
    [
        ('"CST"', "polling.zones", "must be a table"),
        ("{ CST = 8 }", "polling.zones.CST", "not a UTC offset"),
        ('{ CST = "+8" }', "polling.zones.CST", 'write one like "+08:00"'),
        ('{ CST = "+08:60" }', "polling.zones.CST", "not a UTC offset"),
        ('{ CST = "+15:00" }', "polling.zones.CST", "not a UTC offset"),
        ('{ "C-T" = "+08:00" }', "polling.zones.C-T", "not a zone abbreviation"),
        ('{ "UTC+8" = "+08:00" }', "polling.zones.UTC+8", "not a zone abbreviation"),
    ],
)
def test_bad_zones_name_the_key(config_from, zones, named, said):
    with pytest.raises(ConfigError, match=r"syndicator\.toml: ") as refused:
        config_from(site("UTC") + f"[polling]\nzones = {zones}\n")

    assert f": {named}: " in str(refused.value)
    assert said in str(refused.value)


def test_bad_upstream_zone_names_the_upstream(config_from):
    with pytest.raises(ConfigError, match=r"upstreams\[0\] \(A\)\.zones\.CST: "):
        config_from(site("UTC") + UPSTREAM + 'zones = { CST = "China" }\n')
