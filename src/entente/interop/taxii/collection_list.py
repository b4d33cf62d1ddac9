"""The admins' list of collections: filtered and cursor-paginated like every other list.

An addition beside `collections.list_collections` (which returns them all, for the CLI and
the API) so the UI page pages and filters in SQL; neither changes what the other returns.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from entente.core.pagination import Page, PageRequest, paginate
from entente.core.schemas import PlainText
from entente.interop.taxii.collections import collection_public
from entente.interop.taxii.models import TaxiiCollection, TaxiiPermission
from entente.interop.taxii.schemas import CollectionPublic
from entente.members.schemas import RowId
from entente.vocabulary.markings import TLP


@dataclass(frozen=True, slots=True)
class CollectionFilter:
    """`q` is part of the title or alias; `organisation_id` an organisation with a permission
    on the collection; `max_tlp` the collection's maximum TLP."""

    q: PlainText | None = None
    organisation_id: RowId | None = None
    max_tlp: TLP | None = None


def collection_page(
    session: Session, filters: CollectionFilter, page: PageRequest
) -> Page[CollectionPublic]:
    """One page of collections matching `filters`, by title."""
    query = select(TaxiiCollection)
    if filters.q:
        pattern = f"%{filters.q.lower()}%"
        query = query.where(
            or_(
                func.lower(TaxiiCollection.title).like(pattern),
                func.lower(TaxiiCollection.alias).like(pattern),
            )
        )
    if filters.organisation_id is not None:
        query = query.where(
            TaxiiCollection.id.in_(
                select(TaxiiPermission.collection_id).where(
                    TaxiiPermission.organisation_id == filters.organisation_id
                )
            )
        )
    if filters.max_tlp is not None:
        query = query.where(TaxiiCollection.max_tlp == filters.max_tlp)
    found = paginate(session, query, [TaxiiCollection.title, TaxiiCollection.id], page)
    return Page(
        items=[collection_public(session, collection) for collection in found.items],
        next_cursor=found.next_cursor,
        count=found.count,
    )
