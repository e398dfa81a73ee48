#!/usr/bin/env bash
# The main job on the embedded default: install, create the SQLite database (migrations),
# load the demo company, serve it on http://127.0.0.1:5000/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# the CJK font only makes Chinese text in PDFs readable: without it (no root, apt busy) the
# demo still runs
bash scripts/system-deps.sh fonts || echo "salesflow: the CJK font is not installed; PDFs will lack Chinese glyphs" >&2
export SALESFLOW_CONFIG=${SALESFLOW_CONFIG:-config/default.toml}
.venv/bin/salesflow db upgrade
.venv/bin/salesflow demo
echo
echo "Log in as admin / salesflow-demo (or sp1, manager, director, finance, warehouse: same password)."
echo "API: POST /api/v1/auth/token {\"login\": \"admin\", \"password\": \"salesflow-demo\"}; docs: /api/v1/openapi.json"
exec .venv/bin/salesflow serve --host "${HOST:-127.0.0.1}" --port "${PORT:-5000}"
