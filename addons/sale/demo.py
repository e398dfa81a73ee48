"""Demo data of the sale addon (``salesflow demo``)."""

from core.plugins import hookimpl  # noqa: F401
