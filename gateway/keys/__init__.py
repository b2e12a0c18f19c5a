"""Virtual keys: generation, HMAC storage in ClickHouse, the in-memory authenticator and the `keys` CLI."""
