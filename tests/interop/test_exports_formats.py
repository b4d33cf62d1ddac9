"""Each export format's content for a built world, as the owner and as another member."""

from __future__ import annotations

import csv
import io
import ipaddress
from datetime import timedelta
from pathlib import Path

import dns.rdatatype
import dns.zone
import pytest
from sqlalchemy.orm import Session

from entente.core.clock import utcnow
from entente.core.config import Settings
from entente.interop.exports import selection
from entente.interop.exports.rpz import RpzPolicy, rpz_ip_name
from entente.interop.exports.selection import ExportFilter
from entente.interop.exports.service import ExportFormat, ExportOptions
from entente.interop.exports.snort import SnortVersion
from entente.sharing.choices import SightingKind
from entente.sharing.indicators import IndicatorType
from entente.vocabulary.markings import TLP
from tests.interop import builders
from tests.interop.export_builders import (
    EXPIRED,
    HIDDEN_YARA,
    HOSTILE_TITLE,
    NETWORK_VALUES,
    NOT_FOR_DETECTION,
    OTHER_VALUES,
    SECRET,
    YARA_RULE,
    World,
    build_world,
    export_settings,
    exported,
)
from tests.interop.rule_grammar import parse_rules

DETECTION_VALUES = set(NETWORK_VALUES.values()) | set(OTHER_VALUES.values())


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


@pytest.fixture
def cached_settings(settings: Settings, tmp_path: Path) -> Settings:
    return export_settings(settings, tmp_path)


def test_csv_holds_one_row_per_detection_indicator_with_its_event(
    session: Session, cached_settings: Settings, world: World
) -> None:
    text = exported(session, cached_settings, world.viewer(session, world.peer), ExportFormat.CSV)
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert {row["value"] for row in rows} == DETECTION_VALUES
    assert all(row["event_id"] == str(world.shared.id) for row in rows)
    assert all(row["event_title"] == HOSTILE_TITLE for row in rows)  # quoted, not broken
    assert {row["to_ids"] for row in rows} == {"1"}
    assert {row["tlp"] for row in rows} == {"green"}
    assert text.endswith("\r\n")


def test_text_lists_each_value_once_and_only_what_the_viewer_may_see(
    session: Session, cached_settings: Settings, world: World
) -> None:
    addresses = ExportFilter(types=(IndicatorType.IPV4, IndicatorType.CIDR))
    peer = world.viewer(session, world.peer)
    owner = world.viewer(session, world.owner)
    peer_list = exported(session, cached_settings, peer, ExportFormat.TEXT, addresses)
    assert peer_list.splitlines() == sorted(["198.51.100.7", "203.0.113.0/24"])
    owner_list = exported(session, cached_settings, owner, ExportFormat.TEXT, addresses)
    assert SECRET in owner_list.splitlines() and SECRET not in peer_list
    everything = ExportFilter(include_not_for_detection=True, include_expired=True)
    wide = exported(session, cached_settings, peer, ExportFormat.TEXT, everything).splitlines()
    assert NOT_FOR_DETECTION in wide and EXPIRED in wide
    # The subject holds no line break, so it is listed as it is, quotes and pipe included.
    assert OTHER_VALUES[IndicatorType.EMAIL_SUBJECT] in wide
    assert len(wide) == len(set(wide))


def test_rpz_zone_loads_in_dnspython_with_the_policy_for_each_trigger(
    session: Session, cached_settings: Settings, world: World
) -> None:
    options = ExportOptions(rpz_zone="rpz.test.example.", rpz_policy=RpzPolicy.NODATA)
    text = exported(
        session, cached_settings, world.viewer(session, world.peer), ExportFormat.RPZ,
        options=options,
    )  # fmt: skip
    zone = dns.zone.from_text(text, origin="rpz.test.example.", relativize=True)
    assert zone.get_rdataset("@", dns.rdatatype.SOA) is not None
    assert zone.get_rdataset("@", dns.rdatatype.NS) is not None
    cnames = {
        str(name): str(rdataset[0].target)
        for name, rdataset in zone.iterate_rdatasets(dns.rdatatype.CNAME)
    }
    assert cnames == {
        "evil.example": "*.",
        "*.evil.example": "*.",
        "mail.bad.example": "*.",
        "32.7.100.51.198.rpz-ip": "*.",
        "128.7.zz.db8.2001.rpz-ip": "*.",
        "24.0.113.0.203.rpz-ip": "*.",
    }


def test_rpz_ip_triggers_write_ipv6_with_zz_for_the_longest_zero_run() -> None:
    assert rpz_ip_name(ipaddress.ip_network("::1/128")) == "128.1.zz.rpz-ip"
    assert rpz_ip_name(ipaddress.ip_network("2001:db8:0:1::/64")) == "64.zz.1.0.db8.2001.rpz-ip"


def test_suricata_rules_parse_strictly_and_match_each_value(
    session: Session, cached_settings: Settings, world: World
) -> None:
    text = exported(
        session, cached_settings, world.viewer(session, world.peer), ExportFormat.SURICATA,
        options=ExportOptions(sid_base=7_000_000),
    )  # fmt: skip
    rules = parse_rules(text)
    by_protocol: dict[str, list[bytes]] = {}
    for rule in rules:
        by_protocol.setdefault(rule.protocol, []).extend(rule.contents())
        assert rule.message.startswith(f"Entente event {world.shared.id} C2 _wave__ sid:1_")
        assert rule.one("reference").endswith(f"/events/{world.shared.id}")
        assert rule.one("classtype") == "trojan-activity"
        assert 7_000_000 < rule.sid < 8_000_000
    ip_rules = {rule.destination for rule in rules if rule.protocol == "ip"}
    assert ip_rules == {"198.51.100.7", "2001:db8::7", "203.0.113.0/24"}
    assert set(by_protocol["dns"]) == {b".evil.example", b"mail.bad.example"}
    assert set(by_protocol["tls"]) >= {b".evil.example", b"e7d705a3286e19ea42f587b344ee6865"}
    assert b"/login.php?user=a;b" in by_protocol["http"]  # the ; is hex, the rule intact
    assert len(rules) == 3 + 3 * 2 + 1 + 1  # addresses, names x 3 protocols, URL, JA3


@pytest.mark.parametrize("version", list(SnortVersion))
def test_snort_rules_parse_strictly_in_their_version(
    session: Session, cached_settings: Settings, world: World, version: SnortVersion
) -> None:
    text = exported(
        session, cached_settings, world.viewer(session, world.peer), ExportFormat.SNORT,
        options=ExportOptions(snort_version=version),
    )  # fmt: skip
    rules = parse_rules(text, f"snort-{version.value}")
    contents = {content for rule in rules for content in rule.contents()}
    assert b"\x04evil\x07example\x00" in contents
    assert (b"Host: www.bad.example" if version is SnortVersion.V2 else b"www.bad.example") in (
        contents
    )
    assert b"/login.php?user=a;b" in contents
    assert {rule.protocol for rule in rules} == (
        {"ip", "udp", "tcp"} if version is SnortVersion.V2 else {"ip", "udp", "http"}
    )


def test_secret_and_filtered_out_values_reach_no_format(
    session: Session, cached_settings: Settings, world: World
) -> None:
    peer = world.viewer(session, world.peer)
    for export_format in ExportFormat:
        text = exported(session, cached_settings, peer, export_format)
        assert SECRET not in text
        assert NOT_FOR_DETECTION not in text
        assert EXPIRED not in text


def test_filters_narrow_every_list(
    session: Session, cached_settings: Settings, world: World
) -> None:
    peer = world.viewer(session, world.peer)
    narrow = {
        "published_only": ExportFilter(published_only=True),
        "other_event": ExportFilter(event_ids=(world.secret.id,)),
        "amber_only": ExportFilter(tlps=(TLP.AMBER,)),
        "unknown_tag": ExportFilter(tags=("no-such-tag",)),
    }
    for name, filters in narrow.items():
        assert exported(session, cached_settings, peer, ExportFormat.TEXT, filters) == "", name
    tagged = ExportFilter(tags=("botnet",), types=(IndicatorType.JA3,))
    assert exported(session, cached_settings, peer, ExportFormat.TEXT, tagged).split() == [
        NETWORK_VALUES[IndicatorType.JA3]
    ]


def test_yara_passes_visible_rules_through_verbatim_under_a_comment_naming_the_event(
    session: Session, cached_settings: Settings, world: World
) -> None:
    peer = world.viewer(session, world.peer)
    text = exported(session, cached_settings, peer, ExportFormat.YARA)
    assert YARA_RULE + "\n" in text
    assert HIDDEN_YARA not in text  # RED object in a GREEN event; an event the peer cannot see
    comments = [line for line in text.splitlines() if line.startswith("//")]
    flat_title = " ".join(HOSTILE_TITLE.split())
    assert f"// Entente event {world.shared.id}: {flat_title}" in comments
    # Nothing of a title or name escapes its comment line: every other line is the rule.
    body = [line for line in text.splitlines() if line and not line.startswith("//")]
    assert body == YARA_RULE.splitlines()
    owner_text = exported(
        session, cached_settings, world.viewer(session, world.owner), ExportFormat.YARA
    )
    assert owner_text.count(HIDDEN_YARA) == 2
    only_secret = ExportFilter(event_ids=(world.secret.id,))
    secret_only = exported(
        session, cached_settings, world.viewer(session, world.owner), ExportFormat.YARA,
        only_secret,
    )  # fmt: skip
    assert [line for line in secret_only.splitlines() if line.startswith("rule ")] == [HIDDEN_YARA]


def test_time_and_score_filters_and_duplicates_across_chunks(
    session: Session, cached_settings: Settings, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chunks of two rows: a value repeated across a chunk boundary is still listed once.
    monkeypatch.setattr(selection, "CHUNK", 2)
    other = builders.event(session, world.owner, TLP.GREEN, title="Second sighting")
    repeated = {IndicatorType.DOMAIN: "evil.example", IndicatorType.IPV4: "198.51.100.7"}
    builders.indicators(session, world.owner, other, repeated, to_ids=True)
    # Last seen 40 days ago: outside a 30-day window, still well above the decay threshold
    # (a domain's half-life is 60 days).
    [stale] = builders.indicators(
        session, world.owner, other, {IndicatorType.DOMAIN: "stale.example"}, to_ids=True,
        last_seen=utcnow() - timedelta(days=40),
    )  # fmt: skip
    [doubted] = builders.indicators(
        session, world.owner, other, {IndicatorType.IPV4: "192.0.2.51"}, to_ids=True
    )
    builders.sighting(session, world.peer, doubted, SightingKind.FALSE_POSITIVE)
    peer = world.viewer(session, world.peer)
    listed = exported(session, cached_settings, peer, ExportFormat.TEXT).splitlines()
    assert len(listed) == len(set(listed)) and {"evil.example", "198.51.100.7"} <= set(listed)
    assert {stale.value, doubted.value} <= set(listed)
    recent = ExportFilter(seen_within_days=30)
    assert stale.value not in exported(session, cached_settings, peer, ExportFormat.TEXT, recent)
    # The default base score is 70; a false positive halves it to 35.
    confident = ExportFilter(min_score=50)
    scored = exported(session, cached_settings, peer, ExportFormat.TEXT, confident).splitlines()
    assert doubted.value not in scored and "evil.example" in scored
    rows = exported(session, cached_settings, peer, ExportFormat.CSV, confident)
    assert doubted.value not in rows and "evil.example" in rows
