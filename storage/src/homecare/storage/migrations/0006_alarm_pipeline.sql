-- The alarm pipeline: what it has processed, its durable timers, escalation state, and a command outbox.

-- Which stored events and IMU bursts the pipeline has applied: the key that makes re-processing a no-op,
-- and (incident_id) the link from a device event to the incident it opened or folded into.
CREATE TABLE pipeline_processed (
    source       text NOT NULL CHECK (source IN ('event', 'imu_burst')),
    item_id      bigint NOT NULL,
    incident_id  bigint REFERENCES incidents (id),
    outcome      text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, item_id)
);
CREATE INDEX pipeline_processed_incident_idx ON pipeline_processed (incident_id) WHERE incident_id IS NOT NULL;
COMMENT ON TABLE pipeline_processed IS 'Events and bursts the alarm pipeline has applied, each once; outcome says what it did.';

-- Low-water marks: everything at or below last_id is processed. Rows above it may commit out of id order
-- (several gateways), so the pipeline re-scans a window above the mark against pipeline_processed.
CREATE TABLE pipeline_cursors (
    name    text PRIMARY KEY,
    last_id bigint NOT NULL DEFAULT 0
);
INSERT INTO pipeline_cursors (name) VALUES ('events'), ('imu_bursts');

-- Durable timers: a recovery countdown, an acknowledgement deadline, a station's time to accept.
CREATE TABLE incident_timers (
    id           bigserial PRIMARY KEY,
    incident_id  bigint NOT NULL REFERENCES incidents (id),
    kind         text NOT NULL CHECK (kind IN ('recovery', 'acknowledge', 'station_accept')),
    due_at       timestamptz NOT NULL,
    step         int NOT NULL DEFAULT 0,
    task_id      bigint REFERENCES station_tasks (id),
    created_at   timestamptz NOT NULL,
    fired_at     timestamptz,
    cancelled_at timestamptz
);
CREATE INDEX incident_timers_due_idx ON incident_timers (due_at) WHERE fired_at IS NULL AND cancelled_at IS NULL;
CREATE INDEX incident_timers_incident_idx ON incident_timers (incident_id);
COMMENT ON TABLE incident_timers IS 'Escalation timers in the database, so a backend restart loses none; fired or cancelled exactly once.';

ALTER TABLE incidents
    ADD COLUMN escalation_level int NOT NULL DEFAULT 0,
    ADD COLUMN policy text;
COMMENT ON COLUMN incidents.escalation_level IS 'How many times the unacknowledged incident has been escalated.';
COMMENT ON COLUMN incidents.policy IS 'Name of the escalation policy that governs the incident.';

ALTER TABLE residents ADD COLUMN fall_recovery_window_s int CHECK (fall_recovery_window_s BETWEEN 30 AND 60);
COMMENT ON COLUMN residents.fall_recovery_window_s IS 'Seconds a device-detected fall waits for "I''m OK"; NULL: the policy default.';

-- Downlink commands (help is coming) written with the incident change that causes them and sent by
-- the pipeline after commit: a crash between the two re-sends rather than loses the message.
CREATE TABLE device_commands (
    id          bigserial PRIMARY KEY,
    device_id   int NOT NULL REFERENCES devices (id),
    incident_id bigint REFERENCES incidents (id),
    body        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);
CREATE INDEX device_commands_unsent_idx ON device_commands (id) WHERE sent_at IS NULL;
CREATE FUNCTION device_commands_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('homecare_device_commands', NEW.id::text);
    RETURN NEW;
END;
$$;
CREATE TRIGGER device_commands_notify AFTER INSERT ON device_commands
    FOR EACH ROW EXECUTE FUNCTION device_commands_notify();
