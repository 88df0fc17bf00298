-- Home services: each station's catalogue (助餐 meals, 助浴 bathing, 助洁 cleaning, 助医 escort to the doctor, 上门护理
-- nursing, 康复 rehabilitation) with duration, price, capacity and the area served, the subsidy each eligibility earns,
-- and bookings with the price, subsidy and co-payment fixed when booked.

CREATE TABLE care_services (
    id           serial PRIMARY KEY,
    station_id   int NOT NULL REFERENCES stations (id),
    kind         text NOT NULL CHECK (kind IN ('meal', 'bathing', 'cleaning', 'escort', 'nursing', 'rehabilitation')),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    duration_min smallint NOT NULL CHECK (duration_min BETWEEN 5 AND 480),
    price_yuan   numeric(10, 2) NOT NULL CHECK (price_yuan >= 0),
    capacity     smallint NOT NULL CHECK (capacity BETWEEN 1 AND 1000),
    radius_km    numeric(6, 2) NOT NULL CHECK (radius_km > 0),
    active       boolean NOT NULL DEFAULT true,
    UNIQUE (station_id, kind, name)
);
COMMENT ON TABLE care_services IS 'A station''s service catalogue: capacity is how many bookings of the service may run at '
    'once; homes within radius_km (straight line) of the station are served.';

CREATE TABLE care_service_subsidies (
    service_id      int NOT NULL REFERENCES care_services (id) ON DELETE CASCADE,
    level           smallint NOT NULL CHECK (level BETWEEN 0 AND 4),
    economic_status text CHECK (economic_status IN ('extreme_poverty', 'subsistence', 'low_income')),
    yuan            numeric(10, 2) NOT NULL CHECK (yuan >= 0),
    UNIQUE NULLS NOT DISTINCT (service_id, level, economic_status)
);
COMMENT ON TABLE care_service_subsidies IS 'What a booking of the service is subsidised by, per assessed level (and economic '
    'status: the rule of the resident''s own status wins over the one for all); never more than the price.';

CREATE TABLE care_bookings (
    id            bigserial PRIMARY KEY,
    resident_id   int NOT NULL REFERENCES residents (id),
    service_id    int NOT NULL REFERENCES care_services (id),
    starts_at     timestamptz NOT NULL,
    ends_at       timestamptz NOT NULL CHECK (ends_at > starts_at),
    status        text NOT NULL DEFAULT 'booked' CHECK (status IN ('booked', 'cancelled')),
    channel       text NOT NULL CHECK (channel IN ('family', 'hotline', 'station')),
    price_yuan    numeric(10, 2) NOT NULL,
    subsidy_yuan  numeric(10, 2) NOT NULL CHECK (subsidy_yuan BETWEEN 0 AND price_yuan),
    copay_yuan    numeric(10, 2) NOT NULL CHECK (copay_yuan = price_yuan - subsidy_yuan),
    booked_by     text NOT NULL,
    booked_at     timestamptz NOT NULL DEFAULT now(),
    cancelled_at  timestamptz,
    cancelled_by  text,
    cancel_reason text CHECK (length(cancel_reason) BETWEEN 1 AND 500),
    CHECK ((status = 'cancelled') = (cancel_reason IS NOT NULL AND cancelled_at IS NOT NULL))
);
CREATE INDEX care_bookings_resident_idx ON care_bookings (resident_id, starts_at) WHERE status = 'booked';
CREATE INDEX care_bookings_service_idx ON care_bookings (service_id, starts_at) WHERE status = 'booked';
COMMENT ON TABLE care_bookings IS 'Services booked for a resident by family, the hotline or the station; a cancelled '
    'booking keeps who cancelled it and why.';
