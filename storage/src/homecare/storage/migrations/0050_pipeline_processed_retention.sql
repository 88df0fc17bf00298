-- Housekeeping deletes the pipeline's records of events that touched no incident after the raw retention period:
-- find them by age without reading the whole table.
CREATE INDEX pipeline_processed_unlinked_idx ON pipeline_processed (processed_at) WHERE incident_id IS NULL;
