-- The GPS watch: its position fixes, the residents' safe zones, family consent to see a location during an alarm,
-- and how long raw fixes are kept (an administrator's setting).

SELECT allow_device_kinds('gps_watch');

CREATE TABLE location_fixes (
    id          bigserial PRIMARY KEY,
    device_id   int NOT NULL REFERENCES devices (id),
    resident_id int,
    seq         bigint NOT NULL,
    ts          timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    lat         double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon         double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    accuracy_m  real NOT NULL CHECK (accuracy_m > 0),
    source      text NOT NULL CHECK (source IN ('gnss', 'wifi', 'cell')),
    moving      boolean NOT NULL DEFAULT false,
    UNIQUE (device_id, seq)
);
CREATE INDEX location_fixes_resident_ts_idx ON location_fixes (resident_id, ts);
CREATE INDEX location_fixes_ts_idx ON location_fixes (ts);
COMMENT ON TABLE location_fixes IS 'Raw position fixes of GPS watches (a location message, or the fix an sos or '
    'fall_detected event carried), WGS-84; deleted after location_policy.retention_days.';

CREATE TABLE location_policy (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    retention_days int NOT NULL CHECK (retention_days BETWEEN 1 AND 365),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    updated_by     text NOT NULL
);
COMMENT ON TABLE location_policy IS 'How long raw location fixes are kept, set by an administrator.';
INSERT INTO location_policy (retention_days, updated_by) VALUES (30, 'migration');

CREATE TABLE safe_zones (
    id           serial PRIMARY KEY,
    resident_id  int NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    center_lat   double precision CHECK (center_lat BETWEEN -90 AND 90),
    center_lon   double precision CHECK (center_lon BETWEEN -180 AND 180),
    radius_m     real CHECK (radius_m > 0),
    polygon      jsonb,
    active_from  time,
    active_until time,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text NOT NULL,
    CHECK ((polygon IS NULL) = (radius_m IS NOT NULL AND center_lat IS NOT NULL AND center_lon IS NOT NULL)),
    CHECK ((active_from IS NULL) = (active_until IS NULL))
);
CREATE INDEX safe_zones_resident_idx ON safe_zones (resident_id);
COMMENT ON TABLE safe_zones IS 'Where a resident with a GPS watch may be: a circle or a polygon ([[lat, lon], ...]); '
    'with active_from/active_until (the resident''s local time, may wrap midnight) only then, else always. Outside '
    'every zone that applies is a left_safe_zone alarm.';

ALTER TABLE family_links ADD COLUMN share_location boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN family_links.share_location IS 'The resident consented to this family member seeing their '
    'location, and then only while an alarm of theirs is open.';
