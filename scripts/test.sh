#!/usr/bin/env bash
# The whole test suite. Every database test runs on SQLite and on PostgreSQL
# ($SALESFLOW_TEST_PG_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/test); without a
# reachable PostgreSQL those runs are skipped, unless SALESFLOW_REQUIRE_PG=1 (CI) makes them fail.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/system-deps.sh browser
.venv/bin/ruff check .
exec .venv/bin/pytest -n "${PYTEST_WORKERS:-2}" -q "$@"
