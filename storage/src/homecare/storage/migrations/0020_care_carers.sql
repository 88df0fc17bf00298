-- Carers (上门服务人员) deliver the booked home services: staff of a station like visitors, each with a code they type
-- at the home unit. A booked visit is assigned to a carer; its check-in and check-out are proven by the home unit
-- (a carer_present event) and by the carer's phone near the home, and the check-out records the service's task
-- checklist, notes and the outcome.

ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('admin', 'supervisor', 'operator', 'responder', 'visitor', 'carer', 'family'));
ALTER TABLE users DROP CONSTRAINT users_station_check;
ALTER TABLE users ADD CONSTRAINT users_station_check
    CHECK (role NOT IN ('responder', 'visitor', 'carer') OR station_id IS NOT NULL);

CREATE TABLE care_carer_codes (
    user_id   int PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    code      text NOT NULL UNIQUE CHECK (code ~ '^[0-9]{6}$'),
    issued_at timestamptz NOT NULL,
    issued_by text NOT NULL
);
COMMENT ON TABLE care_carer_codes IS 'The code each carer types at a home unit (a carer_present event carries it); '
    'issuing a new one replaces the old.';

ALTER TABLE events ADD COLUMN carer_code text;
COMMENT ON COLUMN events.carer_code IS 'For carer_present: the code typed at the home unit.';

ALTER TABLE care_services ADD COLUMN tasks text[] NOT NULL DEFAULT '{}'
    CHECK (cardinality(tasks) <= 20 AND array_position(tasks, NULL) IS NULL);
COMMENT ON COLUMN care_services.tasks IS 'The checklist a carer ticks at check-out, in order.';

ALTER TABLE care_bookings ADD COLUMN carer_id int REFERENCES users (id);
CREATE INDEX care_bookings_carer_idx ON care_bookings (carer_id, starts_at) WHERE status = 'booked';
COMMENT ON COLUMN care_bookings.carer_id IS 'The carer who delivers the visit; NULL until the station assigns one.';

CREATE TABLE care_service_visits (
    booking_id         bigint PRIMARY KEY REFERENCES care_bookings (id),
    carer_id           int NOT NULL REFERENCES users (id),
    checked_in_at      timestamptz NOT NULL,
    home_unit_in_at    timestamptz,
    home_unit_in_event bigint REFERENCES events (id),
    phone_in_at        timestamptz,
    phone_in_m         real CHECK (phone_in_m >= 0),
    home_unit_out_at   timestamptz,
    phone_out_m        real CHECK (phone_out_m >= 0),
    checked_out_at     timestamptz CHECK (checked_out_at >= checked_in_at),
    outcome            text CHECK (outcome IN ('completed', 'not_home', 'unwell')),
    checklist          jsonb,
    note               text CHECK (length(note) BETWEEN 1 AND 2000),
    incident_id        bigint REFERENCES incidents (id),
    CHECK (checked_in_at = LEAST(home_unit_in_at, phone_in_at)),
    CHECK ((checked_out_at IS NULL) = (outcome IS NULL)),
    CHECK ((phone_in_at IS NULL) = (phone_in_m IS NULL))
);
COMMENT ON TABLE care_service_visits IS 'A booked visit as delivered: checked in at the first proof (the home unit''s '
    'carer_present, or the phone within the set distance of the home, metres kept), checked out by the phone with '
    'the checklist (task → done), notes and the outcome; not_home and unwell open an incident.';
