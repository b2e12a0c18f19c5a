-- Daily cost/usage rollup fed by a materialised view on requests (cost per team/feature/model dashboards).
-- SummingMergeTree: read with sum() ... GROUP BY (rows are summed only at merge time).
-- Replayed inserts are deduplicated here too: deduplicate_blocks_in_dependent_materialized_views (default on)
-- needs the dedup window on this table as well.
-- distributed: requests_daily sharding=rand()
CREATE TABLE IF NOT EXISTS {database}.requests_daily{local} {on_cluster}
(
    day Date,
    team LowCardinality(String),
    feature LowCardinality(String),
    model LowCardinality(String),
    provider LowCardinality(String),
    guardrail_outcome LowCardinality(String),
    requests UInt64,
    errors UInt64,
    cost_nano_usd UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cached_input_tokens UInt64,
    reasoning_tokens UInt64,
    unpriced_requests UInt64,
    duration_ms_sum Float64
)
ENGINE = {summing_merge_tree}
PARTITION BY toYYYYMM(day)
ORDER BY (team, day, feature, model, provider, guardrail_outcome)
TTL day + INTERVAL {row_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = {dedup_window};

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.requests_daily_mv{local} {on_cluster}
TO {database}.requests_daily{local}
AS SELECT
    toDate(started_at) AS day,
    team,
    feature,
    if(model_served != '', model_served, model_requested) AS model,
    provider,
    guardrail_outcome,
    count() AS requests,
    countIf(status != 'ok') AS errors,
    sum(cost_nano_usd) AS cost_nano_usd,
    sum(toUInt64(input_tokens)) AS input_tokens,
    sum(toUInt64(output_tokens)) AS output_tokens,
    sum(toUInt64(cached_input_tokens)) AS cached_input_tokens,
    sum(toUInt64(reasoning_tokens)) AS reasoning_tokens,
    countIf(NOT price_known) AS unpriced_requests,
    sum(duration_ms) AS duration_ms_sum
FROM {database}.requests{local}
GROUP BY day, team, feature, model, provider, guardrail_outcome;
