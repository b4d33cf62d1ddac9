"""Sharing groups: the service and its API (and a UI round trip), on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from entente.core.audit import SYSTEM, AuditEntry
from entente.core.errors import BadValue, Conflict, NotFound, PermissionDenied
from entente.core.pagination import PageRequest
from entente.members.accounts import load_viewer
from entente.members.choices import Role
from entente.members.models import Organisation, User
from entente.sharing import groups
from entente.sharing.group_schemas import GroupCreate, GroupFilter, GroupUpdate
from entente.sharing.models import SharingGroup, SharingGroupMember
from tests.factories import PASSWORD, auth, make_organisation, make_token, make_user

HTML = {"accept": "text/html"}
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_group(
    session: Session, creator: Organisation, *others: Organisation, name: str = "West Africa"
) -> SharingGroup:
    data = GroupCreate(
        name=name,
        creator_organisation_id=creator.id,
        member_organisation_ids=[org.id for org in others],
    )
    return groups.create_group(session, SYSTEM, None, data)


def audit_actions(session: Session, group: SharingGroup) -> list[str]:
    return list(
        session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.object_type == "sharing_group", AuditEntry.object_id == str(group.id))
            .order_by(AuditEntry.id)
        )
    )


# ---- service ---------------------------------------------------------------------------


def test_creator_is_always_a_member_and_creation_is_audited(session: Session) -> None:
    creator, other = make_organisation(session), make_organisation(session)
    group = make_group(session, creator, other, creator)
    assert groups.member_ids(session, group) == {creator.id, other.id}
    public = groups.group_public(session, group)
    assert public.creator_organisation_name == creator.name
    assert public.member_count == 2
    assert {m.member_state for m in public.members} == {"GH"}
    assert audit_actions(session, group) == ["sharing_group.create"]


def test_org_admin_creates_for_own_organisation_by_default(session: Session) -> None:
    org = make_organisation(session)
    org_admin = make_user(session, org, Role.ORG_ADMIN)
    group = groups.create_group(session, SYSTEM, org_admin, GroupCreate(name="Mine"))
    assert group.creator_organisation_id == org.id


@pytest.mark.parametrize("role", [Role.ANALYST, Role.READER])
def test_analysts_and_readers_may_not_create_groups(session: Session, role: Role) -> None:
    user = make_user(session, make_organisation(session), role)
    with pytest.raises(PermissionDenied):
        groups.create_group(session, SYSTEM, user, GroupCreate(name="Not allowed"))


def test_org_admin_may_not_create_a_group_for_another_organisation(session: Session) -> None:
    org_admin = make_user(session, make_organisation(session), Role.ORG_ADMIN)
    other = make_organisation(session)
    data = GroupCreate(name="Hijack", creator_organisation_id=other.id)
    with pytest.raises(PermissionDenied) as caught:
        groups.create_group(session, SYSTEM, org_admin, data)
    assert caught.value.field == "creator_organisation_id"


def test_admin_may_create_a_group_for_any_organisation(session: Session) -> None:
    admin = make_user(session, make_organisation(session), Role.ADMIN)
    other = make_organisation(session)
    data = GroupCreate(name="On behalf", creator_organisation_id=other.id)
    group = groups.create_group(session, SYSTEM, admin, data)
    assert group.creator_organisation_id == other.id
    assert groups.member_ids(session, group) == {other.id}


def test_duplicate_name_is_a_conflict_ignoring_case(session: Session) -> None:
    org = make_organisation(session)
    make_group(session, org, name="Energy exchange")
    with pytest.raises(Conflict) as caught:
        make_group(session, org, name="ENERGY Exchange")
    assert caught.value.field == "name"


def test_unknown_member_organisation_is_bad_input_naming_the_field(session: Session) -> None:
    org = make_organisation(session)
    data = GroupCreate(
        name="Ghosts", creator_organisation_id=org.id, member_organisation_ids=[99999]
    )
    with pytest.raises(BadValue) as caught:
        groups.create_group(session, SYSTEM, None, data)
    assert caught.value.field == "member_organisation_ids"
    assert session.scalar(select(SharingGroup).where(SharingGroup.name == "Ghosts")) is None


def test_add_and_remove_members_are_audited(session: Session) -> None:
    creator, other = make_organisation(session), make_organisation(session)
    group = make_group(session, creator)
    groups.add_member(session, SYSTEM, None, group, other.id)
    groups.add_member(session, SYSTEM, None, group, other.id)  # again: no change, no entry
    assert groups.member_ids(session, group) == {creator.id, other.id}
    groups.remove_member(session, SYSTEM, None, group, other.id)
    assert groups.member_ids(session, group) == {creator.id}
    assert audit_actions(session, group) == [
        "sharing_group.create",
        "sharing_group.add_member",
        "sharing_group.remove_member",
    ]


def test_removing_the_creator_is_refused(session: Session) -> None:
    creator = make_organisation(session)
    group = make_group(session, creator)
    with pytest.raises(Conflict) as caught:
        groups.remove_member(session, SYSTEM, None, group, creator.id)
    assert caught.value.field == "organisation_id"
    assert groups.member_ids(session, group) == {creator.id}


def test_removing_a_non_member_is_not_found(session: Session) -> None:
    group = make_group(session, make_organisation(session))
    outsider = make_organisation(session)
    with pytest.raises(NotFound):
        groups.remove_member(session, SYSTEM, None, group, outsider.id)


@pytest.mark.parametrize("role", [Role.ORG_ADMIN, Role.ANALYST])
def test_creator_org_admins_and_analysts_may_edit(session: Session, role: Role) -> None:
    creator = make_organisation(session)
    editor = make_user(session, creator, role)
    group = make_group(session, creator)
    groups.update_group(
        session, SYSTEM, editor, group, GroupUpdate(name="Renamed", releasability="CERTs only")
    )
    assert (group.name, group.releasability) == ("Renamed", "CERTs only")
    assert audit_actions(session, group)[-1] == "sharing_group.update"


def test_creator_reader_and_other_members_may_not_edit(session: Session) -> None:
    creator, member = make_organisation(session), make_organisation(session)
    group = make_group(session, creator, member)
    for user in (
        make_user(session, creator, Role.READER),
        make_user(session, member, Role.ORG_ADMIN),
    ):
        with pytest.raises(PermissionDenied):
            groups.update_group(session, SYSTEM, user, group, GroupUpdate(name="Taken over"))
        with pytest.raises(PermissionDenied):
            groups.add_member(session, SYSTEM, user, group, make_organisation(session).id)
        with pytest.raises(PermissionDenied):
            groups.delete_group(session, SYSTEM, user, group)
    assert group.name == "West Africa"


def test_rename_to_a_taken_name_is_a_conflict(session: Session) -> None:
    org = make_organisation(session)
    make_group(session, org, name="First")
    second = make_group(session, org, name="Second")
    with pytest.raises(Conflict) as caught:
        groups.update_group(session, SYSTEM, None, second, GroupUpdate(name="first"))
    assert caught.value.field == "name"


def test_delete_removes_the_group_and_its_memberships(session: Session) -> None:
    creator, other = make_organisation(session), make_organisation(session)
    group = make_group(session, creator, other)
    group_id = group.id
    groups.delete_group(session, SYSTEM, None, group)
    assert session.get(SharingGroup, group_id) is None
    left = session.scalars(
        select(SharingGroupMember).where(SharingGroupMember.sharing_group_id == group_id)
    )
    assert list(left) == []


def test_list_filters_by_member_organisation_and_name(session: Session) -> None:
    a, b, c = (make_organisation(session) for _ in range(3))
    make_group(session, a, b, name="Alpha ring")
    make_group(session, c, name="Beta ring")
    everything = groups.list_groups(session, GroupFilter(), PageRequest())
    assert [g.name for g in everything.items] == ["Alpha ring", "Beta ring"]
    of_b = groups.list_groups(session, GroupFilter(organisation_id=b.id), PageRequest())
    assert [g.name for g in of_b.items] == ["Alpha ring"]
    by_name = groups.list_groups(session, GroupFilter(q="BETA"), PageRequest())
    assert [g.name for g in by_name.items] == ["Beta ring"]


def test_load_viewer_follows_membership_changes(session: Session) -> None:
    creator, other = make_organisation(session), make_organisation(session)
    user = make_user(session, other)
    group = make_group(session, creator)
    assert group.id not in load_viewer(session, user).sharing_group_ids
    groups.add_member(session, SYSTEM, None, group, other.id)
    assert group.id in load_viewer(session, user).sharing_group_ids
    groups.remove_member(session, SYSTEM, None, group, other.id)
    assert group.id not in load_viewer(session, user).sharing_group_ids


# ---- API -------------------------------------------------------------------------------


def token_of(session: Session, organisation: Organisation, role: Role = Role.ORG_ADMIN) -> str:
    return make_token(session, make_user(session, organisation, role))


def test_api_create_get_patch_and_delete(client: TestClient, session: Session) -> None:
    creator, other = make_organisation(session), make_organisation(session)
    token = token_of(session, creator)
    created = client.post(
        "/api/v1/sharing-groups",
        headers=auth(token),
        json={"name": "Sahel CERTs", "member_organisation_ids": [other.id]},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["creator_organisation_id"] == creator.id
    assert {m["id"] for m in body["members"]} == {creator.id, other.id}
    url = f"/api/v1/sharing-groups/{body['id']}"
    patched = client.patch(url, headers=auth(token), json={"releasability": "CERTs only"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["releasability"] == "CERTs only"
    assert client.delete(url, headers=auth(token)).status_code == 204
    gone = client.get(url, headers=auth(token))
    assert gone.status_code == 404
    assert gone.json()["error"]["field"] == "sharing_group_id"


def test_api_groups_and_members_are_visible_to_every_member(
    client: TestClient, session: Session
) -> None:
    creator, outsider = make_organisation(session), make_organisation(session)
    group = make_group(session, creator)
    token = token_of(session, outsider, Role.READER)
    listed = client.get("/api/v1/sharing-groups", headers=auth(token))
    assert listed.status_code == 200
    assert [g["name"] for g in listed.json()["data"]] == [group.name]
    one = client.get(f"/api/v1/sharing-groups/{group.id}", headers=auth(token)).json()
    assert [m["name"] for m in one["members"]] == [creator.name]


def test_api_needs_a_token(client: TestClient) -> None:
    assert client.get("/api/v1/sharing-groups").status_code == 401


def test_api_duplicate_name_is_409_naming_name(client: TestClient, session: Session) -> None:
    creator = make_organisation(session)
    make_group(session, creator, name="Taken")
    response = client.post(
        "/api/v1/sharing-groups", headers=auth(token_of(session, creator)), json={"name": "taken"}
    )
    assert response.status_code == 409
    assert response.json()["error"]["field"] == "name"


def test_api_unknown_member_organisation_is_422_naming_the_field(
    client: TestClient, session: Session
) -> None:
    token = token_of(session, make_organisation(session))
    response = client.post(
        "/api/v1/sharing-groups",
        headers=auth(token),
        json={"name": "Ghosts", "member_organisation_ids": [987654]},
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "member_organisation_ids"


def test_api_adding_an_unknown_organisation_is_404_naming_it(
    client: TestClient, session: Session
) -> None:
    creator = make_organisation(session)
    group = make_group(session, creator)
    response = client.post(
        f"/api/v1/sharing-groups/{group.id}/members/987654",
        headers=auth(token_of(session, creator)),
    )
    assert response.status_code == 404
    assert response.json()["error"]["field"] == "organisation_id"


def test_api_non_creator_edit_is_403(client: TestClient, session: Session) -> None:
    creator, member = make_organisation(session), make_organisation(session)
    group = make_group(session, creator, member)
    token = token_of(session, member)
    url = f"/api/v1/sharing-groups/{group.id}"
    assert client.patch(url, headers=auth(token), json={"name": "Mine now"}).status_code == 403
    assert client.delete(f"{url}/members/{creator.id}", headers=auth(token)).status_code == 403
    assert client.delete(url, headers=auth(token)).status_code == 403
    session.refresh(group)
    assert group.name == "West Africa"


def test_api_member_management_and_creator_removal_refused(
    client: TestClient, session: Session
) -> None:
    creator, other = make_organisation(session), make_organisation(session)
    group = make_group(session, creator)
    token = token_of(session, creator, Role.ANALYST)
    members_url = f"/api/v1/sharing-groups/{group.id}/members"
    added = client.post(f"{members_url}/{other.id}", headers=auth(token))
    assert added.status_code == 200, added.text
    assert added.json()["member_count"] == 2
    refused = client.delete(f"{members_url}/{creator.id}", headers=auth(token))
    assert refused.status_code == 409
    assert refused.json()["error"]["field"] == "organisation_id"
    removed = client.delete(f"{members_url}/{other.id}", headers=auth(token))
    assert [m["id"] for m in removed.json()["members"]] == [creator.id]


def test_api_me_reflects_membership_changes(client: TestClient, session: Session) -> None:
    creator, other = make_organisation(session), make_organisation(session)
    group = make_group(session, creator)
    member_token = token_of(session, other, Role.READER)
    assert client.get("/api/v1/me", headers=auth(member_token)).json()["sharing_group_ids"] == []
    client.post(
        f"/api/v1/sharing-groups/{group.id}/members/{other.id}",
        headers=auth(token_of(session, creator)),
    )
    me = client.get("/api/v1/me", headers=auth(member_token)).json()
    assert me["sharing_group_ids"] == [group.id]


def test_api_list_paginates_and_filters_by_organisation(
    client: TestClient, session: Session
) -> None:
    creator, other = make_organisation(session), make_organisation(session)
    for index in range(5):
        make_group(session, creator, name=f"Group {index}")
    make_group(session, other, name="Other's")
    token = token_of(session, creator)
    first = client.get("/api/v1/sharing-groups", headers=auth(token), params={"limit": 3}).json()
    assert first["count"] == 6
    second = client.get(
        "/api/v1/sharing-groups",
        headers=auth(token),
        params={"limit": 3, "cursor": first["next_cursor"]},
    ).json()
    names = [g["name"] for g in first["data"] + second["data"]]
    assert len(set(names)) == 6
    assert second["next_cursor"] is None
    of_other = client.get(
        "/api/v1/sharing-groups", headers=auth(token), params={"organisation_id": other.id}
    ).json()
    assert [g["name"] for g in of_other["data"]] == ["Other's"]


# ---- UI --------------------------------------------------------------------------------


def log_in(client: TestClient, user: User) -> str:
    csrf = CSRF_FIELD.search(client.get("/login", headers=HTML).text)
    assert csrf
    form = {"csrf_token": csrf.group(1), "username": user.username, "password": PASSWORD}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    page_csrf = CSRF_FIELD.search(client.get("/sharing-groups", headers=HTML).text)
    assert page_csrf
    return page_csrf.group(1)


def test_ui_create_add_member_and_list(client: TestClient, session: Session) -> None:
    creator, other = make_organisation(session), make_organisation(session)
    csrf = log_in(client, make_user(session, creator, Role.ORG_ADMIN))
    created = client.post(
        "/sharing-groups/new",
        data={"csrf_token": csrf, "name": "Coastal CERTs", "releasability": "CERTs"},
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    page_url = created.headers["location"]
    added = client.post(
        f"{page_url}/members", data={"csrf_token": csrf, "organisation_id": str(other.id)}
    )
    assert added.status_code == 200
    assert other.name in added.text
    listing = client.get("/sharing-groups", headers=HTML)
    assert "Coastal CERTs" in listing.text


def test_ui_duplicate_name_shows_the_form_again(client: TestClient, session: Session) -> None:
    creator = make_organisation(session)
    make_group(session, creator, name="Taken")
    csrf = log_in(client, make_user(session, creator, Role.ORG_ADMIN))
    response = client.post("/sharing-groups/new", data={"csrf_token": csrf, "name": "Taken"})
    assert response.status_code == 409
    assert "already exists" in response.text
    assert 'value="Taken"' in response.text


def test_ui_form_without_csrf_is_refused(client: TestClient, session: Session) -> None:
    creator = make_organisation(session)
    log_in(client, make_user(session, creator, Role.ORG_ADMIN))
    response = client.post("/sharing-groups/new", data={"name": "No token"})
    assert response.status_code == 403
    assert session.scalar(select(SharingGroup).where(SharingGroup.name == "No token")) is None
