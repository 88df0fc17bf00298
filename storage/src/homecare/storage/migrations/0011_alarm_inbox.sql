-- Alarms are never refused for their details, and the alarm pipeline never skips an event that commits late.

-- An alarm whose optional fields break the contract (NUL in the room, an unknown field) is stored without
-- them; what was dropped, and why, stays with the event for the operator and the audit.
ALTER TABLE events ADD COLUMN dropped jsonb;
COMMENT ON COLUMN events.dropped IS 'Fields the gateway dropped from an alarm that broke the contract: {field: reason}; NULL when none.';

-- What the pipeline has still to apply, filled in the inserting transaction itself: an event becomes work
-- exactly when it becomes visible, however late it commits after a larger id (several gateways).
CREATE TABLE pipeline_inbox (
    source  text NOT NULL CHECK (source IN ('event', 'imu_burst')),
    item_id bigint NOT NULL,
    PRIMARY KEY (source, item_id)
);
COMMENT ON TABLE pipeline_inbox IS 'Stored events and IMU bursts the alarm pipeline has not applied yet; it deletes each as it applies it.';

CREATE FUNCTION events_inbox() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pipeline_inbox (source, item_id) VALUES ('event', NEW.id);
    RETURN NEW;
END;
$$;
CREATE TRIGGER events_inbox AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION events_inbox();
CREATE FUNCTION imu_bursts_inbox() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pipeline_inbox (source, item_id) VALUES ('imu_burst', NEW.id);
    RETURN NEW;
END;
$$;
CREATE TRIGGER imu_bursts_inbox AFTER INSERT ON imu_bursts FOR EACH ROW EXECUTE FUNCTION imu_bursts_inbox();

INSERT INTO pipeline_inbox (source, item_id)
SELECT 'event', e.id FROM events e
WHERE NOT EXISTS (SELECT 1 FROM pipeline_processed p WHERE p.source = 'event' AND p.item_id = e.id);
INSERT INTO pipeline_inbox (source, item_id)
SELECT 'imu_burst', b.id FROM imu_bursts b
WHERE NOT EXISTS (SELECT 1 FROM pipeline_processed p WHERE p.source = 'imu_burst' AND p.item_id = b.id);

-- The cursors and their look-back window are replaced by the inbox.
DROP TABLE pipeline_cursors;
