-- OpenTelemetry-shaped finished spans (schemas.log.SpanRow) for the trace waterfall page.
-- ORDER BY (trace_id, started_at, span_id): the trace page reads one trace, in start order.
-- distributed: spans sharding=cityHash64(trace_id)
CREATE TABLE IF NOT EXISTS {database}.spans{local} {on_cluster}
(
    trace_id String,
    span_id String,
    parent_span_id String,
    name LowCardinality(String),
    kind LowCardinality(String),
    started_at DateTime64(6, 'UTC'),
    ended_at DateTime64(6, 'UTC'),
    duration_ms Float64,
    status_code LowCardinality(String),
    status_message String,
    attributes Map(LowCardinality(String), String) CODEC(ZSTD(3)),
    events_json String CODEC(ZSTD(3)),
    service_name LowCardinality(String),
    request_id String,
    INDEX idx_request_id request_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_started_at started_at TYPE minmax GRANULARITY 1
)
ENGINE = {replacing_merge_tree}
PARTITION BY toYYYYMM(started_at)
ORDER BY (trace_id, started_at, span_id)
TTL toDateTime(started_at) + INTERVAL {row_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = {dedup_window};
