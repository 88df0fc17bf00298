#!/bin/sh
# The streaming replica: on its first start, copy the primary (pg_basebackup through the slot primary-init.sh
# made, writing standby.signal and primary_conninfo), then run as a hot standby that follows it. Read-only
# queries (reports, exports) may go to it; nothing of homecare writes to it. Promote it with `pg_ctl promote`
# if the primary is lost, and point HOMECARE_DATABASE_URL at it.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -h "$PRIMARY_HOST" -p 5432 -U replicator; do sleep 2; done
  PGPASSWORD="$(cat /run/secrets/replicator_password)" pg_basebackup -h "$PRIMARY_HOST" -U replicator \
    -D "$PGDATA" -X stream -S replica_1 -R -P
  chmod 700 "$PGDATA"
fi
exec postgres -c hot_standby=on -c hot_standby_feedback=on
