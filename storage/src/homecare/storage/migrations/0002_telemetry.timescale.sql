-- Telemetry on TimescaleDB 2.13+: a hypertable with 1-day chunks, compression and retention policies,
-- and continuous aggregates telemetry_1m and telemetry_1h (hierarchical on telemetry_1m) with the same
-- columns as the plain-mode rollup tables. Policy intervals are defaults; the maintenance loop aligns
-- the retention policies with the settings.

CREATE TABLE telemetry (
    ts          timestamptz NOT NULL,
    device_id   int NOT NULL,
    resident_id int,
    metric      smallint NOT NULL,
    value       double precision NOT NULL,
    seq         bigint NOT NULL,
    CONSTRAINT telemetry_device_ts_metric_seq_key UNIQUE (device_id, ts, metric, seq)
);
SELECT create_hypertable('telemetry', by_range('ts', INTERVAL '1 day'), create_default_indexes => false);
CREATE INDEX telemetry_ts_brin ON telemetry USING brin (ts) WITH (pages_per_range = 32, autosummarize = on);
COMMENT ON TABLE telemetry IS 'Raw data points (metric: homecare.contracts.messages.Metric codes), one row per value; '
    'written by the gateway with binary COPY; kept for raw_retention_days. No foreign keys: hot table.';

-- Every column of the unique constraint is a segment-by or order-by column, so TimescaleDB can check
-- uniqueness on compressed chunks.
ALTER TABLE telemetry SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'device_id',
    timescaledb.compress_orderby = 'ts, metric, seq'
);
SELECT add_compression_policy('telemetry', compress_after => INTERVAL '7 days');
SELECT add_retention_policy('telemetry', drop_after => INTERVAL '30 days');

CREATE MATERIALIZED VIEW telemetry_1m
WITH (timescaledb.continuous, timescaledb.materialized_only = false, timescaledb.create_group_indexes = false) AS
SELECT time_bucket(INTERVAL '1 minute', ts) AS bucket,
       resident_id,
       metric,
       count(*) AS n,
       sum(value) AS sum,
       min(value) AS min,
       max(value) AS max
FROM telemetry
WHERE resident_id IS NOT NULL
GROUP BY time_bucket(INTERVAL '1 minute', ts), resident_id, metric
WITH NO DATA;
CREATE INDEX telemetry_1m_resident_metric_bucket_idx ON telemetry_1m (resident_id, metric, bucket);
COMMENT ON VIEW telemetry_1m IS 'Per-minute rollup of telemetry per resident and metric (avg = sum / n); '
    'rows without a resident are not rolled up.';
-- The refresh window reaches back 7 days for late data and stays well inside raw retention.
SELECT add_continuous_aggregate_policy('telemetry_1m',
    start_offset => INTERVAL '7 days', end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute');
SELECT add_retention_policy('telemetry_1m', drop_after => INTERVAL '30 days');

CREATE MATERIALIZED VIEW telemetry_1h
WITH (timescaledb.continuous, timescaledb.materialized_only = false, timescaledb.create_group_indexes = false) AS
SELECT time_bucket(INTERVAL '1 hour', bucket) AS bucket,
       resident_id,
       metric,
       sum(n)::bigint AS n,
       sum(sum) AS sum,
       min(min) AS min,
       max(max) AS max
FROM telemetry_1m
GROUP BY time_bucket(INTERVAL '1 hour', bucket), resident_id, metric
WITH NO DATA;
CREATE INDEX telemetry_1h_resident_metric_bucket_idx ON telemetry_1h (resident_id, metric, bucket);
COMMENT ON VIEW telemetry_1h IS 'Per-hour rollup, a hierarchical continuous aggregate on telemetry_1m (avg = sum / n).';
SELECT add_continuous_aggregate_policy('telemetry_1h',
    start_offset => INTERVAL '7 days', end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '5 minutes');
SELECT add_retention_policy('telemetry_1h', drop_after => INTERVAL '730 days');

-- Chunks are created by TimescaleDB; the function exists so callers never branch on the mode.
CREATE FUNCTION ensure_partitions(raw_retention_days int, days_ahead int DEFAULT 3) RETURNS int
LANGUAGE sql AS $$ SELECT 0 $$;
COMMENT ON FUNCTION ensure_partitions(int, int) IS 'Create missing daily partitions (no-op under TimescaleDB).';
