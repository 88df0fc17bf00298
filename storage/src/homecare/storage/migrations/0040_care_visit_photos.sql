-- A photo at check-out where the service needs one (a meal on the table, a bathroom cleaned): taken on the carer's
-- phone, kept small, and shown to the station that provided the visit.

ALTER TABLE care_services ADD COLUMN photo_required boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN care_services.photo_required IS 'A visit of this service done is checked out with a photo.';

CREATE TABLE care_visit_photos (
    booking_id   bigint PRIMARY KEY REFERENCES care_service_visits (booking_id),
    content_type text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    image        bytea NOT NULL CHECK (octet_length(image) BETWEEN 1 AND 1048576),
    taken_at     timestamptz NOT NULL,
    taken_by     text NOT NULL
);
COMMENT ON TABLE care_visit_photos IS 'The carer''s photo of a visit (at most 1 MiB; a new one replaces it until '
    'check-out).';
