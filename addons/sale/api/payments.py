"""REST endpoints: payments."""

from . import bp  # noqa: F401
