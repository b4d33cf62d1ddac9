"""UI pages of federation peers (platform admins): the list with each peer's last sync, a
peer's agreement and status with "Sync now", the create/edit form, delete.

Thin: each handler calls the same function of `service.py` / `sync.py` as the admin API
(`/api/v1/peers`), with an actor whose door is "ui", so validation and the audit entries are
the API's. The token is write-only: no page ever carries it back, not even the edit form,
where a blank token keeps the stored one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from entente.core.errors import AppError, BadValue
from entente.core.pagination import LARGEST_PAGE
from entente.interop.federation import service
from entente.interop.federation.api import PeerDep
from entente.interop.federation.choices import Direction, SyncOutcome
from entente.interop.federation.identity import local_hub_uuid
from entente.interop.federation.models import Peer
from entente.interop.federation.peer_list import LastSync, PeerFilter, peer_page
from entente.interop.federation.schemas import PeerCreate, PeerPublic, PeerUpdate, SyncResult
from entente.interop.federation.sync import sync_peer
from entente.sharing import groups
from entente.sharing.group_schemas import GroupFilter
from entente.sharing.tables import tlp_badge
from entente.vocabulary.markings import TLP
from entente.web.deps import AdminDep, PageDep, SessionDep
from entente.web.filter_forms import FieldOverride, declare
from entente.web.forms import FormDep, choice, field_errors, parse_form
from entente.web.tables import Align, Cell, Column, Table, muted, text, when
from entente.web.templating import LOGIN_REQUIRED, FlashLevel, flash, redirect, render

router = APIRouter(include_in_schema=False, dependencies=LOGIN_REQUIRED)

LIST_URL = "/peers"
# A failed sync's error in the list, cut to this many characters; the peer's page has it whole.
ERROR_PREVIEW_CHARS = 60
# Fields typed as comma-separated names on the form, lists in the schema.
LIST_FIELDS = ("organisations", "tags", "sharing_groups")
TEXT_FIELDS = ("name", "base_url", "direction", "max_tlp", "remote_hub_uuid")
DIRECTIONS = {
    Direction.BOTH: "Pull and push",
    Direction.PULL: "Pull only",
    Direction.PUSH: "Push only",
}


def _last_sync(peer: PeerPublic) -> Cell:
    status = LastSync.of(peer.last_sync_outcome)
    return Cell(status.label, badge=status.colour)


def _counts(peer: PeerPublic) -> Cell:
    counts = peer.last_sync_counts
    shown = [
        f"{verb} {counts[direction].get('imported', 0) + counts[direction].get('updated', 0)}"
        for direction, verb in (("pulled", "in"), ("pushed", "out"))
        if direction in counts
    ]
    return muted(" · ".join(shown))


def _error(peer: PeerPublic) -> Cell:
    error = peer.last_sync_error or ""
    if len(error) > ERROR_PREVIEW_CHARS:
        # The whole text is on the peer's page, linked from here.
        return Cell(error[: ERROR_PREVIEW_CHARS - 1] + "…", href=f"{LIST_URL}/{peer.id}")
    return muted(error)


PEERS = Table[PeerPublic](
    columns=(
        Column("Name", lambda p: Cell(p.name, href=f"{LIST_URL}/{p.id}")),
        Column("Base URL", lambda p: muted(p.base_url)),
        Column("Direction", lambda p: text(DIRECTIONS[p.direction])),
        Column("Max TLP", lambda p: tlp_badge(p.max_tlp)),
        Column("Enabled", lambda p: text("yes" if p.enabled else "no")),
        Column("Last sync", lambda p: when(p.last_sync_at)),
        Column("Outcome", _last_sync),
        Column("Events in/out", _counts, Align.RIGHT),
        Column("Error", _error),
    ),
    empty="No peer matches these filters.",
)


def peer_filter(enabled: str = "", last_sync: str = "") -> PeerFilter:
    return PeerFilter(
        enabled=_switch(enabled, "enabled"), last_sync=choice(LastSync, last_sync, "last_sync")
    )


PeerFilterDep = Annotated[PeerFilter, Depends(peer_filter)]

PEER_FILTERS = declare(
    PeerFilter,
    LIST_URL,
    {
        "enabled": FieldOverride(blank="Enabled or not"),
        "last_sync": FieldOverride(blank="Any outcome"),
    },
)


@router.get(LIST_URL, response_class=HTMLResponse)
def peer_list(
    request: Request, session: SessionDep, _admin: AdminDep, filters: PeerFilterDep, page: PageDep
) -> Response:
    result = peer_page(session, filters, page)
    context = {
        "page": result,
        "rows": PEERS.rows(result.items),
        "table": PEERS,
        "filtered": filters != PeerFilter(),
        "hub_id": local_hub_uuid(session),
        "filter_form": PEER_FILTERS.form(request.query_params),
    }
    return render(request, "federation/peers.html", context)


@router.get(f"{LIST_URL}/new", response_class=HTMLResponse)
def new_peer(request: Request, session: SessionDep, _admin: AdminDep) -> Response:
    defaults = {"direction": Direction.BOTH.value, "max_tlp": TLP.GREEN.value, "enabled": "true"}
    return _form(request, session, None, defaults)


@router.post(f"{LIST_URL}/new", response_class=HTMLResponse)
def create_peer(request: Request, session: SessionDep, admin: AdminDep, form: FormDep) -> Response:
    try:
        created = service.create_peer(session, admin.actor(), _read_form(form))
    except AppError as exc:
        session.rollback()
        return _form(request, session, None, form, exc)
    flash(request, f"Peer '{created.name}' created. Sync it now to check the agreement.")
    return redirect(f"{LIST_URL}/{created.id}")


@router.get(LIST_URL + "/{peer_id}", response_class=HTMLResponse)
def peer_detail(peer: PeerDep, request: Request) -> Response:
    public = service.peer_public(peer)
    context = {
        "peer": public,
        "direction": DIRECTIONS[public.direction],
        "last_sync": LastSync.of(public.last_sync_outcome),
    }
    return render(request, "federation/peer.html", context)


@router.get(LIST_URL + "/{peer_id}/edit", response_class=HTMLResponse)
def edit_peer(peer: PeerDep, request: Request, session: SessionDep) -> Response:
    return _form(request, session, peer, _values_of(peer))


@router.post(LIST_URL + "/{peer_id}/edit", response_class=HTMLResponse)
def update_peer(
    peer: PeerDep, request: Request, session: SessionDep, admin: AdminDep, form: FormDep
) -> Response:
    try:
        # Validated as a whole agreement (a blank name is an error, not "unchanged"), then
        # every field sent but a blank token, which keeps the stored one.
        whole = _read_form({**form, "api_token": form.get("api_token") or peer.api_token})
        kept = set() if form.get("api_token") else {"api_token"}
        service.update_peer(
            session, admin.actor(), peer, PeerUpdate(**whole.model_dump(exclude=kept))
        )
    except AppError as exc:
        session.rollback()
        return _form(request, session, peer, form, exc)
    flash(request, f"Peer '{peer.name}' saved.")
    return redirect(f"{LIST_URL}/{peer.id}")


@router.post(LIST_URL + "/{peer_id}/sync")
def sync_now(peer: PeerDep, request: Request, session: SessionDep, admin: AdminDep) -> Response:
    result = sync_peer(session, admin.actor(), peer)
    if result.outcome is SyncOutcome.FAILED:
        flash(request, f"Sync with '{peer.name}' failed: {result.error}", FlashLevel.ERROR)
    else:
        flash(request, f"Sync with '{peer.name}' done: {_summary(result)}.")
    return redirect(f"{LIST_URL}/{peer.id}")


@router.post(LIST_URL + "/{peer_id}/delete")
def delete_peer(peer: PeerDep, request: Request, session: SessionDep, admin: AdminDep) -> Response:
    name = peer.name
    service.delete_peer(session, admin.actor(), peer)
    flash(request, f"Peer '{name}' deleted; the events received from it stay.")
    return redirect(LIST_URL)


# ---- helpers -----------------------------------------------------------------------------


def _switch(value: str, field: str) -> bool | None:
    """The filter form's Yes/No select of a `bool` (`web/filter_forms`); blank means any."""
    if not value:
        return None
    if value not in ("true", "false"):
        raise BadValue(f"{field} must be true or false", field=field, value=value)
    return value == "true"


def _summary(result: SyncResult) -> str:
    parts = [
        f"{verb} {counts.offered} (imported {counts.imported}, updated {counts.updated}, "
        f"refused {counts.refused})"
        for verb, counts in (("pulled", result.pulled), ("pushed", result.pushed))
        if counts is not None
    ]
    return "; ".join(parts) or "nothing to do"


def _names(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


def _read_form(form: Mapping[str, str]) -> PeerCreate:
    values = {name: form.get(name, "") for name in (*TEXT_FIELDS, "api_token")}
    lists = {name: _names(form.get(name, "")) for name in LIST_FIELDS}
    enabled = _switch(form.get("enabled", ""), "enabled")
    return parse_form(PeerCreate, values, **lists, enabled=enabled is not False)


def _values_of(peer: Peer) -> dict[str, str]:
    """The form's values of a stored peer; never the token."""
    return {
        "name": peer.name,
        "base_url": peer.base_url,
        "direction": peer.direction.value,
        "max_tlp": peer.max_tlp.value,
        "remote_hub_uuid": peer.remote_hub_uuid or "",
        "enabled": "true" if peer.enabled else "false",
        **{name: ", ".join(getattr(peer, name)) for name in LIST_FIELDS},
    }


def _form(
    request: Request,
    session: Session,
    peer: Peer | None,
    values: Mapping[str, str],
    error: AppError | None = None,
) -> Response:
    shown = {name: value for name, value in values.items() if name != "api_token"}
    errors = (
        {_form_field(name): text for name, text in field_errors(error).items()} if error else {}
    )
    context = {
        "peer": peer,
        "token_hint": service.peer_public(peer).token_hint if peer else None,
        "action": f"{LIST_URL}/{peer.id}/edit" if peer else f"{LIST_URL}/new",
        "values": shown,
        "errors": errors,
        "directions": [(d.value, label) for d, label in DIRECTIONS.items()],
        "tlps": [(tlp.value, tlp.label) for tlp in TLP],
        "group_names": [
            g.name for g in groups.list_groups(session, GroupFilter(), LARGEST_PAGE).items
        ],
    }
    return render(
        request,
        "federation/peer_form.html",
        context,
        status_code=error.http_status if error else 200,
    )


def _form_field(field: str) -> str:
    """`tags.2` (one name of a list) belongs to the list's box."""
    return field.split(".")[0].split("[")[0]
