"""Alerts from pipeline findings: one upsert per stored batch, and reads for their owners.

A batch's routed rows are grouped in polars (organisation, day, feed, classification) and
added to their alerts with one `INSERT ... ON CONFLICT DO UPDATE`: counts add up, the time
span widens, and the sample rows are the first ones seen (later batches keep them), so
re-sending the findings of a day never rewrites what an analyst already looked at.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy import Select, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from entente.alerts.models import Alert
from entente.core.access import Viewer
from entente.core.clock import utcnow
from entente.pipeline.batches import MATCHED_INDICATORS, ORGANISATION

SAMPLES_PER_ALERT = 5
_SAMPLE_FIELDS = (
    "time.source",
    "source.ip",
    "source.port",
    "source.fqdn",
    "source.asn",
    "source.geolocation.cc",
    "protocol.application",
    "classification.identifier",
)
_KEY = {
    "feed.name": "feed_name",
    "classification.taxonomy": "taxonomy",
    "classification.type": "type",
    "classification.identifier": "identifier",
}


def finding_groups(batch: pl.DataFrame) -> pl.DataFrame:
    """The batch's routed rows summed per organisation, day, feed and classification."""
    if ORGANISATION not in batch.columns or "time.source" not in batch.columns:
        return pl.DataFrame()
    routed = batch.filter(pl.col(ORGANISATION).is_not_null() & pl.col("time.source").is_not_null())
    if routed.is_empty():
        return pl.DataFrame()
    key_columns = [
        (pl.col(name) if name in routed.columns else pl.lit(None))
        .cast(pl.String)
        .fill_null("")
        .alias(column)
        for name, column in _KEY.items()
    ]
    matched = (
        pl.col(MATCHED_INDICATORS).list.len().gt(0).sum()
        if MATCHED_INDICATORS in routed.columns
        else pl.lit(0)
    )
    keys = ["organisation_id", "day", *_KEY.values()]
    groups = (
        routed.with_columns(
            pl.col(ORGANISATION).alias("organisation_id"),
            pl.col("time.source").dt.date().alias("day"),
            *key_columns,
        )
        .with_row_index(_ROW)
        .group_by(keys)
        .agg(
            pl.len().alias("rows"),
            matched.cast(pl.Int64).alias("matched_rows"),
            pl.col("time.source").min().alias("first_seen"),
            pl.col("time.source").max().alias("last_seen"),
            pl.col(_ROW).head(SAMPLES_PER_ALERT).alias(_SAMPLE_ROWS),
        )
        .with_row_index(_GROUP)
    )
    return groups.join(_samples(routed, groups), on=_GROUP, how="left").drop(_GROUP, _SAMPLE_ROWS)


_ROW, _GROUP, _SAMPLE_ROWS = "_row", "_group", "_sample_rows"


def _samples(routed: pl.DataFrame, groups: pl.DataFrame) -> pl.DataFrame:
    """Each group's sample rows as a list of structs of text. Built from the few sampled
    rows only: casting every row of a batch to text to keep five per group cost most of
    the grouping."""
    fields = [name for name in _SAMPLE_FIELDS if name in routed.columns]
    picked = groups.select(_GROUP, _SAMPLE_ROWS).explode(_SAMPLE_ROWS)
    rows = routed.select(fields)[picked[_SAMPLE_ROWS].to_numpy()]
    return (
        rows.select(pl.struct([pl.col(name).cast(pl.String) for name in fields]).alias("samples"))
        .with_columns(picked[_GROUP])
        .group_by(_GROUP, maintain_order=True)
        .agg(pl.col("samples"))
    )


def add_findings(session: Session, batch: pl.DataFrame) -> int:
    """Add a stored batch's routed rows to their alerts; returns how many alerts it touched.

    The caller commits (with the rest of the batch's bookkeeping).
    """
    groups = finding_groups(batch)
    if groups.is_empty():
        return 0
    now = utcnow()
    rows = [
        {**group, "samples": list(group["samples"]), "created_at": now, "updated_at": now}
        for group in groups.to_dicts()
    ]
    session.execute(_upsert(session.get_bind().dialect.name), rows)
    return len(rows)


def _upsert(dialect: str) -> Any:
    """One `INSERT ... ON CONFLICT DO UPDATE` run with many parameter sets (executemany):
    the same statement every batch, so it is compiled once, where a multi-row VALUES
    statement was compiled anew for each batch."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(Alert)
    excluded = statement.excluded
    postgres = dialect == "postgresql"
    earliest, latest = (func.least, func.greatest) if postgres else (func.min, func.max)
    return statement.on_conflict_do_update(
        index_elements=[
            Alert.organisation_id,
            Alert.day,
            Alert.feed_name,
            Alert.taxonomy,
            Alert.type,
            Alert.identifier,
        ],
        set_={
            "rows": Alert.rows + excluded.rows,
            "matched_rows": Alert.matched_rows + excluded.matched_rows,
            "first_seen": earliest(Alert.first_seen, excluded.first_seen),
            "last_seen": latest(Alert.last_seen, excluded.last_seen),
            "updated_at": excluded.updated_at,
        },
    )


def visible_alerts(viewer: Viewer) -> Select[Alert]:
    """Alerts a member's user may read: its own organisation's.

    Findings concern one member's networks and are routed to it alone; they are not shared
    objects under TLP, so no other member sees them (operators use `all_alerts`).
    """
    return select(Alert).where(Alert.organisation_id == (viewer.organisation_id or -1))


def all_alerts() -> Select[Alert]:
    """Every member's alerts: for the hub's operators (admin role) only."""
    return select(Alert)
