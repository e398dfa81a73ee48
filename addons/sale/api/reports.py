"""REST endpoints: reports."""

from . import bp  # noqa: F401
