-- Clinic systems that read residents' records over the FHIR R4 interface: their client credentials, the
-- residents' consent to share with each, their short-lived bearer tokens, and when a resident's details changed.

CREATE TABLE clinic_clients (
    id          serial PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    client_id   text NOT NULL UNIQUE,
    secret_hash text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL,
    disabled_at timestamptz
);
COMMENT ON TABLE clinic_clients IS 'Clinic systems with OAuth2 client credentials; secret_hash is an argon2id PHC '
    'string (the secret is shown once). A disabled clinic gets no token and its tokens stop working.';

CREATE TABLE clinic_consents (
    resident_id int NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    clinic_id   int NOT NULL REFERENCES clinic_clients (id) ON DELETE CASCADE,
    recorded_at timestamptz NOT NULL,
    recorded_by text NOT NULL,
    revoked_at  timestamptz,
    revoked_by  text,
    PRIMARY KEY (resident_id, clinic_id)
);
CREATE INDEX clinic_consents_clinic_idx ON clinic_consents (clinic_id) WHERE revoked_at IS NULL;
COMMENT ON TABLE clinic_consents IS 'The resident agreed to share their record with this clinic (recorded by whom, '
    'when); a revoked consent hides the resident from the clinic at once. Recording it again clears the revocation.';

CREATE TABLE clinic_tokens (
    token_hash bytea PRIMARY KEY,
    clinic_id  int NOT NULL REFERENCES clinic_clients (id) ON DELETE CASCADE,
    issued_at  timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX clinic_tokens_clinic_idx ON clinic_tokens (clinic_id, expires_at);
COMMENT ON TABLE clinic_tokens IS 'Bearer tokens issued to clinics; only the SHA-256 of the token is stored.';

ALTER TABLE residents ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
COMMENT ON COLUMN residents.updated_at IS 'When the resident''s row last changed (FHIR Patient.meta.lastUpdated).';

CREATE FUNCTION residents_touch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
CREATE TRIGGER residents_touch BEFORE UPDATE ON residents
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION residents_touch();
