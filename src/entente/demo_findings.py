"""The demo's early-warning side: sample Shadowserver reports run through the pipeline, so
the demo's members open *Findings* on alerts routed to their constituencies.

Idempotent like the rest of the demo: a second run finds every row already stored.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from sqlalchemy.orm import Session

from entente.core.audit import Actor
from entente.core.config import Settings
from entente.pipeline.feeds import feed_for_ingest
from entente.pipeline.ingest import Pipeline, ingest_file

DEMO_FEED = "shadowserver-demo"


def demo_reports() -> list[Path]:
    """The bundled sample reports, by name."""
    folder = resources.files("entente.pipeline.data").joinpath("demo")
    return sorted(Path(str(item)) for item in folder.iterdir() if item.name.endswith(".csv"))


def load_demo_findings(session: Session, settings: Settings, actor: Actor) -> int:
    """Ingest the sample reports; returns how many rows were stored by this run."""
    feed = feed_for_ingest(session, actor, DEMO_FEED, "shadowserver")
    pipeline = Pipeline.load(session, settings)
    return sum(ingest_file(session, pipeline, feed, path).rows_stored for path in demo_reports())
