-- Incidents and their lifecycle, station tasks, the live change feed, welfare visits.

CREATE TABLE incidents (
    id                bigserial PRIMARY KEY,
    resident_id       int NOT NULL REFERENCES residents (id),
    cause             text NOT NULL,
    priority          smallint NOT NULL CHECK (priority BETWEEN 1 AND 5),
    status            text NOT NULL CHECK (status IN ('pre_alarm', 'open', 'acknowledged', 'in_call', 'dispatched',
                                                      'on_scene', 'resolved', 'cancelled')),
    explanation_en    text NOT NULL,
    explanation_zh    text NOT NULL,
    opened_at         timestamptz NOT NULL,
    alarm_at          timestamptz,
    recovery_deadline timestamptz,
    acknowledged_at   timestamptz,
    acknowledged_by   text,
    dispatched_at     timestamptz,
    on_scene_at       timestamptz,
    closed_at         timestamptz,
    outcome           text CHECK (outcome IN ('false_alarm', 'no_injury', 'treated_at_home', 'ambulance',
                                              'hospital', 'deceased', 'cancelled_by_resident')),
    station_id        int REFERENCES stations (id),
    last_seen_at      timestamptz NOT NULL,
    repeat_count      int NOT NULL DEFAULT 1,
    device_id         int REFERENCES devices (id),
    event_id          bigint REFERENCES events (id)
);
-- One open incident per resident and cause: repeats fold into it.
CREATE UNIQUE INDEX incidents_one_open_per_cause ON incidents (resident_id, cause)
    WHERE status NOT IN ('resolved', 'cancelled');
CREATE INDEX incidents_queue_idx ON incidents (priority, opened_at) WHERE status NOT IN ('resolved', 'cancelled');
CREATE INDEX incidents_resident_idx ON incidents (resident_id, opened_at);
COMMENT ON COLUMN incidents.alarm_at IS 'When it reached the operators as an alarm (after any pre-alarm): the start of time-to-acknowledge.';

CREATE TABLE incident_transitions (
    id          bigserial PRIMARY KEY,
    incident_id bigint NOT NULL REFERENCES incidents (id),
    at          timestamptz NOT NULL,
    from_status text,
    to_status   text NOT NULL,
    actor       text NOT NULL,
    reason      text,
    detail      jsonb
);
CREATE INDEX incident_transitions_incident_idx ON incident_transitions (incident_id, id);
COMMENT ON TABLE incident_transitions IS 'Every lifecycle step: who (a user, a station, "system", "device"), when and why. Append-only.';

CREATE TABLE station_tasks (
    id           bigserial PRIMARY KEY,
    incident_id  bigint NOT NULL REFERENCES incidents (id),
    station_id   int NOT NULL REFERENCES stations (id),
    status       text NOT NULL CHECK (status IN ('offered', 'accepted', 'declined', 'timed_out', 'en_route',
                                                 'on_scene', 'done', 'withdrawn')),
    travel_min   real,
    offered_at   timestamptz NOT NULL,
    accepted_at  timestamptz,
    on_scene_at  timestamptz,
    closed_at    timestamptz,
    responder    text,
    note         text
);
CREATE INDEX station_tasks_station_idx ON station_tasks (station_id, status);
CREATE INDEX station_tasks_incident_idx ON station_tasks (incident_id);

-- The live feed: every change to an incident, in order; a client resumes from the last id it saw.
CREATE TABLE incident_changes (
    id          bigserial PRIMARY KEY,
    incident_id bigint NOT NULL REFERENCES incidents (id),
    at          timestamptz NOT NULL DEFAULT now(),
    change      text NOT NULL,
    snapshot    jsonb NOT NULL
);
CREATE FUNCTION incident_changes_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('homecare_incident_changes', NEW.id::text);
    RETURN NEW;
END;
$$;
CREATE TRIGGER incident_changes_notify AFTER INSERT ON incident_changes
    FOR EACH ROW EXECUTE FUNCTION incident_changes_notify();

-- The gateway's stored events wake the alarm pipeline at once (it also catches up from a cursor).
CREATE FUNCTION events_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('homecare_events', NEW.id::text);
    RETURN NEW;
END;
$$;
CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION events_notify();
CREATE FUNCTION imu_bursts_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('homecare_imu_bursts', NEW.id::text);
    RETURN NEW;
END;
$$;
CREATE TRIGGER imu_bursts_notify AFTER INSERT ON imu_bursts FOR EACH ROW EXECUTE FUNCTION imu_bursts_notify();

CREATE TABLE welfare_visits (
    id          bigserial PRIMARY KEY,
    resident_id int NOT NULL REFERENCES residents (id),
    visited_at  timestamptz NOT NULL,
    station_id  int REFERENCES stations (id),
    visitor     text NOT NULL,
    note        text
);
CREATE INDEX welfare_visits_resident_idx ON welfare_visits (resident_id, visited_at);
COMMENT ON TABLE welfare_visits IS 'Home visits to residents; the city plans require a monthly visit to each vulnerable elder.';
