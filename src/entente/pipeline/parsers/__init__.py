"""Feed files into pipeline batches: the first stage of the pipeline.

`parser(name)` gives the parser for a feed format (`shadowserver`, `urlhaus`,
`feodotracker`, `threatfox`, `sslbl`, `sslbl_ip`, `spamhaus_drop`, `list`,
`generic_csv`, `stix`, `misp_feed`); each streams a file as `StageOutput`s (kept rows with
vocabulary field names, quarantined rows with reasons). The contract is in `base`; the
formats and their field mappings are in docs/feeds.md.

Layers, bottom up: `source_lines` (bytes to clean, numbered lines), `csv_reading`
(pyarrow's streaming CSV reader over them), `mapping` + `converters` (the one engine that
runs every declared feed spec), then one module per provider. The JSON formats have their
own: `json_stream` (ijson, blocks of rows, syntax errors placed), `stix_patterns` and
`rsit_words` (classification words), under `stix` and `misp_feed`.
"""

from entente.pipeline.parsers.base import InMemoryParser, Parser, ParserOptions, parser, parsers

__all__ = ["InMemoryParser", "Parser", "ParserOptions", "parser", "parsers"]
