#!/usr/bin/env bash
# Known vulnerabilities in the installed dependencies (pip-audit against OSV). Called by .ci/run.
# Fails on any known vulnerability, and on any dependency pip-audit could not audit (--strict).
# When OSV cannot be reached from this machine (a closed network), says so and does not pretend:
# an audit without its database would report "no vulnerability" for lack of data.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! curl -s -o /dev/null --max-time 10 -X POST https://api.osv.dev/v1/query \
     -d '{"package":{"name":"django","ecosystem":"PyPI"},"version":"5.2"}'; then
  echo "pip-audit NOT RUN: api.osv.dev cannot be reached from this machine (no vulnerability data)." >&2
  exit 0
fi
exec .venv/bin/pip-audit --strict --vulnerability-service osv --progress-spinner off --skip-editable
