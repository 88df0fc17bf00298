-- The personal baseline's verdict as a code with parameters, for the pages to word in the reader's language.

ALTER TABLE resident_baselines ADD COLUMN deviations jsonb
    CHECK (deviations IS NULL OR jsonb_typeof(deviations) = 'object');
COMMENT ON COLUMN resident_baselines.deviations IS 'Why the evaluated day was unusual: {"overall": bool, "deviations": '
    '[{"feature", "value", "usual", "spread", "days"}]} (feature: homecare.backend.detection.baseline.FEATURES; '
    'days: how many days in a row it has lasted); NULL unless the verdict is unusual.';
