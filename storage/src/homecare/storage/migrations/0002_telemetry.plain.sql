-- Telemetry on plain PostgreSQL: daily range partitions on ts, and rollup tables kept by the platform
-- (homecare.backend.telemetry.rollups). Partitions are named <table>_pYYYYMMDD and cover one UTC day.

CREATE TABLE telemetry (
    ts          timestamptz NOT NULL,
    device_id   int NOT NULL,
    resident_id int,
    metric      smallint NOT NULL,
    value       double precision NOT NULL,
    seq         bigint NOT NULL,
    CONSTRAINT telemetry_device_ts_metric_seq_key UNIQUE (device_id, ts, metric, seq)
) PARTITION BY RANGE (ts);
-- Time-range scans (rollup refresh) without a second B-tree on the hot table: BRIN is nearly free to keep.
CREATE INDEX telemetry_ts_brin ON telemetry USING brin (ts) WITH (pages_per_range = 32, autosummarize = on);
COMMENT ON TABLE telemetry IS 'Raw data points (metric: homecare.contracts.messages.Metric codes), one row per value; '
    'written by the gateway with binary COPY; kept for raw_retention_days. No foreign keys: hot table.';

CREATE TABLE telemetry_1m (
    bucket      timestamptz NOT NULL,
    resident_id int NOT NULL,
    metric      smallint NOT NULL,
    n           bigint NOT NULL,
    sum         double precision NOT NULL,
    min         double precision NOT NULL,
    max         double precision NOT NULL,
    CONSTRAINT telemetry_1m_resident_metric_bucket_key UNIQUE (resident_id, metric, bucket)
) PARTITION BY RANGE (bucket);
CREATE INDEX telemetry_1m_bucket_idx ON telemetry_1m (bucket);
COMMENT ON TABLE telemetry_1m IS 'Per-minute rollup of telemetry per resident and metric (avg = sum / n); '
    'rows without a resident are not rolled up.';

CREATE TABLE telemetry_1h (
    bucket      timestamptz NOT NULL,
    resident_id int NOT NULL,
    metric      smallint NOT NULL,
    n           bigint NOT NULL,
    sum         double precision NOT NULL,
    min         double precision NOT NULL,
    max         double precision NOT NULL,
    CONSTRAINT telemetry_1h_resident_metric_bucket_key UNIQUE (resident_id, metric, bucket)
);
CREATE INDEX telemetry_1h_bucket_idx ON telemetry_1h (bucket);
COMMENT ON TABLE telemetry_1h IS 'Per-hour rollup computed from telemetry_1m (avg = sum / n).';

CREATE TABLE rollup_state (
    name      text PRIMARY KEY,
    watermark timestamptz NOT NULL
);
COMMENT ON TABLE rollup_state IS 'Plain mode: how far the rollup tables have been refreshed.';

-- Creates the missing daily partitions of telemetry and telemetry_1m from (now - raw_retention_days)
-- to (now + days_ahead); returns how many it created. CREATE TABLE + ATTACH PARTITION only takes a
-- SHARE UPDATE EXCLUSIVE lock on the parent, so concurrent COPYs are not blocked.
CREATE FUNCTION ensure_partitions(raw_retention_days int, days_ahead int DEFAULT 3) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    today     date := (now() AT TIME ZONE 'UTC')::date;
    day       date;
    parent    text;
    part      text;
    created   int := 0;
BEGIN
    -- One caller at a time (the gateway and the maintenance loop may both call this).
    PERFORM pg_advisory_xact_lock(7142001, 3);
    FOREACH parent IN ARRAY ARRAY['telemetry', 'telemetry_1m'] LOOP
        day := today - raw_retention_days;
        WHILE day <= today + days_ahead LOOP
            part := parent || '_p' || to_char(day, 'YYYYMMDD');
            IF to_regclass(quote_ident(part)) IS NULL THEN
                EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)',
                               part, parent);
                EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', parent, part,
                               to_char(day, 'YYYY-MM-DD') || ' 00:00:00+00',
                               to_char(day + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
                created := created + 1;
            END IF;
            day := day + 1;
        END LOOP;
    END LOOP;
    RETURN created;
END;
$$;
COMMENT ON FUNCTION ensure_partitions(int, int) IS 'Create missing daily partitions (no-op under TimescaleDB).';
