-- Where residents live, who to call, and the community service stations that send responders.

CREATE TABLE stations (
    id         serial PRIMARY KEY,
    code       text NOT NULL UNIQUE,
    name       text NOT NULL,
    address    text NOT NULL,
    phone      text,
    lat        double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon        double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    capacity   int NOT NULL DEFAULT 3 CHECK (capacity >= 0),
    opens      time NOT NULL DEFAULT '08:00',
    closes     time NOT NULL DEFAULT '20:00',
    timezone   text NOT NULL DEFAULT 'Asia/Shanghai',
    on_duty    boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE stations IS 'Community elderly-care service stations (社区居家养老服务站). opens/closes are local times in timezone; capacity is how many tasks it can run at once; on_duty is the manual switch.';

ALTER TABLE residents
    ADD COLUMN birth_year   int CHECK (birth_year BETWEEN 1900 AND 2100),
    ADD COLUMN sex          text CHECK (sex IN ('female', 'male')),
    ADD COLUMN phone        text,
    ADD COLUMN address      text,
    ADD COLUMN lat          double precision CHECK (lat BETWEEN -90 AND 90),
    ADD COLUMN lon          double precision CHECK (lon BETWEEN -180 AND 180),
    ADD COLUMN station_id   int REFERENCES stations (id),
    ADD COLUMN vulnerable   boolean NOT NULL DEFAULT false,
    ADD COLUMN access_notes text;
COMMENT ON COLUMN residents.lat IS 'Home position, WGS-84.';
COMMENT ON COLUMN residents.station_id IS 'The community service station the home belongs to.';
COMMENT ON COLUMN residents.vulnerable IS 'Flagged for the monthly welfare visit the city plans require.';
COMMENT ON COLUMN residents.access_notes IS 'How to get in: key safe, neighbour with a key, door code.';

CREATE TABLE resident_contacts (
    id          serial PRIMARY KEY,
    resident_id int NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    call_order  smallint NOT NULL CHECK (call_order >= 1),
    name        text NOT NULL,
    relation    text,
    phone       text,
    email       text,
    notify      boolean NOT NULL DEFAULT true,
    UNIQUE (resident_id, call_order)
);
COMMENT ON TABLE resident_contacts IS 'Family and neighbours to call, in order; notify: send them alarm messages.';
