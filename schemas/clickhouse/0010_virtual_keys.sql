-- Virtual keys (schemas.keys.VirtualKeyRow): only HMAC-SHA256(server secret, key) is stored, never the key.
-- One row per version of a key; revocation and edits insert a higher version. ReplacingMergeTree keeps the
-- latest version per key_id after merges, so readers use FINAL. ORDER BY key_id: the gateway reloads the
-- whole (small) table every few seconds and the admin API reads one key by id.
-- distributed: virtual_keys sharding=cityHash64(key_id)
CREATE TABLE IF NOT EXISTS {database}.virtual_keys{local} {on_cluster}
(
    key_id String,
    prefix String,
    hmac String,
    name String,
    team LowCardinality(String),
    metadata Map(String, String),
    default_config String,
    allowed_models Array(String),
    allowed_configs Array(String),
    budget_usd_nano Nullable(UInt64),
    budget_period LowCardinality(String),
    rpm UInt32,
    tpm UInt32,
    log_policy LowCardinality(String),
    expires_at Nullable(DateTime64(6, 'UTC')),
    revoked Bool,
    created_at DateTime64(6, 'UTC'),
    version UInt64
)
ENGINE = {replacing_merge_tree}(version)
ORDER BY key_id;
