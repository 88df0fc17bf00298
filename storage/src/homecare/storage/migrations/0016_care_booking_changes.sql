-- Recurring bookings (a meal every weekday) share a series, and a booking moved to another time keeps why and by whom.

ALTER TABLE care_bookings ADD COLUMN series_id bigint REFERENCES care_bookings (id);
CREATE INDEX care_bookings_series_idx ON care_bookings (series_id) WHERE series_id IS NOT NULL;
COMMENT ON COLUMN care_bookings.series_id IS 'The first booking of the recurring series this one belongs to; NULL for a one-off.';

CREATE TABLE care_booking_changes (
    id          bigserial PRIMARY KEY,
    booking_id  bigint NOT NULL REFERENCES care_bookings (id),
    changed_at  timestamptz NOT NULL,
    changed_by  text NOT NULL,
    from_starts timestamptz NOT NULL,
    to_starts   timestamptz NOT NULL,
    reason      text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500)
);
CREATE INDEX care_booking_changes_booking_idx ON care_booking_changes (booking_id, changed_at);
COMMENT ON TABLE care_booking_changes IS 'Every move of a booking to another time, with the reason.';
