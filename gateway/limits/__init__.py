"""Budgets (reserve worst-case cost, settle actual cost, reconcile from ClickHouse) and rpm/tpm rate limits."""
