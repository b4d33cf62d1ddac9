"""Collections: create, change, remove (admins), and what a caller may do with one.

A collection is a view of the sharing space: the events its filter selects (owner
organisation, sharing group, owner's tags) and, inside them, the objects marked at most its
maximum TLP. Which organisations may read or write it is stored per organisation. What a
caller reads is always further limited by the access predicate for that caller
(`objects`), so a collection never shows anyone more than the UI would.

An organisation may be given write permission only where the objects it writes land in the
collection: not when the collection shows only another organisation's events.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, select
from sqlalchemy.orm import Session

from entente.core import audit
from entente.core.audit import Actor
from entente.core.errors import BadValue, Conflict, NotFound, PermissionDenied
from entente.interop.taxii.models import TaxiiCollection, TaxiiPermission
from entente.interop.taxii.schemas import (
    CollectionCreate,
    CollectionPermission,
    CollectionPublic,
    CollectionUpdate,
)
from entente.members.accounts import Principal
from entente.members.service import get_organisation
from entente.sharing.models import Event, EventTag, SharingGroup
from entente.sharing.tags import canonical_tag
from entente.vocabulary.markings import TLP


@dataclass(frozen=True, slots=True)
class CollectionAccess:
    """A collection and what the caller's organisation may do with it."""

    collection: TaxiiCollection
    can_read: bool
    can_write: bool

    def require_read(self) -> None:
        if not self.can_read:
            raise PermissionDenied("your organisation may not read this collection")

    def require_write(self) -> None:
        if not self.can_write:
            raise PermissionDenied("your organisation may not write to this collection")


def scope(collection: TaxiiCollection, tlp_column: Any) -> list[ColumnElement[bool]]:
    """The collection's filter, on `Event` and on the object's own TLP column."""
    allowed = [tlp for tlp in TLP if tlp.rank <= collection.max_tlp.rank]
    conditions: list[ColumnElement[bool]] = [tlp_column.in_(allowed)]
    if collection.owner_organisation_id is not None:
        conditions.append(Event.owner_organisation_id == collection.owner_organisation_id)
    if collection.sharing_group_id is not None:
        conditions.append(Event.sharing_group_id == collection.sharing_group_id)
    if collection.tags:
        tagged = select(EventTag.event_id).where(
            EventTag.event_id == Event.id,
            EventTag.organisation_id == Event.owner_organisation_id,
            EventTag.name.in_(collection.tags),
        )
        conditions.append(exists(tagged))
    return conditions


# ---- the caller's view -----------------------------------------------------------------------


def caller_collections(session: Session, principal: Principal) -> list[CollectionAccess]:
    """The collections the caller's organisation may read or write, oldest first."""
    rows = session.execute(
        select(TaxiiCollection, TaxiiPermission.can_read, TaxiiPermission.can_write)
        .join(TaxiiPermission, TaxiiPermission.collection_id == TaxiiCollection.id)
        .where(
            TaxiiPermission.organisation_id == principal.user.organisation_id,
            TaxiiPermission.can_read | TaxiiPermission.can_write,
        )
        .order_by(TaxiiCollection.id)
    )
    return [CollectionAccess(c, can_read, can_write) for c, can_read, can_write in rows]


def caller_collection(session: Session, principal: Principal, key: str) -> CollectionAccess:
    """One collection by id or alias; 404 also when the caller has no permission on it, so
    a collection's existence is not told to those it is not shared with."""
    for access in caller_collections(session, principal):
        if key in (access.collection.uuid, access.collection.alias):
            return access
    raise NotFound(f"no collection {key!r}", field="collection_id", value=key)


# ---- administration ----------------------------------------------------------------------------


def list_collections(session: Session) -> list[TaxiiCollection]:
    return list(session.scalars(select(TaxiiCollection).order_by(TaxiiCollection.id)))


def get_collection(session: Session, key: str) -> TaxiiCollection:
    """A collection by its TAXII id or its alias."""
    found = session.scalar(
        select(TaxiiCollection).where(
            (TaxiiCollection.uuid == key) | (TaxiiCollection.alias == key)
        )
    )
    if found is None:
        raise NotFound(f"no collection {key!r}", field="collection_id", value=key)
    return found


def create_collection(session: Session, actor: Actor, data: CollectionCreate) -> TaxiiCollection:
    """A new collection with its filter and its organisations' permissions."""
    collection = TaxiiCollection(
        uuid=str(uuid.uuid4()),
        alias=data.alias,
        title=data.title,
        description=data.description,
        owner_organisation_id=data.owner_organisation_id,
        sharing_group_id=data.sharing_group_id,
        tags=_canonical_tags(data.tags),
        max_tlp=data.max_tlp,
    )
    _check(session, collection, data.permissions)
    session.add(collection)
    session.flush()
    _set_permissions(session, collection, data.permissions)
    audit.record(session, actor, "taxii.collection.create", _ref(collection), title=data.title)
    session.commit()
    return collection


def update_collection(
    session: Session, actor: Actor, collection: TaxiiCollection, data: CollectionUpdate
) -> TaxiiCollection:
    """Change the fields given; `permissions`, when given, replaces the whole list."""
    changes = data.model_dump(exclude_unset=True, exclude={"permissions"})
    if "tags" in changes:
        changes["tags"] = _canonical_tags(changes["tags"] or [])
    for name, value in changes.items():
        setattr(collection, name, value)
    permissions = data.permissions
    if permissions is None:
        permissions = permissions_of(session, collection)
    _check(session, collection, permissions)
    if data.permissions is not None:
        session.execute(
            delete(TaxiiPermission).where(TaxiiPermission.collection_id == collection.id)
        )
        _set_permissions(session, collection, data.permissions)
    audit.record(
        session, actor, "taxii.collection.update", _ref(collection), fields=sorted(changes)
    )
    session.commit()
    return collection


def delete_collection(session: Session, actor: Actor, collection: TaxiiCollection) -> None:
    """Remove the collection (its permissions and statuses); the shared data stays."""
    audit.record(session, actor, "taxii.collection.delete", _ref(collection))
    session.delete(collection)
    session.commit()


def permissions_of(session: Session, collection: TaxiiCollection) -> list[CollectionPermission]:
    rows = session.scalars(
        select(TaxiiPermission)
        .where(TaxiiPermission.collection_id == collection.id)
        .order_by(TaxiiPermission.organisation_id)
    )
    return [
        CollectionPermission(
            organisation_id=row.organisation_id, can_read=row.can_read, can_write=row.can_write
        )
        for row in rows
    ]


def collection_public(session: Session, collection: TaxiiCollection) -> CollectionPublic:
    return CollectionPublic(
        id=collection.uuid,
        alias=collection.alias,
        title=collection.title,
        description=collection.description,
        owner_organisation_id=collection.owner_organisation_id,
        sharing_group_id=collection.sharing_group_id,
        tags=list(collection.tags),
        max_tlp=collection.max_tlp,
        permissions=permissions_of(session, collection),
        created_at=collection.created_at,
    )


def _ref(collection: TaxiiCollection) -> tuple[str, object]:
    return ("taxii_collection", collection.uuid)


def _canonical_tags(texts: list[str]) -> list[str]:
    tags: list[str] = []
    for index, text in enumerate(texts):
        try:
            tags.append(canonical_tag(text))
        except BadValue as exc:
            raise BadValue(exc.message, field=f"tags[{index}]", value=text) from exc
    return sorted(set(tags))


def _check(
    session: Session, collection: TaxiiCollection, permissions: list[CollectionPermission]
) -> None:
    """Refuse unknown references, a taken alias, repeated organisations, and write
    permission for an organisation whose writes the collection would not show."""
    if collection.owner_organisation_id is not None:
        get_organisation(session, collection.owner_organisation_id)
    group_id = collection.sharing_group_id
    if group_id is not None and session.get(SharingGroup, group_id) is None:
        raise NotFound(f"no sharing group {group_id}", field="sharing_group_id", value=group_id)
    if collection.alias is not None:
        taken = session.scalar(
            select(TaxiiCollection.id).where(
                TaxiiCollection.alias == collection.alias, TaxiiCollection.id != collection.id
            )
            if collection.id is not None
            else select(TaxiiCollection.id).where(TaxiiCollection.alias == collection.alias)
        )
        if taken is not None:
            raise Conflict(f"alias {collection.alias!r} is taken", field="alias")
    seen: set[int] = set()
    for index, permission in enumerate(permissions):
        where = f"permissions[{index}].organisation_id"
        organisation_id = permission.organisation_id
        if organisation_id in seen:
            raise BadValue("organisation listed twice", field=where, value=organisation_id)
        seen.add(organisation_id)
        try:
            get_organisation(session, organisation_id)
        except NotFound as exc:
            raise NotFound(exc.message, field=where, value=organisation_id) from exc
        owner = collection.owner_organisation_id
        if permission.can_write and owner is not None and owner != organisation_id:
            raise BadValue(
                "this collection shows only another organisation's events: what this "
                "organisation writes would not appear in it",
                field=f"permissions[{index}].can_write",
                value=organisation_id,
            )


def _set_permissions(
    session: Session, collection: TaxiiCollection, permissions: list[CollectionPermission]
) -> None:
    session.add_all(
        TaxiiPermission(
            collection_id=collection.id,
            organisation_id=p.organisation_id,
            can_read=p.can_read,
            can_write=p.can_write,
        )
        for p in permissions
    )
