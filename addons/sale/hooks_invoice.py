"""Invoicing hooks of the sale addon."""

from core.plugins import hookimpl  # noqa: F401
