"""Routing: config resolution, the target-tree router (retry, fallback, balance, cooldown) and the cache."""
