-- Voice calls between an operator and a resident's home unit: who called, when it rang, was answered and
-- ended, how it ended, and the audit recording when the deployment records calls.

CREATE TABLE calls (
    id            text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{8,64}$'),
    incident_id   bigint NOT NULL REFERENCES incidents (id),
    resident_id   int NOT NULL REFERENCES residents (id),
    device_id     int NOT NULL REFERENCES devices (id),
    started_by    text NOT NULL,
    video         boolean NOT NULL DEFAULT false,
    state         text NOT NULL DEFAULT 'calling' CHECK (state IN ('calling', 'ringing', 'connected', 'ended')),
    outcome       text CHECK (outcome IN ('completed', 'refused', 'failed', 'dropped', 'no_answer')),
    ended_by      text,
    end_reason    text,
    started_at    timestamptz NOT NULL,
    ringing_at    timestamptz,
    answered_at   timestamptz,
    ended_at      timestamptz,
    recording     text,
    recording_purged_at timestamptz,
    CHECK ((state = 'ended') = (outcome IS NOT NULL AND ended_at IS NOT NULL))
);
CREATE INDEX calls_incident_idx ON calls (incident_id, started_at);
CREATE INDEX calls_recording_idx ON calls (ended_at) WHERE recording IS NOT NULL AND recording_purged_at IS NULL;
COMMENT ON TABLE calls IS 'One row per voice call placed from the console to a home unit.';
COMMENT ON COLUMN calls.outcome IS 'completed: answered and hung up (ended_by says who); refused: the home unit '
    'declined; failed: media never connected; dropped: the connection broke mid-call; no_answer: nobody answered.';
COMMENT ON COLUMN calls.recording IS 'Directory of the audit recording under the data directory, one file per side.';
