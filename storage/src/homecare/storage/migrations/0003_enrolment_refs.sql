-- A stable reference for each resident from the enrolling organisation's own records, so that
-- re-running an import (a CSV file, the simulator) updates residents instead of duplicating them.
ALTER TABLE residents ADD COLUMN external_ref text UNIQUE;
COMMENT ON COLUMN residents.external_ref IS 'The resident''s reference in the enrolling organisation''s records.';
