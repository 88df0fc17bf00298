-- Medication: each resident's schedules, every dose as it comes due (reminded, confirmed, escalated), the
-- dose_taken events that confirm them, and pill dispensers as a device kind.

SELECT allow_device_kinds('pill_dispenser');

CREATE TABLE medication_schedules (
    id          serial PRIMARY KEY,
    resident_id int NOT NULL REFERENCES residents (id),
    medicine    text NOT NULL CHECK (length(medicine) BETWEEN 1 AND 100),
    dose        text NOT NULL CHECK (length(dose) BETWEEN 1 AND 60),
    times       time[] NOT NULL CHECK (cardinality(times) BETWEEN 1 AND 12),
    with_food   boolean,
    starts_on   date NOT NULL,
    ends_on     date CHECK (ends_on >= starts_on),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    stopped_at  timestamptz
);
CREATE INDEX medication_schedules_resident_idx ON medication_schedules (resident_id);
COMMENT ON TABLE medication_schedules IS 'What a resident takes, how much, at which local times of day (the resident''s '
    'zone), with food (true), without (false) or either (NULL), from starts_on to ends_on; stopped_at ends it early.';

CREATE TABLE medication_doses (
    id                 bigserial PRIMARY KEY,
    schedule_id        int NOT NULL REFERENCES medication_schedules (id),
    resident_id        int NOT NULL REFERENCES residents (id),
    due_at             timestamptz NOT NULL,
    reminded_at        timestamptz,
    home_units         int NOT NULL DEFAULT 0,
    confirmed_at       timestamptz,
    confirmed_event_id bigint REFERENCES events (id),
    confirmed_by       text CHECK (confirmed_by IN ('home_unit', 'pill_dispenser')),
    family_told_at     timestamptz,
    family_told        int,
    station_told_at    timestamptz,
    incident_id        bigint REFERENCES incidents (id),
    UNIQUE (schedule_id, due_at)
);
CREATE INDEX medication_doses_resident_due_idx ON medication_doses (resident_id, due_at);
CREATE INDEX medication_doses_open_idx ON medication_doses (due_at) WHERE confirmed_at IS NULL;
COMMENT ON TABLE medication_doses IS 'One row per dose as it came due (or was confirmed early): when the home units were reminded (how many), '
    'when and by what it was confirmed taken, and, unconfirmed, when the family (how many addresses) and then the '
    'station (the incident) were told.';

ALTER TABLE events ADD COLUMN schedule_id int, ADD COLUMN dose_due timestamptz;
COMMENT ON COLUMN events.schedule_id IS 'For dose_taken: the medication schedule of the dose (checked by the gateway).';
COMMENT ON COLUMN events.dose_due IS 'For dose_taken: when the dose was due.';

-- A family message about a missed dose belongs to the dose, not to an incident (there is none yet).
ALTER TABLE notification_outbox ALTER COLUMN incident_id DROP NOT NULL,
    ADD COLUMN dose_id bigint REFERENCES medication_doses (id),
    ADD CONSTRAINT notification_outbox_about CHECK (incident_id IS NOT NULL OR dose_id IS NOT NULL);
