-- Core tables: residents, devices and everything the gateway stores except the telemetry time series.
-- All times are timestamptz (stored as UTC instants).

CREATE TABLE residents (
    id           serial PRIMARY KEY,
    display_name text NOT NULL,
    timezone     text NOT NULL DEFAULT 'Asia/Shanghai',
    created_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE residents IS 'People cared for at home; later migrations add their details.';

CREATE TABLE devices (
    id                   serial PRIMARY KEY,
    uid                  text NOT NULL UNIQUE,
    -- The values of homecare.contracts.messages.DeviceKind (a test keeps the two equal).
    kind                 text NOT NULL CHECK (kind IN ('wristband', 'sos_pendant', 'fall_sensor', 'door_sensor',
                                                      'bed_sensor', 'motion_sensor', 'home_unit',
                                                      'smoke_sensor', 'water_sensor')),
    resident_id          int REFERENCES residents (id),
    secret_hash          text,
    enrolled_at          timestamptz NOT NULL DEFAULT now(),
    revoked_at           timestamptz,
    heartbeat_interval_s int NOT NULL DEFAULT 300
);
CREATE INDEX devices_resident_id_idx ON devices (resident_id) WHERE resident_id IS NOT NULL;
COMMENT ON TABLE devices IS 'Enrolled devices; uid is the MQTT client id. Changes are announced on channel homecare_devices.';

-- Gateways cache the device table and refresh it when told (payload: the device uid).
CREATE FUNCTION devices_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('homecare_devices', OLD.uid);
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.uid IS DISTINCT FROM NEW.uid THEN
        PERFORM pg_notify('homecare_devices', OLD.uid);
    END IF;
    PERFORM pg_notify('homecare_devices', NEW.uid);
    RETURN NEW;
END;
$$;
CREATE TRIGGER devices_notify AFTER INSERT OR UPDATE OR DELETE ON devices
    FOR EACH ROW EXECUTE FUNCTION devices_notify();

CREATE TABLE events (
    id          bigserial PRIMARY KEY,
    device_id   int NOT NULL REFERENCES devices (id),
    resident_id int,
    seq         bigint NOT NULL,
    ts          timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    kind        text NOT NULL,
    priority    smallint NOT NULL,
    room        text,
    confidence  real,
    cancels_seq bigint,
    UNIQUE (device_id, seq)
);
CREATE INDEX events_resident_ts_idx ON events (resident_id, ts);
COMMENT ON TABLE events IS 'Device events (alarms and informational), stored before the device is acknowledged.';

CREATE TABLE imu_bursts (
    id                bigserial PRIMARY KEY,
    device_id         int NOT NULL REFERENCES devices (id),
    resident_id       int,
    seq               bigint NOT NULL,
    event_seq         bigint NOT NULL,
    ts                timestamptz NOT NULL,
    t0                timestamptz NOT NULL,
    fs                real NOT NULL,
    acc_full_scale_mg int NOT NULL,
    acc               bytea NOT NULL,
    gyr               bytea,
    received_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (device_id, seq)
);
CREATE INDEX imu_bursts_event_idx ON imu_bursts (device_id, event_seq);
COMMENT ON TABLE imu_bursts IS 'Raw IMU samples around a suspected fall; acc/gyr are little-endian int16 n×3 (milli-g, 0.1 deg/s).';

CREATE TABLE heartbeats (
    ts                   timestamptz NOT NULL,
    device_id            int NOT NULL,
    seq                  bigint NOT NULL,
    battery              smallint NOT NULL,
    charging             boolean NOT NULL,
    rssi                 smallint,
    firmware             text NOT NULL,
    uptime_s             bigint NOT NULL,
    heartbeat_interval_s int NOT NULL,
    received_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, ts, seq)
);
-- Rows arrive roughly in time order: a BRIN index serves retention deletes for almost nothing.
CREATE INDEX heartbeats_ts_brin ON heartbeats USING brin (ts);
COMMENT ON TABLE heartbeats IS 'Device health reports; kept for raw_retention_days.';

CREATE TABLE device_state (
    device_id         int PRIMARY KEY REFERENCES devices (id),
    online            boolean NOT NULL DEFAULT false,
    online_changed_at timestamptz,
    last_seen_at      timestamptz,
    battery           smallint,
    charging          boolean,
    rssi              smallint,
    firmware          text,
    last_heartbeat_at timestamptz
);
COMMENT ON TABLE device_state IS 'Latest known state of each device, maintained by the gateway.';

CREATE TABLE dead_letters (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    topic       text NOT NULL,
    device_uid  text,
    reason      text NOT NULL,
    payload     bytea NOT NULL
);
CREATE INDEX dead_letters_received_at_idx ON dead_letters (received_at);
COMMENT ON TABLE dead_letters IS 'Messages the platform refused, kept whole with the reason; kept for raw_retention_days.';

CREATE TABLE access_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    resident_id int,
    action      text NOT NULL,
    detail      jsonb
);
CREATE INDEX access_log_resident_at_idx ON access_log (resident_id, at);
COMMENT ON TABLE access_log IS 'Append-only audit trail: every read of a resident''s record, by whom, when.';

CREATE TABLE rollup_dirty (
    resident_id int NOT NULL,
    hour        timestamptz NOT NULL,
    PRIMARY KEY (resident_id, hour)
);
COMMENT ON TABLE rollup_dirty IS 'Hours (UTC) that received telemetry later than the rollup late window; '
    'the maintenance loop recomputes them (plain mode) or just clears them (TimescaleDB recomputes on its own).';
