-- One wide row per gateway request (schemas.log.RequestLog); attempts as parallel arrays.
-- ORDER BY (team, toStartOfHour(started_at), feature, request_id): every UI list filters one team (tenant
-- scoping) and a time range; feature is the common optional filter; request_id last so ReplacingMergeTree
-- collapses a replayed duplicate. Point lookups by request_id/trace_id use the bloom-filter skip indexes.
-- Body search: tokenbf_v1 serves hasToken(request_body, {word:String}) (and LIKE with whole words); measured
-- in bench/writer_bench.py, ngrambf_v1(4,...) cost ~35 CPU-us/row more on insert for 1 KB bodies.
-- distributed: requests sharding=cityHash64(request_id)
CREATE TABLE IF NOT EXISTS {database}.requests{local} {on_cluster}
(
    request_id String,
    trace_id String,
    span_id String,
    started_at DateTime64(6, 'UTC'),
    duration_ms Float64,
    ttft_ms Nullable(Float64),
    endpoint LowCardinality(String),
    http_status UInt16,
    status LowCardinality(String),
    error_type LowCardinality(String),
    error_message String CODEC(ZSTD(3)),
    key_id LowCardinality(String),
    key_name LowCardinality(String),
    team LowCardinality(String),
    feature LowCardinality(String),
    user String,
    env LowCardinality(String),
    metadata Map(LowCardinality(String), String),
    config_id LowCardinality(String),
    provider LowCardinality(String),
    model_requested LowCardinality(String),
    model_served LowCardinality(String),
    target_path LowCardinality(String),
    attempt_target_path Array(LowCardinality(String)),
    attempt_provider Array(LowCardinality(String)),
    attempt_model Array(LowCardinality(String)),
    attempt_status Array(UInt16),
    attempt_error_type Array(LowCardinality(String)),
    attempt_error_message Array(String),
    attempt_started_at Array(DateTime64(6, 'UTC')),
    attempt_latency_ms Array(Float64),
    attempt_retry_index Array(UInt16),
    retry_count UInt16,
    streamed Bool,
    cache_status LowCardinality(String),
    finish_reason LowCardinality(String),
    input_tokens UInt32,
    output_tokens UInt32,
    cached_input_tokens UInt32,
    cache_write_tokens UInt32,
    reasoning_tokens UInt32,
    cost_nano_usd UInt64,
    price_known Bool,
    guardrail_outcome LowCardinality(String),
    guardrail_failed Array(LowCardinality(String)),
    log_policy LowCardinality(String),
    request_body String CODEC(ZSTD(3)) TTL toDateTime(started_at) + INTERVAL {body_ttl_days} DAY,
    response_body String CODEC(ZSTD(3)) TTL toDateTime(started_at) + INTERVAL {body_ttl_days} DAY,
    user_agent String CODEC(ZSTD(3)),
    client_ip String,
    INDEX idx_request_id request_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_trace_id trace_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_user user TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_metadata_keys mapKeys(metadata) TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_metadata_values mapValues(metadata) TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_request_body request_body TYPE tokenbf_v1(8192, 2, 0) GRANULARITY 4,
    INDEX idx_response_body response_body TYPE tokenbf_v1(8192, 2, 0) GRANULARITY 4
)
ENGINE = {replacing_merge_tree}
PARTITION BY toYYYYMM(started_at)
ORDER BY (team, toStartOfHour(started_at), feature, request_id)
TTL toDateTime(started_at) + INTERVAL {row_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = {dedup_window};
