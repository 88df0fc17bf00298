-- Notifications: who is subscribed, the durable outbox of messages to send, every delivery attempt;
-- and the index the response-time reports read incidents by.

CREATE TABLE notification_subscriptions (
    id       serial PRIMARY KEY,
    audience text NOT NULL CHECK (audience IN ('staff', 'supervisor', 'changes')),
    channel  text NOT NULL CHECK (channel IN ('email', 'webhook')),
    address  text NOT NULL,
    source   text NOT NULL DEFAULT 'config',
    UNIQUE (audience, channel, address)
);
COMMENT ON TABLE notification_subscriptions IS 'Staff and supervisor recipients (an e-mail address or a webhook endpoint name) '
    'and the webhook endpoints that receive every incident change (audience "changes"). Rows with source "config" '
    'are replaced from the settings when the delivery worker starts; webhook URLs and secrets stay in the settings.';

CREATE TABLE notification_outbox (
    id              bigserial PRIMARY KEY,
    incident_id     bigint NOT NULL REFERENCES incidents (id),
    audience        text NOT NULL CHECK (audience IN ('family', 'staff', 'supervisor', 'changes')),
    channel         text NOT NULL CHECK (channel IN ('email', 'webhook')),
    recipient       text NOT NULL,
    reason          text NOT NULL,
    subject         text NOT NULL,
    body            text NOT NULL,
    payload         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        int NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    failed_at       timestamptz,
    last_error      text
);
CREATE INDEX notification_outbox_due_idx ON notification_outbox (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX notification_outbox_incident_idx ON notification_outbox (incident_id, id);
COMMENT ON TABLE notification_outbox IS 'One row per message and recipient, written in the transaction that decided to notify; '
    'the delivery worker sends due rows under a row lock (FOR UPDATE SKIP LOCKED) and records the outcome.';
COMMENT ON COLUMN notification_outbox.recipient IS 'An e-mail address, or the name of a configured webhook endpoint.';

CREATE TABLE notification_attempts (
    id          bigserial PRIMARY KEY,
    outbox_id   bigint NOT NULL REFERENCES notification_outbox (id),
    attempt     int NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    ok          boolean NOT NULL,
    permanent   boolean NOT NULL DEFAULT false,
    detail      text,
    UNIQUE (outbox_id, attempt)
);
COMMENT ON TABLE notification_attempts IS 'Every delivery attempt of an outbox row: when, whether it worked, the server''s answer or the error.';

CREATE TABLE notification_cursors (
    name    text PRIMARY KEY,
    last_id bigint NOT NULL
);
COMMENT ON TABLE notification_cursors IS 'How far the change relay has read incident_changes (webhooks per incident change).';

-- Reports select incidents by alarm time over periods of up to a year.
CREATE INDEX incidents_alarm_at_idx ON incidents (alarm_at) WHERE alarm_at IS NOT NULL;
