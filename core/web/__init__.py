"""The web UI kernel: the ``web`` blueprint (home, login, lists, record pages, forms, admin),
the addons' declared views (``[provides].views``), i18n (Flask-Babel, per-user locale),
CSRF protection of every form, and the Content-Security-Policy of every HTML page.

See docs/web.md.
"""

from __future__ import annotations

from pathlib import Path

from babel import Locale
from flask import Flask, g, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect
from jinja2 import ChoiceLoader, FileSystemLoader

from core.web.views import (  # noqa: F401  (the names addons import)
    Child,
    Column,
    Filter,
    FormView,
    Home,
    ListAction,
    ListView,
    Menu,
    Panel,
    RecordPage,
    ViewRegistry,
    Views,
)

HERE = Path(__file__).resolve().parent
KERNEL_TRANSLATIONS = HERE.parent / "translations"
LOCALES = ("en", "zh_CN")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'")


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the Secure flag also on any HTTPS request."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def build_views(salesflow) -> ViewRegistry:
    from core.plugins.addons import load_object

    registry = ViewRegistry()
    enabled = set(salesflow.addon_names)
    records = set(salesflow.registry.records)
    for m in salesflow.addons:
        for ref in m.provided("views", enabled):
            registry.add(m.name, load_object(m, ref), records)
    return registry


def translation_dirs(salesflow) -> list[str]:
    """The kernel's catalogs, then each enabled addon's, in addon order (Babel merges them; a
    later catalog adds msgids, it does not replace the kernel's)."""
    dirs = [str(KERNEL_TRANSLATIONS)]
    enabled = set(salesflow.addon_names)
    for m in salesflow.addons:
        for ref in m.provided("translations", enabled):
            dirs.append(str((m.path / ref).resolve()))
    return dirs


def select_locale():
    """The user's language (``res.user.lang``), else the client's ``[client].locale``.

    Babel parses "zh_CN" as ``zh_Hans_CN``, whose catalogs gettext would look for in
    ``zh_Hans_CN/`` and ``zh/``; the locale returned names its catalog folder instead."""
    from flask import current_app

    env = g.get("env")
    lang = None
    if env is not None and env.user is not None:
        lang = env.user.lang
    elif session.get("lang"):
        lang = session["lang"]
    if lang not in LOCALES:
        lang = current_app.extensions["salesflow"].config.locale
    locale = Locale.parse(lang)
    found = _CatalogLocale(locale.language, locale.territory, locale.script, locale.variant)
    found.folder = lang
    return found


class _CatalogLocale(Locale):
    """A Babel locale whose ``str()`` (what catalogs are looked up by) is our folder name."""

    folder: str | None = None

    def __str__(self) -> str:
        return self.folder or super().__str__()


def init_app(app: Flask, salesflow) -> None:
    from core.web import admin, auth, format, routes  # noqa: F401  (routes on the blueprint)
    from core.web.base import bp

    app.extensions["salesflow.views"] = build_views(salesflow)

    # templates: the addons' folders (most dependent first), then the kernel's
    enabled = set(salesflow.addon_names)
    folders = [str((m.path / ref).resolve()) for m in reversed(salesflow.addons)
               for ref in m.provided("templates", enabled)]
    app.jinja_loader = ChoiceLoader([FileSystemLoader(folders), FileSystemLoader(str(HERE / "templates"))])

    # sessions
    https = bool(getattr(salesflow.config, "https", False))
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=https, WTF_CSRF_TIME_LIMIT=None)
    app.session_interface = _SessionInterface()
    app.before_request(auth.check_session)
    app.before_request(refuse_nul_input)

    # i18n
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(translation_dirs(salesflow))
    app.config["BABEL_DEFAULT_LOCALE"] = salesflow.config.locale
    app.config["BABEL_DEFAULT_TIMEZONE"] = salesflow.config.timezone
    Babel(app, locale_selector=select_locale)
    app.jinja_env.filters.update(money=format.money, date=format.date, datetime=format.datetime,
                                 state=format.state, decimal=format.decimal)
    from flask_babel import get_locale

    app.jinja_env.globals.update(cell=format.cell, resolve=format.resolve, get_locale=get_locale)

    # CSRF: every form post is checked; the token-authenticated JSON API is exempt (see
    # exempt_api_blueprints, called once every blueprint is registered)
    csrf = CSRFProtect(app)
    app.extensions["salesflow.csrf"] = csrf

    app.register_blueprint(bp)

    @app.after_request
    def _security_headers(response):
        if response.mimetype == "text/html":
            response.headers["Content-Security-Policy"] = CSP
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Referrer-Policy"] = "same-origin"
            if session.get("user_id") is not None:
                response.headers["Cache-Control"] = "no-store"
        if https or request.is_secure:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response


def refuse_nul_input() -> None:
    """A NUL character in a query or form value of a web page is refused (400 naming the
    field) before any view runs: PostgreSQL cannot store or even compare it (a 500 with
    nothing explained), SQLite would store it silently. The JSON API checks its own input
    (``core.api.refuse_unstorable``, a 422); reading ``request.form`` here would also consume
    a form-encoded body the API must see, and refuse, as not JSON."""
    from flask import abort, current_app

    if _is_api(current_app, request.blueprint):
        return
    for source in (request.args, request.form):
        for key, value in source.items(multi=True):
            if "\x00" in key or "\x00" in value:
                name = key.replace("\x00", "\\x00")[:64]
                abort(400, f"{name}: must not contain a NUL character")


def _is_api(app: Flask, name: str | None) -> bool:
    from core.api import ApiBlueprint

    return name == "salesflow_api" or isinstance(app.blueprints.get(name or ""), ApiBlueprint)


def exempt_api_blueprints(app: Flask) -> None:
    """Token-authenticated JSON APIs (``ApiBlueprint``s and the kernel's) take no CSRF token:
    a browser cannot send their JSON body cross-site without CORS."""
    from core.api import ApiBlueprint

    csrf = app.extensions["salesflow.csrf"]
    for bp in app.blueprints.values():
        if isinstance(bp, ApiBlueprint) or bp.name == "salesflow_api":
            csrf.exempt(bp)
