-- Append-only audit trail (schemas.log.AuditRow) with a SHA-256 hash chain per writer instance (chain, seq).
-- hash = sha256(prev_hash + canonical row), computed by the writer before the row reaches the spool.
-- No TTL: audit rows are retained separately from request logs.
-- distributed: audit_log sharding=cityHash64(chain)
CREATE TABLE IF NOT EXISTS {database}.audit_log{local} {on_cluster}
(
    at DateTime64(6, 'UTC'),
    actor String,
    role LowCardinality(String),
    action LowCardinality(String),
    target String,
    source_ip String,
    detail String CODEC(ZSTD(3)),
    chain LowCardinality(String),
    seq UInt64,
    prev_hash String,
    hash String
)
ENGINE = {merge_tree}
PARTITION BY toYYYYMM(at)
ORDER BY (chain, seq)
SETTINGS non_replicated_deduplication_window = {dedup_window};
