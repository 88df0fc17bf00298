-- Home care: each resident's information base, ability assessments (GB/T 42195-2022), the rules an administrator
-- keeps for who is vulnerable and which level earns which subsidy, and the welfare visit rounds (巡访) with visitors.

-- A visitor (巡访员, a carer) is staff of a community station, like a responder.
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('admin', 'supervisor', 'operator', 'responder', 'visitor', 'family'));
ALTER TABLE users DROP CONSTRAINT users_check;
ALTER TABLE users ADD CONSTRAINT users_station_check CHECK (role NOT IN ('responder', 'visitor') OR station_id IS NOT NULL);

CREATE TABLE care_profiles (
    resident_id      int PRIMARY KEY REFERENCES residents (id) ON DELETE CASCADE,
    living_situation text[] NOT NULL DEFAULT '{}'
        CHECK (living_situation <@ ARRAY['alone', 'empty_nest', 'left_behind', 'special_family']),
    economic_status  text CHECK (economic_status IN ('extreme_poverty', 'subsistence', 'low_income')),
    disability       text CHECK (length(disability) BETWEEN 1 AND 200),
    disability_grade smallint CHECK (disability_grade BETWEEN 1 AND 4),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    updated_by       text NOT NULL
);
COMMENT ON TABLE care_profiles IS 'The information base (基本信息库): living situation (独居 alone, 空巢 empty nest, 留守 left behind, '
    '计划生育特殊家庭 special family), economic status (特困 extreme poverty, 低保 subsistence allowance, 低收入 low income) '
    'and disability (kind, grade 1-4). Chronic conditions are residents.conditions.';

CREATE TABLE care_assessments (
    id                bigserial PRIMARY KEY,
    resident_id       int NOT NULL REFERENCES residents (id),
    assessed_on       date NOT NULL,
    assessor          text NOT NULL CHECK (length(assessor) BETWEEN 1 AND 100),
    reason            text NOT NULL CHECK (reason IN ('first', 'routine', 'change', 'review')),
    items             jsonb NOT NULL,
    coma              boolean NOT NULL,
    dementia          boolean NOT NULL,
    risk_events       smallint NOT NULL CHECK (risk_events >= 0),
    self_care         smallint NOT NULL CHECK (self_care BETWEEN 0 AND 32),
    mobility          smallint NOT NULL CHECK (mobility BETWEEN 0 AND 15),
    mental            smallint NOT NULL CHECK (mental BETWEEN 0 AND 28),
    perception        smallint NOT NULL CHECK (perception BETWEEN 0 AND 15),
    total             smallint NOT NULL CHECK (total = self_care + mobility + mental + perception),
    preliminary_level smallint NOT NULL CHECK (preliminary_level BETWEEN 0 AND 4),
    level             smallint NOT NULL CHECK (level BETWEEN preliminary_level AND 4),
    adjustments       text[] NOT NULL DEFAULT '{}',
    note              text,
    recorded_by       text NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX care_assessments_resident_idx ON care_assessments (resident_id, assessed_on DESC, id DESC);
COMMENT ON TABLE care_assessments IS 'Ability assessments by GB/T 42195-2022: the 26 item scores, the four part scores, the total '
    '(0-90) and the level (0 能力完好 intact … 4 能力完全丧失 lost), with the assessor and the day. Never changed: a new '
    'assessment is a new row, and the latest one counts.';

CREATE FUNCTION care_assessments_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ability assessments are never changed or removed: record a new one';
END;
$$;
CREATE TRIGGER care_assessments_append_only BEFORE UPDATE OR DELETE ON care_assessments
    FOR EACH ROW EXECUTE FUNCTION care_assessments_append_only();

CREATE TABLE care_policy (
    singleton               boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    vulnerable_from_level   smallint CHECK (vulnerable_from_level BETWEEN 1 AND 4),
    weekly_alone_from_level smallint NOT NULL CHECK (weekly_alone_from_level BETWEEN 0 AND 4),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    updated_by              text NOT NULL
);
COMMENT ON TABLE care_policy IS 'Rules an administrator keeps: from which assessed level a resident is vulnerable (NULL: the level '
    'alone never makes them so), and from which level a resident living alone is visited weekly instead of monthly.';
INSERT INTO care_policy (vulnerable_from_level, weekly_alone_from_level, updated_by) VALUES (2, 2, 'migration');

CREATE TABLE care_vulnerable_categories (
    category text PRIMARY KEY CHECK (category IN ('alone', 'empty_nest', 'left_behind', 'special_family',
                                                  'extreme_poverty', 'subsistence', 'low_income', 'disabled'))
);
COMMENT ON TABLE care_vulnerable_categories IS 'The categories of the information base that make a resident vulnerable: due '
    'welfare visits (巡访) every month at least.';
INSERT INTO care_vulnerable_categories (category)
VALUES ('alone'), ('empty_nest'), ('left_behind'), ('special_family'), ('extreme_poverty'), ('subsistence'), ('disabled');

CREATE TABLE care_subsidies (
    id              serial PRIMARY KEY,
    level           smallint NOT NULL CHECK (level BETWEEN 0 AND 4),
    economic_status text CHECK (economic_status IN ('extreme_poverty', 'subsistence', 'low_income')),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    monthly_yuan    numeric(10, 2) NOT NULL CHECK (monthly_yuan >= 0),
    UNIQUE NULLS NOT DISTINCT (level, economic_status, name)
);
COMMENT ON TABLE care_subsidies IS 'Which assessed level earns which subsidy: for every resident of that level, or only for '
    'those of one economic status. Amounts are the city''s; an administrator keeps them.';

-- Where every resident stands: the latest assessment, why they are vulnerable, how often they are visited.
-- The one definition the API, the visit rounds and the monthly visit rate all read.
CREATE VIEW care_standing AS
WITH facts AS (
    SELECT r.id AS resident_id, r.vulnerable AS flagged, r.station_id,
           a.id AS assessment_id, a.level, a.assessed_on,
           coalesce(p.living_situation, '{}') AS living_situation, p.economic_status,
           coalesce(p.living_situation, '{}')
               || CASE WHEN p.economic_status IS NULL THEN '{}'::text[] ELSE ARRAY[p.economic_status] END
               || CASE WHEN p.disability_grade IS NULL THEN '{}'::text[] ELSE ARRAY['disabled'] END AS categories
    FROM residents r
    LEFT JOIN care_profiles p ON p.resident_id = r.id
    LEFT JOIN LATERAL (
        SELECT id, level, assessed_on FROM care_assessments
        WHERE resident_id = r.id ORDER BY assessed_on DESC, id DESC LIMIT 1
    ) a ON true
), reasons AS (
    SELECT f.*,
           ARRAY(SELECT c FROM unnest(f.categories) c WHERE c IN (SELECT category FROM care_vulnerable_categories))
               || CASE WHEN f.level >= pol.vulnerable_from_level THEN ARRAY['ability_level'] ELSE '{}'::text[] END
               || CASE WHEN f.flagged THEN ARRAY['enrolment'] ELSE '{}'::text[] END AS vulnerable_because,
           pol.weekly_alone_from_level
    FROM facts f CROSS JOIN care_policy pol
)
SELECT resident_id, station_id, assessment_id, level, assessed_on, living_situation, economic_status, categories,
       vulnerable_because,
       cardinality(vulnerable_because) > 0 AS vulnerable,
       CASE
           WHEN cardinality(vulnerable_because) = 0 THEN NULL
           WHEN 'alone' = ANY (living_situation) AND level >= weekly_alone_from_level THEN 'weekly'
           ELSE 'monthly'
       END AS visit_frequency
FROM reasons;
COMMENT ON VIEW care_standing IS 'Per resident: the latest ability level, the reasons they are vulnerable (categories the '
    'administrator listed, an assessed level from care_policy, the enrolment flag) and how often they are visited.';

CREATE TABLE care_visits (
    id          bigserial PRIMARY KEY,
    resident_id int NOT NULL REFERENCES residents (id),
    station_id  int REFERENCES stations (id),
    visitor_id  int REFERENCES users (id),
    frequency   text NOT NULL CHECK (frequency IN ('weekly', 'monthly')),
    due_from    date NOT NULL,
    due_by      date NOT NULL CHECK (due_by >= due_from),
    status      text NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'done')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (resident_id, due_from)
);
CREATE INDEX care_visits_visitor_idx ON care_visits (visitor_id, status);
CREATE INDEX care_visits_due_idx ON care_visits (status, due_by);
COMMENT ON TABLE care_visits IS 'Planned welfare visits (巡访): one per resident and period (a month, or a week within it for '
    'weekly visits; due_from..due_by are local days), assigned to the home''s station and one of its visitors.';

ALTER TABLE welfare_visits
    ADD COLUMN visit_id    bigint REFERENCES care_visits (id),
    ADD COLUMN visitor_id  int REFERENCES users (id),
    ADD COLUMN outcome     text CHECK (outcome IN ('seen', 'not_home')),
    ADD COLUMN checklist   jsonb,
    ADD COLUMN findings    text[] NOT NULL DEFAULT '{}',
    ADD COLUMN incident_id bigint REFERENCES incidents (id),
    ADD COLUMN recorded_at timestamptz NOT NULL DEFAULT now();
CREATE UNIQUE INDEX welfare_visits_one_seen_per_visit ON welfare_visits (visit_id) WHERE outcome = 'seen';
COMMENT ON COLUMN welfare_visits.outcome IS 'seen: the visitor saw the resident and filled the checklist; not_home: nobody '
    'answered (not a visit for the monthly rate; it opens an incident). NULL for visits entered before the rounds.';
