"""The early-warning pipeline: feeds in, normalised, enriched, routed, de-duplicated, matched,
stored and aggregated into alerts, over polars DataFrames (Arrow record batches underneath).

A batch is a `polars.DataFrame` whose columns are vocabulary field names (`source.ip`,
`classification.type`, ...; see `entente.vocabulary.fields`), free `extra.<name>` columns,
and bookkeeping columns whose names start with `_` (see `entente.pipeline.batches`): they
say where a row came from, so a quarantined row can be shown and re-processed with its raw
text and source position. Each stage takes a batch and returns the rows it keeps plus the
rows it quarantines with a reason; a bad row never stops a batch.
"""
