"""Order hooks of the sale addon (approval fingerprint, ...)."""

from core.plugins import hookimpl  # noqa: F401
