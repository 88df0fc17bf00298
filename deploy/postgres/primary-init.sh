#!/bin/sh
# Run once by the TimescaleDB image when the primary's data directory is created (docker-entrypoint-initdb.d):
# the streaming replica's role and its pg_hba line, and the role EMQX signs devices in with. Passwords come from
# files mounted as secrets. The devices table does not exist yet (the API's migrations make it): its grant to
# emqx (emqx-grant.sql) is the one step after the first start (deploy/README.md, "EMQX and the devices table").
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v replicator_password="$(cat /run/secrets/replicator_password)" \
  -v emqx_password="$(cat /run/secrets/emqx_db_password)" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'replicator_password';
CREATE ROLE emqx WITH LOGIN PASSWORD :'emqx_password' CONNECTION LIMIT 64;
SELECT pg_create_physical_replication_slot('replica_1');
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
