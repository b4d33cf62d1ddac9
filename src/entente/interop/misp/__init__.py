"""MISP event JSON in and out: single events, `/events/restSearch` dumps and MISP feeds.

`mapping` holds the vocabulary tables (docs/misp.md prints them); `reading` streams events
out of files, request bodies and feed directories; `from_misp` turns one MISP event into
what Entente stores and `to_misp` one Entente event into MISP JSON (both pure); `imports`
and `import_rows` write through the sharing services' bulk path; `exports` reads through the
access predicate; `feed_export` writes a feed a MISP instance subscribes to.
"""
