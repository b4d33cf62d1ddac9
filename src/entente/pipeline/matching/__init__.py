"""Matching: which shared indicators each pipeline row matches, as its organisation may see them.

    index = IndicatorIndex.load(session, utcnow())    # once per run, or when indicators change
    batch = match(batch, index)                       # vectorised, no database
    batch = restrict_to_recipients(session, batch)    # the access predicate, a few queries

`index` holds the detection indicators in memory (`index`), `stage` matches a batch against
them (`networks` for addresses, `values` for names, URLs and hashes), and `recipients` drops
the references a row's organisation may not see. See docs/pipeline-matching.md.
"""

from entente.pipeline.matching.index import DETECTION_TYPES, ROWS_SCHEMA, IndicatorIndex
from entente.pipeline.matching.recipients import RecipientCache, restrict_to_recipients
from entente.pipeline.matching.stage import (
    ADDRESS_FIELDS,
    HASH_FIELDS,
    NAME_FIELDS,
    URL_FIELDS,
    match,
)

__all__ = [
    "ADDRESS_FIELDS",
    "DETECTION_TYPES",
    "HASH_FIELDS",
    "NAME_FIELDS",
    "ROWS_SCHEMA",
    "URL_FIELDS",
    "IndicatorIndex",
    "RecipientCache",
    "match",
    "restrict_to_recipients",
]
