-- Detection: per-resident overrides of the detectors' settings, the conditions they currently see,
-- and each resident's fitted personal baseline kept as plain numbers (no pickles).

CREATE TABLE detection_settings (
    resident_id int PRIMARY KEY REFERENCES residents (id) ON DELETE CASCADE,
    overrides   jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(overrides) = 'object'),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text
);
COMMENT ON TABLE detection_settings IS 'Per-resident overrides of the detector settings '
    '(homecare.backend.detection.config.DetectionSettings, e.g. {"vitals": {"spo2_low": 83}, '
    '"priorities": {"inactivity": 3}}); anything absent takes the default in code.';

CREATE TABLE detection_conditions (
    resident_id  int NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    cause        text NOT NULL,
    since        timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    PRIMARY KEY (resident_id, cause)
);
COMMENT ON TABLE detection_conditions IS 'Conditions the periodic detectors found and have not yet seen end: '
    'a row exists while the detector keeps raising alarms; its removal is the CLEAR signal.';

CREATE TABLE resident_baselines (
    resident_id        int PRIMARY KEY REFERENCES residents (id) ON DELETE CASCADE,
    fitted_at          timestamptz NOT NULL,
    fitted_through     date NOT NULL,
    days               int NOT NULL CHECK (days >= 0),
    features           text[] NOT NULL,
    median             double precision[] NOT NULL,
    mad                double precision[] NOT NULL,
    envelope_location  double precision[],
    envelope_precision double precision[],
    envelope_offset    double precision,
    evaluated_day      date,
    verdict            text CHECK (verdict IN ('usual', 'unusual', 'unknown')),
    finding_en         text,
    finding_zh         text
);
COMMENT ON TABLE resident_baselines IS 'Personal baseline per resident over daily features (local days): median and '
    'MAD per feature, and a robust covariance envelope (location, row-major precision matrix, decision offset) '
    'over the robust z-scores; fitted_through is the last local day in the fit, evaluated_day the last day '
    'judged against it, verdict what was found (unknown: too little data that day) and finding_* why.';

CREATE TABLE activity_rhythms (
    resident_id int PRIMARY KEY REFERENCES residents (id) ON DELETE CASCADE,
    learnt_on   date NOT NULL,
    up_by       time NOT NULL,
    days        int NOT NULL CHECK (days >= 0)
);
COMMENT ON TABLE activity_rhythms IS 'When each resident is usually up by, learnt once per local day (learnt_on) from '
    'the first movement of each of the last days (days: how many; 0 means the default or a fixed setting).';
