-- One row per guardrail check run (schemas.log.GuardrailRow); positions only, never the matched text.
-- ORDER BY (team, check_id, toStartOfHour(started_at), request_id): the guardrail page groups hits per check
-- for one team over a time range; request_id joins back to the request row.
-- distributed: guardrail_results sharding=cityHash64(request_id)
CREATE TABLE IF NOT EXISTS {database}.guardrail_results{local} {on_cluster}
(
    request_id String,
    trace_id String,
    started_at DateTime64(6, 'UTC'),
    stage LowCardinality(String),
    check_id LowCardinality(String),
    check_name LowCardinality(String),
    verdict LowCardinality(String),
    action LowCardinality(String),
    entity_types Array(LowCardinality(String)),
    finding_count UInt32,
    findings_json String CODEC(ZSTD(3)),
    latency_ms Float64,
    error_message String,
    team LowCardinality(String),
    feature LowCardinality(String),
    key_id LowCardinality(String),
    INDEX idx_request_id request_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = {merge_tree}
PARTITION BY toYYYYMM(started_at)
ORDER BY (team, check_id, toStartOfHour(started_at), request_id)
TTL toDateTime(started_at) + INTERVAL {row_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = {dedup_window};
