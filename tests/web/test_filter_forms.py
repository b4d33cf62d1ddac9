"""Filter forms derived from the filter dataclasses, drawn by one macro on every list page."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import AwareDatetime
from sqlalchemy.orm import Session

from entente.core.audit import AuditFilter
from entente.core.schemas import PlainText
from entente.core.ui import AUDIT_FILTERS
from entente.members.choices import Role
from entente.members.filters import MemberStateFilter, OrganisationFilter, UserFilter
from entente.members.schemas import RowId
from entente.members.ui import ORGANISATION_FILTERS, USER_FILTERS
from entente.sharing.filters import EventFilter, IndicatorFilter
from entente.sharing.group_schemas import GroupFilter
from entente.vocabulary.markings import TLP
from entente.web import filter_forms
from entente.web.filter_forms import FieldOverride, FilterForm, Widget, declare
from entente.web.templating import make_templates
from tests.factories import make_organisation, make_user
from tests.web.test_ui_pages import HTML, log_in

WEB_TEMPLATES = Path(filter_forms.__file__).parent / "templates"


@dataclass
class Control:
    tag: str
    attrs: dict[str, str]
    options: list[tuple[str, str, bool]] = field(default_factory=list)

    @property
    def selected(self) -> str:
        return next((value for value, _, chosen in self.options if chosen), "")


class FilterFormReader(HTMLParser):
    """The inputs and selects of the page's filter form (`form.filters`), by name."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: dict[str, Control] = {}
        self.attrs: dict[str, str] = {}
        self._inside = False
        self._select: Control | None = None
        self._option: tuple[str, bool] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "form" and "filters" in values.get("class", "").split():
            self._inside, self.attrs = True, values
        elif self._inside and tag in ("input", "select"):
            control = Control(tag, values)
            self.controls[values["name"]] = control
            self._select = control if tag == "select" else None
        elif self._select is not None and tag == "option":
            self._option = (values["value"], "selected" in values)

    def handle_data(self, data: str) -> None:
        if self._select is not None and self._option is not None:
            value, chosen = self._option
            self._select.options.append((value, data, chosen))
            self._option = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False
        elif tag == "select":
            self._select = None


def read_filter_form(html: str) -> FilterFormReader:
    reader = FilterFormReader()
    reader.feed(html)
    assert reader.attrs, "the page has no filter form"
    return reader


def draw(form: FilterForm) -> str:
    env = make_templates([WEB_TEMPLATES]).env
    template = env.from_string(
        '{% import "partials/filter_form.html" as f %}{{ f.filter_form(form) }}'
    )
    return template.render(form=form)


# ---- declaring: the field kind follows the annotated type ---------------------------------


class Unlabelled(StrEnum):
    ONE = "one"
    TWO = "two"


@dataclass(frozen=True, slots=True)
class EveryKind:
    """One field of each kind the list filters use, as they annotate them."""

    q: PlainText | None = None
    organisation_id: RowId | None = None
    member_state: PlainText | None = None
    tlp: TLP | None = None
    type: Unlabelled | None = None
    published: bool | None = None
    since: date | None = None
    until: AwareDatetime | None = None


def test_each_annotated_type_becomes_its_field_kind() -> None:
    form = declare(EveryKind, "/events").form({})
    by_name = {f.name: f for f in form.fields}
    assert {name: f.widget for name, f in by_name.items()} == {
        "q": Widget.SEARCH,
        "organisation_id": Widget.NUMBER,
        "member_state": Widget.TEXT,
        "tlp": Widget.SELECT,
        "type": Widget.SELECT,
        "published": Widget.SELECT,
        "since": Widget.DATE,
        "until": Widget.DATE,
    }
    assert [(o.value, o.label) for o in by_name["published"].options] == [
        ("true", "Yes"),
        ("false", "No"),
    ]
    assert [o.label for o in by_name["tlp"].options] == [t.label for t in TLP]
    assert [o.label for o in by_name["type"].options] == ["one", "two"]
    assert [f.label for f in form.fields[:3]] == ["Search", "Organisation", "Member state"]


@pytest.mark.parametrize(
    "filters",
    [
        MemberStateFilter,
        OrganisationFilter,
        UserFilter,
        GroupFilter,
        AuditFilter,
        EventFilter,
        IndicatorFilter,
    ],
)
def test_every_list_filter_of_the_hub_can_be_declared(filters: type) -> None:
    names = [f.name for f in declare(filters, "/list").fields]
    assert names == [f.name for f in dataclasses.fields(filters)]


def test_overrides_and_order_are_applied() -> None:
    spec = declare(
        MemberStateFilter,
        "/member-states",
        {"region": FieldOverride(label="ITU region", blank="All regions")},
        order=("q", "region"),
    )
    form = spec.form({})
    assert [f.name for f in form.fields] == ["q", "region"]
    assert (form.fields[1].label, form.fields[1].blank) == ("ITU region", "All regions")


def test_mistakes_in_a_declaration_fail_at_import_time() -> None:
    with pytest.raises(ValueError, match="no such filter field: regoin"):
        declare(MemberStateFilter, "/member-states", {"regoin": FieldOverride(label="x")})
    with pytest.raises(ValueError, match="no such filter field: nope"):
        declare(MemberStateFilter, "/member-states", order=("nope",))

    @dataclass(frozen=True)
    class Odd:
        at: datetime | list[int] | None = None

    with pytest.raises(TypeError, match="'at' has type"):
        declare(Odd, "/odd")
    with pytest.raises(TypeError, match="not a filter dataclass"):
        declare(dict, "/odd")


def test_query_choices_must_be_given_and_only_for_selects() -> None:
    with pytest.raises(ValueError, match="'organisation_id' takes its choices from a query"):
        USER_FILTERS.form({})
    with pytest.raises(ValueError, match="no such filter field: q"):
        USER_FILTERS.form({}, {"organisation_id": [], "q": [("a", "a")]})
    with pytest.raises(ValueError, match="no such filter field: nope"):
        USER_FILTERS.without("nope")


# ---- binding: the request's values stay in the form --------------------------------------


def test_the_current_values_are_kept() -> None:
    form = ORGANISATION_FILTERS.form(
        {"member_state": "gh", "type": "sector_cert", "q": "  cert  "},
        {"member_state": [("GH", "Ghana"), ("KE", "Kenya")]},
    )
    by_name = {f.name: f for f in form.fields}
    # Lower case selects Ghana, as the organisation list itself reads the code.
    assert [o.value for o in by_name["member_state"].options if o.selected] == ["GH"]
    assert [o.value for o in by_name["type"].options if o.selected] == ["sector_cert"]
    assert not any(o.selected for o in by_name["region"].options)
    assert by_name["q"].value == "cert"


def test_a_value_no_choice_offers_stays_selected_as_itself() -> None:
    form = AUDIT_FILTERS.form({"action": "nothing.yet"}, {"action": [("user.login", "user.login")]})
    action = form.fields[0]
    assert [(o.value, o.selected) for o in action.options] == [
        ("user.login", False),
        ("nothing.yet", True),
    ]


def test_only_a_search_box_filters_as_one_types() -> None:
    assert ORGANISATION_FILTERS.form({}, {"member_state": []}).trigger == (
        "change, submit, input from:#f-q delay:400ms"
    )
    assert AUDIT_FILTERS.form({}, {"action": []}).trigger == "change, submit"


# ---- drawing: one macro for every list page ----------------------------------------------


def test_the_macro_draws_each_field_kind_with_its_value() -> None:
    values = {"q": "phish", "tlp": "amber", "published": "false", "since": "2024-05-01"}
    reader = read_filter_form(draw(declare(EveryKind, "/events").form(values)))
    assert reader.attrs["action"] == reader.attrs["hx-get"] == "/events"
    assert reader.attrs["method"] == "get"
    controls = reader.controls
    assert (controls["q"].attrs["type"], controls["q"].attrs["value"]) == ("search", "phish")
    assert controls["organisation_id"].attrs["type"] == "number"
    assert controls["since"].attrs == {
        "id": "f-since",
        "name": "since",
        "type": "date",
        "value": "2024-05-01",
    }
    assert controls["tlp"].selected == "amber"
    assert controls["published"].options == [
        ("", "Any", False),
        ("true", "Yes", False),
        ("false", "No", True),
    ]


def test_the_macro_escapes_what_the_request_sent() -> None:
    hostile = '"><script>alert(1)</script>'
    html = draw(AUDIT_FILTERS.form({"actor": hostile, "action": hostile}, {"action": []}))
    assert "<script>" not in html
    reader = read_filter_form(html)
    assert reader.controls["actor"].attrs["value"] == hostile
    assert reader.controls["action"].selected == hostile


# ---- the list pages ----------------------------------------------------------------------


def test_member_states_page_keeps_region_and_search(client: TestClient, session: Session) -> None:
    log_in(client, make_user(session, make_organisation(session)))
    response = client.get("/member-states", params={"region": "europe", "q": "sw"}, headers=HTML)
    assert response.status_code == 200
    controls = read_filter_form(response.text).controls
    assert controls["region"].selected == "europe"
    assert controls["region"].options[0] == ("", "All regions", False)
    assert controls["q"].attrs["value"] == "sw"
    assert 'href="/member-states/CH"' in response.text


def test_organisations_page_offers_every_member_state(client: TestClient, session: Session) -> None:
    log_in(client, make_user(session, make_organisation(session, "KE")))
    response = client.get("/organisations", params={"member_state": "ke"}, headers=HTML)
    member_state = read_filter_form(response.text).controls["member_state"]
    assert len(member_state.options) == 1 + 194
    assert member_state.selected == "KE"
    assert ("KE", "Kenya", True) in member_state.options


def test_users_page_offers_the_organisation_filter_to_admins_only(
    client: TestClient, session: Session
) -> None:
    home = make_organisation(session)
    other = make_organisation(session, "KE")
    log_in(client, make_user(session, home, Role.ADMIN))
    response = client.get("/users", params={"organisation_id": other.id}, headers=HTML)
    controls = read_filter_form(response.text).controls
    assert controls["organisation_id"].selected == str(other.id)
    assert set(controls) == {"organisation_id", "role", "q"}

    client.cookies.clear()
    log_in(client, make_user(session, home, Role.ORG_ADMIN))
    response = client.get("/users", params={"role": "reader"}, headers=HTML)
    controls = read_filter_form(response.text).controls
    assert set(controls) == {"role", "q"}
    assert controls["role"].selected == "reader"


def test_sharing_groups_page_keeps_the_member_organisation(
    client: TestClient, session: Session
) -> None:
    organisation = make_organisation(session)
    log_in(client, make_user(session, organisation))
    response = client.get(
        "/sharing-groups", params={"organisation_id": organisation.id}, headers=HTML
    )
    controls = read_filter_form(response.text).controls
    assert list(controls) == ["organisation_id", "q"]
    assert (str(organisation.id), organisation.name, True) in controls["organisation_id"].options


def test_audit_page_shows_the_days_as_typed(client: TestClient, session: Session) -> None:
    log_in(client, make_user(session, make_organisation(session), Role.ADMIN))
    params = {"action": "user.login", "since": "2000-01-01", "until": "2000-01-31"}
    response = client.get("/audit", params=params, headers=HTML)
    controls = read_filter_form(response.text).controls
    assert controls["action"].selected == "user.login"
    # `until` filters up to the next midnight, but the form shows the day that was picked.
    assert (controls["since"].attrs["value"], controls["until"].attrs["value"]) == (
        "2000-01-01",
        "2000-01-31",
    )


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/member-states", {"region": "atlantis"}, "unknown region &#39;atlantis&#39;"),
        ("/organisations", {"type": "pirate"}, "unknown type &#39;pirate&#39;"),
        ("/users", {"organisation_id": "abc"}, "organisation_id must be a whole number"),
        ("/users", {"role": "king"}, "unknown role &#39;king&#39;"),
        ("/sharing-groups", {"organisation_id": "1x"}, "organisation_id must be a whole number"),
        ("/audit", {"until": "tomorrow"}, "until must be a date as YYYY-MM-DD"),
    ],
)
def test_a_bad_filter_value_is_a_422_page_naming_it(
    client: TestClient, session: Session, path: str, params: dict[str, str], message: str
) -> None:
    log_in(client, make_user(session, make_organisation(session), Role.ADMIN))
    response = client.get(path, params=params, headers=HTML)
    assert response.status_code == 422
    assert "That input was not accepted" in response.text
    assert message in response.text


def test_a_filter_value_that_matches_nothing_is_an_empty_list_not_an_error(
    client: TestClient, session: Session
) -> None:
    log_in(client, make_user(session, make_organisation(session), Role.ADMIN))
    response = client.get("/audit", params={"action": "nothing.yet"}, headers=HTML)
    assert response.status_code == 200
    assert "No audit entries match these filters." in response.text
    assert read_filter_form(response.text).controls["action"].selected == "nothing.yet"
