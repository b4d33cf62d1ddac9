"""The field vocabulary and the taxonomies (TLP 2.0, distribution, ...), kept as data."""
