"""`entente event | indicator | sighting | warninglist` end to end, as named users, on SQLite
and PostgreSQL: the commands run the API's services, so access, roles and audit apply.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from entente.core.audit import AuditEntry
from entente.core.db import create_db_engine
from entente.core.migrate import upgrade
from entente.members.models import User
from entente.sharing import indicators_cli
from entente.sharing.models import Event, Indicator, Sighting
from tests.conftest import BACKENDS, make_settings
from tests.test_cli import create_org, create_user, db_session, run, table_rows

REPORT = """\
Phishing wave: lures link to hxxps://login-portal[.]example/verify and the kit
calls home to 198.51.100[.]23 over TLS.
A typo in the vendor's note: 999.1.1.1 (not an address).
"""


@pytest.fixture(scope="module", params=BACKENDS)
def url(request: pytest.FixtureRequest, scratch_database: Callable[[str], str]) -> str:
    """A migrated database shared by this module's tests, which each use names of their own."""
    database_url = scratch_database(request.param)
    engine = create_db_engine(make_settings(database_url))
    upgrade(engine)
    engine.dispose()
    return database_url


def member(url: str, org: str, *users: tuple[str, str], country: str = "GH") -> None:
    """An organisation with users given as (username, role)."""
    assert create_org(url, org, country).exit_code == 0
    for username, role in users:
        assert create_user(url, username, org, role).exit_code == 0


def create_event(
    url: str, username: str, title: str, tlp: str = "amber", distribution: str = "all_members"
) -> int:
    created = run(
        url, "event", "create", "--as", username, "--title", title, "--date", "2026-11-20",
        "--tlp", tlp, "--distribution", distribution, "--json",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    return int(json.loads(created.stdout)["id"])


def as_json(url: str, *args: str) -> Any:
    result = run(url, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_report_to_indicators_search_sighting_and_correlation(url: str, tmp_path: Path) -> None:
    member(url, "Flow Owner CERT", ("flow.owner", "analyst"))
    member(url, "Flow Peer CERT", ("flow.peer", "analyst"), country="KE")
    created = run(
        url, "event", "create", "--as", "flow.owner", "--title", "Phishing wave against banks",
        "--date", "2026-11-20", "--tlp", "TLP:AMBER", "--distribution", "all_members",
        "--threat-level", "high", "--tag", "campaign-lagoon",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    event_id = int(created.stdout.split("created event ")[1].split(":")[0])

    report = tmp_path / "report.txt"
    report.write_text(REPORT)
    added = run(url, "indicator", "add", str(event_id), "--as", "flow.owner", "--file", str(report))
    assert added.exit_code == 0, added.output
    assert "2 added, 0 duplicates, 1 rejected" in added.stdout
    assert "rejected line 3: 999.1.1.1:" in added.stdout

    # The defanged spelling finds the canonical value, for the owner and for another member.
    found = as_json(url, "indicator", "search", "--as", "flow.peer", "--value", "198.51.100[.]23")
    assert [(i["event_id"], i["value"]) for i in found["data"]] == [(event_id, "198.51.100.23")]
    rows = table_rows(run(url, "indicator", "search", "--as", "flow.owner", "--cidr",
                          "198.51.100.0/24").stdout)  # fmt: skip
    assert [row[1:4] for row in rows] == [[str(event_id), "ipv4", "198.51.100.23"]]

    other_id = create_event(url, "flow.peer", "C2 seen on our sensors", tlp="green")
    shared = run(url, "indicator", "add", str(other_id), "--as", "flow.peer", "--type", "ipv4",
                 "--value", "198.51.100.23", "--to-ids")  # fmt: skip
    assert shared.exit_code == 0, shared.output

    indicator_id = str(found["data"][0]["id"])
    sighted = run(url, "sighting", "add", indicator_id, "--as", "flow.peer", "--source",
                  "honeypot", "--count", "3", "--at", "2026-11-21T08:00:00+00:00")  # fmt: skip
    assert sighted.exit_code == 0, sighted.output
    assert "now seen 3" in sighted.stdout

    shown = run(url, "event", "show", str(event_id), "--as", "flow.owner")
    assert shown.exit_code == 0, shown.output
    assert "campaign-lagoon" in shown.stdout
    correlated = [row for row in table_rows(shown.stdout) if row[0] == str(other_id)]
    assert correlated == [
        [str(other_id), "C2 seen on our sensors", "2026-11-20", "TLP:GREEN", "Flow Peer CERT",
         "1", "198.51.100.23"]
    ]  # fmt: skip
    detail = as_json(url, "event", "show", str(event_id), "--as", "flow.owner")
    assert detail["event"]["indicator_count"] == 2
    assert [c["event_id"] for c in detail["correlations"]] == [other_id]

    with db_session(url) as session:
        sighting = session.scalar(
            select(Sighting).where(Sighting.indicator_id == int(indicator_id))
        )
        assert sighting is not None and sighting.count == 3 and sighting.source == "honeypot"
        audited = set(
            session.execute(
                select(AuditEntry.action, AuditEntry.actor, AuditEntry.via).where(
                    AuditEntry.action.in_(["event.create", "indicator.add", "sighting.add"])
                    & AuditEntry.actor.in_(["flow.owner", "flow.peer"])
                )
            )
        )
    assert audited >= {
        ("event.create", "flow.owner", "cli"),
        ("indicator.add", "flow.owner", "cli"),
        ("sighting.add", "flow.peer", "cli"),
    }


def test_publish_freezes_a_version_that_show_lists(url: str) -> None:
    member(url, "Publisher CERT", ("publisher", "analyst"))
    event_id = create_event(url, "publisher", "Ransomware notes")
    added = run(url, "indicator", "add", str(event_id), "--as", "publisher", "--file", "-",
                input="drop site: evil-drop[.]example\n")  # fmt: skip
    assert added.exit_code == 0, added.output
    published = run(url, "event", "publish", str(event_id), "--as", "publisher")
    assert published.exit_code == 0, published.output
    assert f"published event {event_id} as version 1" in published.stdout
    detail = as_json(url, "event", "show", str(event_id), "--as", "publisher")
    assert detail["event"]["published"] is True
    assert [
        (v["version"], v["published_by"], v["indicator_count"]) for v in detail["versions"]
    ] == [(1, "publisher", 1)]
    listed = as_json(url, "event", "list", "--as", "publisher", "--published", "--q", "ransomware")
    assert [e["id"] for e in listed["data"]] == [event_id]
    assert as_json(url, "event", "list", "--as", "publisher", "--unpublished",
                   "--q", "ransomware")["data"] == []  # fmt: skip


def test_list_filters_limits_and_counts(url: str) -> None:
    member(url, "Lister CERT", ("lister", "analyst"), country="FJ")
    ids = [create_event(url, "lister", f"Lister event {n}", tlp="green") for n in range(3)]
    listed = run(url, "event", "list", "--as", "lister", "--member-state", "fj", "--limit", "2")
    assert listed.exit_code == 0, listed.output
    assert [row[0] for row in table_rows(listed.stdout)] == [str(ids[2]), str(ids[1])]
    assert "3 events, the newest 2 shown" in listed.stdout
    green = as_json(url, "event", "list", "--as", "lister", "--organisation", "Lister CERT",
                    "--tlp", "green", "--since", "2026-11-20", "--until", "2026-11-20")  # fmt: skip
    assert green["count"] == 3
    assert as_json(url, "event", "list", "--as", "lister", "--organisation", "Lister CERT",
                   "--tlp", "red")["count"] == 0  # fmt: skip


def test_search_facets_count_what_the_user_may_see(url: str) -> None:
    member(url, "Facet CERT", ("facet.user", "analyst"), country="NA")
    event_id = create_event(url, "facet.user", "Facet event")
    added = run(url, "indicator", "add", str(event_id), "--as", "facet.user", "--type", "domain",
                "--value", "facet-one[.]example", "--value", "facet-two.example")  # fmt: skip
    assert added.exit_code == 0, added.output
    found = as_json(url, "indicator", "search", "--as", "facet.user", "--member-state", "NA",
                    "--facets")  # fmt: skip
    assert found["count"] == 2
    assert {(f["label"], f["count"]) for f in found["facets"]["type"]} == {("Domain", 2)}
    printed = run(url, "indicator", "search", "--as", "facet.user", "--member-state", "NA",
                  "--facets")  # fmt: skip
    assert ["Type", "Domain", "2"] in table_rows(printed.stdout)


def test_a_large_text_is_sent_in_requests_of_at_most_the_limit(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(indicators_cli, "MAX_INDICATORS_PER_REQUEST", 2)
    member(url, "Batch CERT", ("batcher", "analyst"))
    event_id = create_event(url, "batcher", "Many hosts")
    text = "".join(f"beacon to host-{n}.batch[.]example\n" for n in range(5))
    added = run(url, "indicator", "add", str(event_id), "--as", "batcher", "--file", "-",
                input=text)  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "5 added, 0 duplicates, 0 rejected" in added.stdout
    with db_session(url) as session:
        requests = session.scalars(
            select(AuditEntry.detail).where(
                AuditEntry.action == "indicator.add", AuditEntry.object_id == str(event_id)
            )
        )
        assert sorted(detail["added"] for detail in requests) == [1, 2, 2]


def test_invalid_values_are_each_reported_and_nothing_valid_exits_2(url: str) -> None:
    member(url, "Typo CERT", ("typo.user", "analyst"))
    event_id = str(create_event(url, "typo.user", "Typo event"))
    refused = run(url, "indicator", "add", event_id, "--as", "typo.user", "--type", "ipv4",
                  "--value", "1.2.3", "--value", "300.1.1.1")  # fmt: skip
    assert refused.exit_code == 2
    assert "rejected --value 1: 1.2.3:" in refused.stdout
    assert "rejected --value 2: 300.1.1.1:" in refused.stdout
    assert refused.stderr == "error: no valid indicator in the input (field: --value)\n"
    mixed = run(url, "indicator", "add", event_id, "--as", "typo.user", "--type", "ipv4",
                "--value", "1.2.3", "--value", "192.0.2.44")  # fmt: skip
    assert mixed.exit_code == 0, mixed.output
    assert "1 added, 0 duplicates, 1 rejected" in mixed.stdout
    again = run(url, "indicator", "add", event_id, "--as", "typo.user", "--type", "ipv4",
                "--value", "192.0.2.44")  # fmt: skip
    assert again.exit_code == 0, again.output
    assert "0 added, 1 duplicates, 0 rejected" in again.stdout
    with db_session(url) as session:
        stored = session.scalar(
            select(func.count(Indicator.id)).where(Indicator.event_id == int(event_id))
        )
    assert stored == 1


def test_unknown_and_hidden_events_are_both_not_found(url: str) -> None:
    member(url, "Secret Keeper CERT", ("secret.keeper", "analyst"))
    member(url, "Outsider CERT", ("outsider", "analyst"), country="KE")
    hidden = create_event(url, "secret.keeper", "Internal only", distribution="organisation")
    added = run(url, "indicator", "add", str(hidden), "--as", "secret.keeper", "--type", "domain",
                "--value", "internal-only.example")  # fmt: skip
    assert added.exit_code == 0, added.output
    for event_id in (hidden, 987654):
        for command in (
            ["event", "show", str(event_id), "--as", "outsider"],
            ["event", "publish", str(event_id), "--as", "outsider"],
            ["indicator", "add", str(event_id), "--as", "outsider", "--type", "domain",
             "--value", "x.example"],
        ):  # fmt: skip
            result = run(url, *command)
            assert result.exit_code == 2, command
            assert result.stderr.startswith(f"error: no event with id {event_id}"), command
    listed = as_json(url, "event", "list", "--as", "outsider", "--q", "internal only")
    assert listed == {"data": [], "count": 0}
    searched = as_json(url, "indicator", "search", "--as", "outsider", "--value",
                       "internal-only.example")  # fmt: skip
    assert searched["count"] == 0
    assert as_json(url, "indicator", "search", "--as", "secret.keeper", "--value",
                   "internal-only.example")["count"] == 1  # fmt: skip


def test_a_reader_may_not_create_or_add(url: str) -> None:
    member(url, "Reading CERT", ("only.reads", "reader"), ("writes.too", "analyst"))
    refused = run(
        url, "event", "create", "--as", "only.reads", "--title", "Not allowed",
        "--date", "2026-11-20", "--tlp", "green", "--distribution", "all_members",
    )  # fmt: skip
    assert refused.exit_code == 2
    assert refused.stderr == "error: readers may not write shared data\n"
    event_id = str(create_event(url, "writes.too", "Written by an analyst"))
    add = run(url, "indicator", "add", event_id, "--as", "only.reads", "--type", "domain",
              "--value", "reader.example")  # fmt: skip
    assert add.exit_code == 2
    assert "readers may not write shared data" in add.stderr
    with db_session(url) as session:
        assert session.scalar(select(Event).where(Event.title == "Not allowed")) is None


BAD_OPTIONS = [
    (["--tlp", "purple"], "--tlp", "'purple' is not one of clear, green, amber, amber+strict, red"),
    (["--date", "2026-13-01"], "--date", "'2026-13-01' is not a date (YYYY-MM-DD)"),
    (["--distribution", "everyone"], "--distribution", "'everyone' is not one of"),
    (["--title", "ab"], "--title", "at least 3 characters"),
    (["--tlp", "red"], "--distribution", "TLP:RED may not be distributed"),
    (["--group", "No Such Group"], "--group", "no sharing group named 'No Such Group'"),
    (["--description-file", "/no/such/file.md"], "--description-file", "cannot read"),
    (["--tag", "tlp:red"], "--tag", "TLP is the event's `tlp` field"),
]


@pytest.fixture(scope="module")
def option_user(url: str) -> str:
    member(url, "Option CERT", ("option.user", "analyst"))
    return "option.user"


@pytest.mark.parametrize(("options", "field", "message"), BAD_OPTIONS)
def test_bad_event_options_exit_2_with_one_line_naming_the_option(
    url: str, option_user: str, options: list[str], field: str, message: str
) -> None:
    defaults = ["--title", "Options", "--date", "2026-11-20", "--tlp", "amber",
                "--distribution", "all_members"]  # fmt: skip
    # A later occurrence of an option wins, so the bad one replaces its default.
    result = run(url, "event", "create", "--as", option_user, *defaults, *options)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert message in result.stderr
    assert result.stderr.endswith(f"(field: {field})\n")


def test_bad_options_of_the_other_commands_name_the_option(url: str, tmp_path: Path) -> None:
    member(url, "Other Options CERT", ("other.options", "analyst"))
    event_id = str(create_event(url, "other.options", "Other options"))
    cases = [
        (["event", "list", "--limit", "0"], "--limit"),
        (["event", "list", "--since", "yesterday"], "--since"),
        (["event", "list", "--member-state", "ZZ"], "--member-state"),
        (["indicator", "search", "--cidr", "10.0.0.0/33"], "--cidr"),
        (["indicator", "search", "--type", "pigeon"], "--type"),
        (["indicator", "add", event_id, "--file", str(tmp_path / "missing.txt")], "--file"),
        (["indicator", "add", event_id, "--value", "x.example"], "--type"),
        (["indicator", "add", event_id], "--value"),
        (["sighting", "add", "1", "--at", "2026-11-21T08:00"], "--at"),
        (["sighting", "add", "1", "--count", "0"], "--count"),
        (["event", "show", "first"], "EVENT_ID"),
    ]
    for command, field in cases:
        result = run(url, *command, "--as", "other.options")
        assert result.exit_code == 2, command
        assert result.stderr.count("\n") == 1, (command, result.stderr)
        assert result.stderr.endswith(f"(field: {field})\n"), (command, result.stderr)
    unknown_user = run(url, "event", "list", "--as", "nobody.here")
    assert unknown_user.exit_code == 2
    assert unknown_user.stderr == "error: no user named 'nobody.here' (field: --as)\n"


def test_warning_lists_check_and_the_admin_switch(url: str) -> None:
    member(url, "List Admin CERT", ("list.admin", "admin"), ("list.analyst", "analyst"))
    listed = {row[0]: row[2] for row in table_rows(run(url, "warninglist", "list").stdout)}
    assert listed["special-ranges"] == "yes"
    checked = as_json(url, "warninglist", "check", "--type", "ipv4", "10.1.2.3", "192.0.2.1")
    assert checked["hits"] == {"10.1.2.3": ["special-ranges"], "192.0.2.1": ["special-ranges"]}

    refused = run(url, "warninglist", "disable", "special-ranges", "--as", "list.analyst")
    assert refused.exit_code == 2
    assert "only platform admins" in refused.stderr
    switched = run(url, "warninglist", "disable", "special-ranges", "--as", "list.admin")
    assert switched.exit_code == 0, switched.output
    try:
        assert as_json(url, "warninglist", "check", "--type", "ipv4", "10.1.2.3")["hits"] == {
            "10.1.2.3": []
        }
    finally:
        assert (
            run(url, "warninglist", "enable", "special-ranges", "--as", "list.admin").exit_code == 0
        )
    assert as_json(url, "warninglist", "check", "--type", "ipv4", "10.1.2.3")["hits"] == {
        "10.1.2.3": ["special-ranges"]
    }
    unknown = run(url, "warninglist", "enable", "no-such-list", "--as", "list.admin")
    assert unknown.stderr == "error: no warning list called 'no-such-list' (field: NAME)\n"
    bad = run(url, "warninglist", "check", "--type", "ipv4", "10.1.2.3", "1.2.3")
    assert bad.exit_code == 2
    assert bad.stderr.endswith("(field: VALUE)\n")


def test_a_deactivated_user_cannot_act(url: str) -> None:
    member(url, "Former Staff CERT", ("former.staff", "analyst"))
    with db_session(url) as session:
        user = session.scalar(select(User).where(User.username == "former.staff"))
        assert user is not None
        user.is_active = False
        session.commit()
    refused = run(url, "event", "list", "--as", "former.staff")
    assert refused.exit_code == 2
    assert refused.stderr == "error: the user 'former.staff' is deactivated (field: --as)\n"
