-- People who sign in (staff and family), their sessions and login attempts, family links with the
-- resident's consent, the resident card an operator reads, and the signed-in user on the access log.

CREATE TABLE users (
    id                  serial PRIMARY KEY,
    username            text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9_.@-]{2,63}$'),
    display_name        text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    role                text NOT NULL CHECK (role IN ('admin', 'supervisor', 'operator', 'responder', 'family')),
    password_hash       text NOT NULL,
    station_id          int REFERENCES stations (id),
    phone               text,
    email               text,
    language            text NOT NULL DEFAULT 'zh' CHECK (language IN ('zh', 'en')),
    timezone            text NOT NULL DEFAULT 'Asia/Shanghai',
    on_duty             boolean NOT NULL DEFAULT false,
    disabled_at         timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    CHECK (role <> 'responder' OR station_id IS NOT NULL)
);
CREATE INDEX users_station_idx ON users (station_id) WHERE station_id IS NOT NULL;
COMMENT ON TABLE users IS 'Everyone who signs in. password_hash is an argon2id PHC string; responders belong to a '
    'station (on_duty: on the station''s roster now); disabled users cannot sign in and lose their sessions.';

CREATE TABLE sessions (
    token_hash   bytea PRIMARY KEY,
    user_id      int NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz,
    ip           text,
    user_agent   text
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
COMMENT ON TABLE sessions IS 'Signed-in browsers. Only the SHA-256 of the cookie is stored; a session ends at '
    'logout, at expires_at (absolute), or after the idle limit since last_seen_at.';

CREATE TABLE login_attempts (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    username  text NOT NULL,
    ip        text,
    succeeded boolean NOT NULL
);
CREATE INDEX login_attempts_username_at_idx ON login_attempts (username, at);
CREATE INDEX login_attempts_ip_at_idx ON login_attempts (ip, at);
COMMENT ON TABLE login_attempts IS 'Every sign-in attempt, for rate limiting and audit.';

CREATE TABLE family_links (
    user_id             int NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    resident_id         int NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    relation            text,
    share_status        boolean NOT NULL DEFAULT true,
    share_vitals        boolean NOT NULL DEFAULT false,
    share_activity      boolean NOT NULL DEFAULT false,
    share_incidents     boolean NOT NULL DEFAULT true,
    consent_recorded_at timestamptz NOT NULL DEFAULT now(),
    consent_recorded_by text NOT NULL,
    PRIMARY KEY (user_id, resident_id)
);
CREATE INDEX family_links_resident_idx ON family_links (resident_id);
COMMENT ON TABLE family_links IS 'Which family member may follow which resident, and what the resident agreed to '
    'share with them: status (all well / needs attention), vitals charts, activity and sleep, incident history.';

ALTER TABLE residents
    ADD COLUMN conditions    text[] NOT NULL DEFAULT '{}',
    ADD COLUMN medications   text[] NOT NULL DEFAULT '{}',
    ADD COLUMN allergies     text[] NOT NULL DEFAULT '{}',
    ADD COLUMN mobility      text,
    ADD COLUMN language      text,
    ADD COLUMN consent_video boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN residents.language IS 'Language and dialect to speak to them in, e.g. 上海话 / 普通话.';
COMMENT ON COLUMN residents.consent_video IS 'The resident agreed that an operator may switch on the home unit''s camera '
    'after an alarm; off by default.';

ALTER TABLE access_log ADD COLUMN user_id int REFERENCES users (id);
CREATE INDEX access_log_user_at_idx ON access_log (user_id, at) WHERE user_id IS NOT NULL;
