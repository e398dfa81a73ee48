"""WSGI entry point for production servers: ``gunicorn 'core.wsgi:app'``.

The client comes from ``$SALESFLOW_CONFIG`` (default config/default.toml) and the database URL
from ``$SALESFLOW_DATABASE_URL`` when set.
"""

from core.app import create_app
from core.runtime import tune_gc

app = create_app()
tune_gc()  # per worker; with gunicorn --preload once before the fork, keeping the pages shared
