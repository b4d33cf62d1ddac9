"""Member states, organisations, users, roles and API tokens."""
