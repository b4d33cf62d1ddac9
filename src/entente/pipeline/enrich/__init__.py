"""Offline enrichment: IP address -> ASN, AS name and country, for whole batches at once.

Operators feed public data files (MaxMind DB, RouteViews pfx2as, RIR delegated statistics,
AS names) to `entente enrich update`, which flattens them into sorted interval tables
(`data.EnrichmentData`, saved as numpy/Parquet files). The pipeline loads them once and
`stage.enrich` fills the empty `source.*`/`destination.*` fields of each batch with one
`numpy.searchsorted` per address family. docs/enrichment.md is the operator's guide.
"""

from entente.pipeline.enrich.as_names import AsNames
from entente.pipeline.enrich.data import EnrichmentData, NetworkTable, SourceSummary, sample_files
from entente.pipeline.enrich.formats import detect_format, read_source
from entente.pipeline.enrich.sources import SourceData, SourceFormat
from entente.pipeline.enrich.stage import enrich

__all__ = [
    "AsNames",
    "EnrichmentData",
    "NetworkTable",
    "SourceData",
    "SourceFormat",
    "SourceSummary",
    "detect_format",
    "enrich",
    "read_source",
    "sample_files",
]
