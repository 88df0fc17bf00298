-- Home health checks: blood-pressure monitors and glucose meters are enrolled like every other device. Their
-- readings are telemetry metrics (homecare.contracts.messages.Metric 10–16), so they need no table of their own.

-- Adds device kinds to the devices.kind CHECK, keeping every kind it already allows: migrations that add kinds
-- may be written side by side, and none of them must drop another's kind.
CREATE FUNCTION allow_device_kinds(VARIADIC added text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    name    text;
    kinds   text[];
    allowed text;
BEGIN
    SELECT c.conname, array(SELECT m[1] FROM regexp_matches(pg_get_constraintdef(c.oid), '''([^'']+)''', 'g') AS m)
      INTO name, kinds
      FROM pg_constraint c
     WHERE c.conrelid = 'devices'::regclass AND c.contype = 'c' AND pg_get_constraintdef(c.oid) LIKE '%kind%';
    allowed := (SELECT string_agg(DISTINCT quote_literal(k), ', ') FROM unnest(kinds || added) AS k);
    EXECUTE format('ALTER TABLE devices DROP CONSTRAINT %I', name);
    EXECUTE format('ALTER TABLE devices ADD CONSTRAINT %I CHECK (kind IN (%s))', name, allowed);
END;
$$;
COMMENT ON FUNCTION allow_device_kinds(text[]) IS 'Allow more device kinds (homecare.contracts.messages.DeviceKind) '
    'in devices.kind, keeping the ones already allowed.';

SELECT allow_device_kinds('blood_pressure_monitor', 'glucose_meter');
