"""Typed errors. Each carries what a user needs to act on it; the API maps them to HTTP codes."""

from __future__ import annotations


class SalesflowError(Exception):
    """Base of every error the kernel and addons raise on purpose."""


class ConfigError(SalesflowError):
    """A client configuration is wrong: names the file, the key and what was expected."""


class AddonError(SalesflowError):
    """Addon discovery or ordering failed: names the addons involved."""


class RegistryError(SalesflowError):
    """Model composition failed (unknown record extended, clashing names)."""


class ValidationError(SalesflowError):
    """Bad input. ``errors`` maps a field name (dotted for nested) to a list of messages."""

    def __init__(self, errors: dict[str, list[str]] | str, field: str | None = None):
        if isinstance(errors, str):
            errors = {field or "_schema": [errors]}
        self.errors = errors
        super().__init__(
            "; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items())
        )


class NotFound(SalesflowError):
    """A record does not exist or is not visible to the caller (the two look the same)."""

    def __init__(self, model: str, ident: object):
        self.model, self.ident = model, ident
        super().__init__(f"{model} {ident} not found")


class AccessDenied(SalesflowError):
    """The user lacks a permission (model operation or workflow trigger)."""


class AuthenticationError(SalesflowError):
    """No valid credentials."""


class ConflictError(SalesflowError):
    """The request conflicts with the record's current state (stale version, duplicate...)."""


class StaleRecord(ConflictError):
    """An ``If-Match`` version does not match the stored one."""


class Unavailable(SalesflowError):
    """This server cannot do it now (a system prerequisite such as a font is missing): the
    message says what the administrator must install or set. HTTP 503."""


class ImmutableRecord(SalesflowError):
    """A posted document or log row was about to be changed or deleted."""


class TransitionBlocked(SalesflowError):
    """A workflow trigger was refused. ``reasons`` lists every human-readable reason."""

    def __init__(self, record: object, trigger: str, reasons: list[str]):
        self.record, self.trigger, self.reasons = record, trigger, list(reasons)
        name = getattr(type(record), "__record__", type(record).__name__)
        rid = getattr(record, "id", None)
        #: ``fire_many``: the position of each refused record in the list given -> its reasons
        self.refused: dict[int, list[str]] = {}
        #: the same by record id
        self.refused_ids: dict[object, list[str]] = {}
        super().__init__(f"{trigger} refused on {name} {rid}: " + "; ".join(self.reasons))

    @classmethod
    def many(cls, records: list, trigger: str, refused: dict[int, list[str]]) -> TransitionBlocked:
        """Refusal of a ``fire_many``: each reason names its record (its number, else its id)."""
        first = records[min(refused)]
        reasons = [f"{_label(records[i])}: {reason}" for i, found in sorted(refused.items())
                   for reason in found]
        error = cls(first, trigger, reasons)
        error.refused = refused
        error.refused_ids = {getattr(records[i], "id", i): found for i, found in refused.items()}
        return error


def _label(record: object) -> str:
    name = getattr(type(record), "__record__", type(record).__name__)
    return getattr(record, "number", None) or f"{name} {getattr(record, 'id', None)}"
