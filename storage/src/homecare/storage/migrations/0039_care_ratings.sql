-- Service quality from the people served: a rating (1–5 stars, an optional comment) of a checked-out visit by each
-- family member and by the resident (recorded by the call centre or the providing station), once per rater, and
-- complaints with a reason category, which the providing station sees.

CREATE TABLE care_visit_ratings (
    id           bigserial PRIMARY KEY,
    booking_id   bigint NOT NULL REFERENCES care_service_visits (booking_id),
    rater        text NOT NULL CHECK (rater IN ('family', 'resident')),
    family_user  int REFERENCES users (id),
    stars        smallint NOT NULL CHECK (stars BETWEEN 1 AND 5),
    comment      text CHECK (length(comment) BETWEEN 1 AND 1000),
    rated_at     timestamptz NOT NULL,
    recorded_by  text NOT NULL,
    CHECK ((rater = 'family') = (family_user IS NOT NULL)),
    UNIQUE NULLS NOT DISTINCT (booking_id, rater, family_user)
);
COMMENT ON TABLE care_visit_ratings IS 'One rating per checked-out visit and rater: each linked family member, and the '
    'resident (whose rating staff record, recorded_by naming who typed it).';

CREATE TABLE care_complaints (
    id           bigserial PRIMARY KEY,
    booking_id   bigint NOT NULL REFERENCES care_bookings (id),
    raised_by    text NOT NULL CHECK (raised_by IN ('family', 'resident')),
    family_user  int REFERENCES users (id),
    category     text NOT NULL CHECK (category IN ('late', 'missed', 'incomplete', 'attitude', 'safety', 'charge',
                                                    'other')),
    text         text NOT NULL CHECK (length(text) BETWEEN 1 AND 2000),
    raised_at    timestamptz NOT NULL,
    recorded_by  text NOT NULL,
    CHECK ((raised_by = 'family') = (family_user IS NOT NULL))
);
CREATE INDEX care_complaints_booking_idx ON care_complaints (booking_id);
CREATE INDEX care_complaints_raised_idx ON care_complaints (raised_at);
COMMENT ON TABLE care_complaints IS 'Complaints about a booked visit (late, missed, tasks left undone, attitude, '
    'safety, the charge, other) from family or the resident, shown to the station that provided it.';
