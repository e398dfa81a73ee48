"""WSGI entry point for production servers: ``gunicorn 'core.wsgi:app'``.

The client comes from ``$SALESFLOW_CONFIG`` (default config/default.toml) and the database URL
from ``$SALESFLOW_DATABASE_URL`` when set.
"""

from core.app import create_app

app = create_app()
