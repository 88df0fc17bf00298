-- A schedule may set its own confirmation windows (a time-critical medicine wants a shorter one; the simulator's
-- fast play scales them with its speed); NULL keeps the platform's HOMECARE_DOSE_CONFIRM_WINDOW_MIN and
-- HOMECARE_DOSE_STATION_AFTER_MIN.
ALTER TABLE medication_schedules
    ADD COLUMN confirm_window_min smallint CHECK (confirm_window_min BETWEEN 1 AND 720),
    ADD COLUMN station_after_min smallint CHECK (station_after_min BETWEEN 1 AND 720);
COMMENT ON COLUMN medication_schedules.confirm_window_min IS 'Minutes after a dose is due before the family is told '
    'it was not confirmed; NULL: the platform setting.';
COMMENT ON COLUMN medication_schedules.station_after_min IS 'Minutes after the family was told before a missed_dose '
    'incident opens; NULL: the platform setting.';
