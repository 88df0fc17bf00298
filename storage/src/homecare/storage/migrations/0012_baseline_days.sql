-- The personal baseline's daily features, computed once per resident and local day from the minute rollups
-- (which are kept for 30 days only) so that each night reads one day of minutes, not the whole history.

CREATE TABLE resident_baseline_days (
    resident_id int NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    day         date NOT NULL,
    worn_hours  double precision NOT NULL CHECK (worn_hours >= 0 AND worn_hours <= 25),
    features    double precision[] NOT NULL,
    PRIMARY KEY (resident_id, day)
);
COMMENT ON TABLE resident_baseline_days IS 'Daily features of the personal baseline per resident and local day '
    '(homecare.backend.detection.baseline.FEATURES, NaN where the wristband gave nothing to read one from) '
    'and the hours the wristband was worn; kept as long as the longest history a baseline may use.';
