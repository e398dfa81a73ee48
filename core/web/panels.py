"""The panels addons add to record pages (``core.web.Panel``): which ones a user sees, with
their data. Used by the generic record page (``routes.record_page``)."""

from __future__ import annotations

from typing import Any

from core.errors import AccessDenied
from core.web.base import views


def page_panels(env, record) -> list[dict[str, Any]]:
    """``[{"decl": Panel, "data": ...}]`` for ``record``'s page, in order: panels whose roles
    the user holds (or a superuser), whose ``records`` the user may read, and whose ``load``
    had something to show (not None, no ``AccessDenied``)."""
    out = []
    for decl in views().panels_for(record.__record__):
        if decl.roles and not env.has_role(*decl.roles) and not env.is_superuser:
            continue
        if not all(env.can(name, "read") for name in decl.records):
            continue
        try:
            data = decl.load(env, record) if decl.load else {}
        except AccessDenied:
            continue
        if data is None:
            continue
        out.append({"decl": decl, "data": data})
    return out
