"""The kernel's own hook implementations (defaults other addons may override)."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from core.env import jsonable
from core.plugins import hookimpl

_VOLATILE = {"id", "state", "version", "created_at", "updated_at"}


@hookimpl(trylast=True)
def approval_fingerprint(record, env):
    """Default: a hash of every column but bookkeeping ones."""
    values = {
        col.key: _canonical(getattr(record, col.key))
        for col in type(record).__mapper__.column_attrs
        if col.key not in _VOLATILE
    }
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


def _canonical(value):
    """One text per value: ``Decimal("600")`` and ``Decimal("600.00")`` fingerprint alike."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return jsonable(value)
