"""Interoperability: STIX 2.1 in and out (TAXII, MISP and federation build on it)."""
