-- Carer non-arrival: a booked visit not checked in a set time after its start alerts the station and the operators
-- (an incident of cause carer_non_arrival), once per visit.

ALTER TABLE care_bookings
    ADD COLUMN non_arrival_at timestamptz,
    ADD COLUMN non_arrival_incident_id bigint REFERENCES incidents (id);
CREATE INDEX care_bookings_unstarted_idx ON care_bookings (starts_at) WHERE status = 'booked' AND non_arrival_at IS NULL;
COMMENT ON COLUMN care_bookings.non_arrival_at IS 'When the visit, not checked in in time, raised the non-arrival alert.';
COMMENT ON COLUMN care_bookings.non_arrival_incident_id IS 'The incident the non-arrival alert opened or folded into.';
