"""A small shared world for the export tests, built through the real sharing services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from entente.core.access import Viewer
from entente.core.clock import utcnow
from entente.core.config import Settings
from entente.interop.exports.selection import ExportFilter
from entente.interop.exports.service import (
    ExportFormat,
    ExportOptions,
    ExportRequest,
    PreparedExport,
    prepare_export,
)
from entente.interop.markings import TLP2_MARKING_IDS
from entente.interop.stix_import import ImportTarget, import_objects
from entente.sharing import sightings
from entente.sharing.choices import SightingKind
from entente.sharing.indicators import IndicatorType
from entente.sharing.models import Event
from entente.sharing.schemas import SightingCreate
from entente.vocabulary.markings import TLP, Distribution
from tests.interop import builders
from tests.interop.builders import Member

# A title built to break a rule, a comment and a zone if it got through unescaped.
HOSTILE_TITLE = 'C2 "wave"; sid:1; | drop\nalert ip any any -> any any (msg:"x";)'

NETWORK_VALUES = {
    IndicatorType.IPV4: "198.51.100.7",
    IndicatorType.IPV6: "2001:db8::7",
    IndicatorType.CIDR: "203.0.113.0/24",
    IndicatorType.DOMAIN: "evil.example",
    IndicatorType.HOSTNAME: "mail.bad.example",
    IndicatorType.URL: "http://www.bad.example/login.php?user=a;b",
    IndicatorType.JA3: "e7d705a3286e19ea42f587b344ee6865",
}
OTHER_VALUES = {
    IndicatorType.MD5: "d41d8cd98f00b204e9800998ecf8427e",
    IndicatorType.EMAIL_SUBJECT: 'Invoice "overdue"; pay|now',
}
NOT_FOR_DETECTION = "benign.example"
EXPIRED = "192.0.2.99"
SECRET = "198.18.0.66"  # RED, in the owner's own event: nobody else may see it


YARA_RULE = (
    'rule evil_dropper\n{\n    strings:\n        $a = "evil; \\"quoted\\" | piped"\n'
    "    condition:\n        $a\n}"
)
HIDDEN_YARA = "rule hidden_rule { condition: true }"


def add_yara(
    session: Session, owner: Member, target: Event, rule: str, tlp: TLP | None = None
) -> str:
    """A STIX indicator holding a YARA rule, imported into `target`; returns its id."""
    stix_id = f"indicator--{uuid.uuid4()}"
    content: dict[str, object] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": stix_id,
        "created": "2026-11-01T08:00:00.000Z",
        "modified": "2026-11-01T08:00:00.000Z",
        "name": "Dropper\nrule x { condition: true }",
        "pattern": rule,
        "pattern_type": "yara",
        "valid_from": "2026-11-01T08:00:00.000Z",
    }
    if tlp is not None:
        content["object_marking_refs"] = [TLP2_MARKING_IDS[tlp]]
    result = import_objects(
        session, owner.principal(session), [content], ImportTarget(event=target)
    )
    assert result.rejected == [], result.rejected
    return stix_id


@dataclass(frozen=True)
class World:
    owner: Member
    peer: Member
    shared: Event
    secret: Event

    def viewer(self, session: Session, who: Member) -> Viewer:
        return who.principal(session).viewer


def build_world(session: Session) -> World:
    owner = builders.member(session)
    peer = builders.member(session, country="KE")
    shared = builders.event(session, owner, TLP.GREEN, title=HOSTILE_TITLE)
    builders.indicators(session, owner, shared, NETWORK_VALUES | OTHER_VALUES, to_ids=True)
    builders.indicators(session, owner, shared, {IndicatorType.DOMAIN: NOT_FOR_DETECTION})
    [expired] = builders.indicators(
        session, owner, shared, {IndicatorType.IPV4: EXPIRED}, to_ids=True
    )
    data = SightingCreate(kind=SightingKind.EXPIRED, observed_at=utcnow() - timedelta(hours=1))
    sightings.add_sighting(session, owner.principal(session), expired, data)
    secret = builders.event(
        session, owner, TLP.RED, title="Own eyes only", distribution=Distribution.ORGANISATION
    )
    builders.indicators(session, owner, secret, {IndicatorType.IPV4: SECRET}, to_ids=True)
    add_yara(session, owner, shared, YARA_RULE)
    add_yara(session, owner, shared, HIDDEN_YARA, TLP.RED)
    add_yara(session, owner, secret, HIDDEN_YARA)
    return World(owner, peer, shared, secret)


def export_settings(settings: Settings, directory: Path) -> Settings:
    """The test settings with the export cache in a directory of the test's own."""
    return settings.model_copy(update={"data_dir": directory})


def prepared(
    session: Session,
    settings: Settings,
    viewer: Viewer,
    export_format: ExportFormat,
    filters: ExportFilter | None = None,
    options: ExportOptions | None = None,
) -> PreparedExport:
    request = ExportRequest(export_format, filters or ExportFilter(), options or ExportOptions())
    return prepare_export(session, settings, viewer, request)


def exported(
    session: Session,
    settings: Settings,
    viewer: Viewer,
    export_format: ExportFormat,
    filters: ExportFilter | None = None,
    options: ExportOptions | None = None,
) -> str:
    made = prepared(session, settings, viewer, export_format, filters, options)
    return b"".join(made.body()).decode()
