"""Exports of shared indicators for tools: CSV, plain-text lists, DNS RPZ zones, Suricata and
Snort rules, and YARA rules passed through. See docs/exports.md.

`selection` reads what a viewer may see (through the access predicate), `cache` keeps
finished exports on disk, `service` ties a format to both; one module renders each format.
"""
