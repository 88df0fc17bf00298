-- The FHIR interface serves each home health check (homecare.contracts.messages.Metric 10–16: blood pressure and
-- glucose) as an Observation of its own, read from raw telemetry by resident. They are a reading or two a day
-- among a wearable's reading a minute, so a partial index finds them without reading the whole table.
CREATE INDEX telemetry_health_checks_idx ON telemetry (resident_id, ts) WHERE metric BETWEEN 10 AND 16;
