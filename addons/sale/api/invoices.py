"""REST endpoints: invoices."""

from . import bp  # noqa: F401
