"""Benchmark harness: simulator + gateway (or a peer) + load generator on loopback, results as JSON."""
