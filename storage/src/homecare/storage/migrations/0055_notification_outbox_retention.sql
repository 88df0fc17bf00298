-- Housekeeping deletes delivered notifications after the raw retention period, with their delivery attempts:
-- find them by age without reading the whole outbox.
ALTER TABLE notification_attempts
    DROP CONSTRAINT notification_attempts_outbox_id_fkey,
    ADD CONSTRAINT notification_attempts_outbox_id_fkey
        FOREIGN KEY (outbox_id) REFERENCES notification_outbox (id) ON DELETE CASCADE;
CREATE INDEX notification_outbox_sent_idx ON notification_outbox (sent_at) WHERE status = 'sent';
