"""Settings, database, errors, the access predicate, audit log, passwords and tokens."""
