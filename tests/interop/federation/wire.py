"""Helpers of the federation tests: local events built through the real services, and what
another hub would send of them (the same wire form, under another hub's id)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from sqlalchemy.orm import Session

from entente.core.audit import SYSTEM
from entente.interop.federation import service
from entente.interop.federation.agreement import UNRESTRICTED
from entente.interop.federation.choices import Direction
from entente.interop.federation.identity import local_hub_uuid
from entente.interop.federation.models import Peer
from entente.interop.federation.outgoing import changed_events, wire_events
from entente.interop.federation.schemas import PeerCreate
from entente.sharing import service as sharing
from entente.sharing.models import Event
from entente.vocabulary.markings import TLP
from tests.interop.builders import Member

OTHER_HUB = "0f0f0f0f-0000-4000-8000-000000000001"


def make_peer(session: Session, name: str = "global", **values: Any) -> Peer:
    data = PeerCreate.model_validate(
        {
            "name": name,
            "base_url": "http://127.0.0.1:9",
            "api_token": "ent_secret-token-value",
            "direction": Direction.BOTH,
            "max_tlp": TLP.AMBER,
            "remote_hub_uuid": OTHER_HUB,
            **values,
        }
    )
    return service.create_peer(session, SYSTEM, data)


def publish(session: Session, owner: Member, event: Event) -> Event:
    return sharing.publish_event(session, owner.principal(session), event)


def as_sent_by_other_hub(session: Session, owner: Member, event: Event) -> dict[str, Any]:
    """The wire item of a local event, re-labelled as made on `OTHER_HUB` (fresh UUIDs), as
    the other hub's `GET /federation/events` would serve it."""
    here = local_hub_uuid(session)
    query = changed_events(owner.principal(session).viewer, None).where(Event.id == event.id)
    [item] = wire_events(
        session, owner.principal(session).viewer, query, UNRESTRICTED, (here, None)
    )
    item = copy.deepcopy(item)
    item["Event"]["uuid"] = str(uuid.uuid4())
    for attribute in item["Event"]["Attribute"]:
        attribute["uuid"] = str(uuid.uuid4())
    item["Federation"]["origin_hub"] = OTHER_HUB
    item["Federation"]["chain"] = [OTHER_HUB]
    item["Federation"]["organisation"]["uuid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, OTHER_HUB))
    return item
