-- What the role emqx (made by primary-init.sh) may read: the three columns of devices its queries in
-- deploy/emqx/emqx.conf use, nothing else (no other table, no resident). Run once after the API's first start has
-- migrated the database: psql -d homecare -f deploy/postgres/emqx-grant.sql (tests/integration/test_emqx_queries.py
-- runs these queries as a role with exactly this grant).
GRANT SELECT (uid, secret_hash, revoked_at) ON devices TO emqx;
