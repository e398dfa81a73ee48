"""REST endpoints: customers."""

from . import bp  # noqa: F401
