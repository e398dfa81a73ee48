"""The ``web`` blueprint and what every page shares: one transaction per request as the
signed-in user (so access checks and record rules apply), HTML errors, the menu."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from core.errors import AccessDenied, AuthenticationError, NotFound

HERE = Path(__file__).resolve().parent
bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/web")


def salesflow():
    return current_app.extensions["salesflow"]


def views():
    return current_app.extensions["salesflow.views"]


def safe_next(target: str | None) -> str | None:
    """A local path to go back to after login (never another site).

    Control characters and spaces are refused too: browsers drop tabs and newlines from a URL,
    so ``/<tab>/evil.example`` would lead to ``//evil.example`` (and a newline broke the
    ``Location`` header: a 500)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ch <= " " or ch == "\x7f" for ch in target):
        return None
    return target


def login_redirect():
    return redirect(url_for("web.login", next=request.full_path.rstrip("?")))


def page(readonly: bool = False, roles: tuple[str, ...] = ()) -> Callable:
    """A web view running as the signed-in user in one transaction: ``view(env, **kwargs)``.

    Anonymous: redirect to the login page. Hidden or missing records: 404. Refused access or
    missing ``roles``: 403.
    """

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(**kwargs):
            user_id = session.get("user_id")
            if user_id is None:
                return login_redirect()
            sf = salesflow()
            # a GET page only reads; a POST writes (GETs never change anything)
            ro = readonly or request.method == "GET"
            try:
                with sf.transaction(user_id, readonly=ro) as env:
                    g.env = env
                    if roles and not env.has_role(*roles):
                        abort(403)
                    return view(env, **kwargs)
            except AuthenticationError:  # deactivated meanwhile
                session.clear()
                return login_redirect()
            except NotFound:
                abort(404)
            except AccessDenied:
                abort(403)
            finally:
                g.pop("env", None)

        return wrapper

    return decorate


def visible_menus(env) -> list[dict[str, Any]]:
    from flask_babel import get_locale

    locale = str(get_locale() or "en")
    out = []
    for menu in views().sorted_menus():
        if menu.roles and not env.has_role(*menu.roles) and not env.is_superuser:
            continue
        if menu.record and (menu.record not in env.sf.registry.records
                            or not env.can(menu.record, "read")):
            continue
        try:
            href = url_for(menu.endpoint, **menu.args)
        except Exception:  # an endpoint of a disabled addon: no entry
            continue
        out.append({"key": menu.key, "label": menu.text(locale), "href": href})
    return out


def render(template: str, **context):
    env = g.get("env")
    if env is not None:
        context.setdefault("menus", visible_menus(env))
        context.setdefault("current_user", env.user)
        context.setdefault("is_admin", env.has_role("admin"))
    return render_template(template, **context)


def error_page(code: int, message: str = ""):
    return render_template("web/error.html", code=code, message=message), code


@bp.errorhandler(400)
def _bad_request(exc):
    return error_page(400, getattr(exc, "description", ""))


@bp.errorhandler(403)
def _forbidden(exc):
    return error_page(403)


@bp.errorhandler(404)
def _not_found(exc):
    return error_page(404)
