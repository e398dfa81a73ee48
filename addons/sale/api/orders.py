"""REST endpoints: orders."""

from . import bp  # noqa: F401
