#!/usr/bin/env bash
# The fault-injection run (tests/fault/test_fault_injection.py, docs/robustness.md): an e-mail send to
# RELAIS_FAULT_RECIPIENTS recipients (100,000 by default) through a private Redis, real Celery workers
# and beat to an SMTP sink on loopback, while workers are killed, PostgreSQL is restarted once and the
# broker is stopped for 60 s; then a clean pause and resume. The test starts and stops its Redis
# (127.0.0.1:6390), workers, beat and sink itself; this script makes sure PostgreSQL is up (before,
# and after: the test restarts the machine's cluster) and runs it in the database relais_fault
# (pytest-django's test_relais_fault). Figures: printed, and bench/out/fault-injection.json.
#
#   scripts/fault-injection.sh                                   # 100,000 recipients
#   RELAIS_FAULT_RECIPIENTS=5000 scripts/fault-injection.sh      # a quick one
#   (also RELAIS_FAULT_SEED, _KILLS, _WORKERS, _CONCURRENCY, _BROKER_OUTAGE, _STALE_SECONDS,
#    _RECOVER_EVERY, _REDIS_PORT, _PAUSE_RECIPIENTS, _PG_RESTART=0)
set -euo pipefail
cd "$(dirname "$0")/.."

pg_up() {
  if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
}
pg_up
trap pg_up EXIT

export RELAIS_FAULT_INJECTION=1
export DATABASE_URL="${RELAIS_FAULT_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/relais_fault}"
export DJANGO_SETTINGS_MODULE=config.settings.test
.venv/bin/pytest -p no:cacheprovider -s --create-db tests/fault/test_fault_injection.py "$@"
