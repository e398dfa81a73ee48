"""Signing in and out of the web UI, changing one's password, throttling failed logins.

* Login clears the old session and starts a new one (a fresh random session id whose hash is
  kept in ``res.web_session``): the cookie changes, and a cookie from before login is useless.
* Logout deletes that row and clears the cookie: replaying the old cookie is refused.
* A password change ends the user's other sessions.
* After ``MAX_FAILURES`` failed attempts for one login from one address within ``WINDOW``, that
  login is refused from that address (without checking the password) until the failures are
  ``WINDOW`` old. Every attempt is kept in ``res.login_attempt`` and failures are logged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets

from flask import flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy import delete, func, select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from core.web.base import bp, page, render, safe_next, salesflow

log = logging.getLogger("salesflow.web.auth")

MAX_FAILURES = 5
WINDOW = dt.timedelta(minutes=15)


class LoginForm(FlaskForm):
    login = StringField("Login", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


class PasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired()])
    new = PasswordField("New password", validators=[DataRequired(), Length(min=8, max=256)])
    confirm = PasswordField("Repeat the new password",
                            validators=[DataRequired(), EqualTo("new", "The passwords differ")])


def sid_digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def client_ip() -> str:
    # behind a proxy, configure werkzeug's ProxyFix so remote_addr is the client's address
    return (request.remote_addr or "?")[:64]


def _db_time(sf, value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=None) if sf.dialect == "sqlite" else value


def is_throttled(env, login: str, ip: str) -> bool:
    """``MAX_FAILURES`` failures for ``login`` from ``ip`` since ``WINDOW`` ago (and since the
    last success)?"""
    Attempt = env["res.login_attempt"]
    since = _db_time(env.sf, env.now - WINDOW)
    last_ok = env.session.scalar(select(func.max(Attempt.at)).where(
        Attempt.login == login, Attempt.ip == ip, Attempt.ok.is_(True), Attempt.at > since))
    if last_ok is not None:
        since = last_ok
    failures = env.session.scalar(select(func.count()).select_from(Attempt).where(
        Attempt.login == login, Attempt.ip == ip, Attempt.ok.is_(False), Attempt.at > since))
    return (failures or 0) >= MAX_FAILURES


def start_session(env, user_id: int) -> None:
    """A new session for ``user_id``: the previous session's content is dropped (rotation)."""
    session.clear()
    sid = secrets.token_urlsafe(32)
    env.session.add(env["res.web_session"](sid_hash=sid_digest(sid), user_id=user_id,
                                           ip=client_ip()))
    session["user_id"] = user_id
    session["sid"] = sid


def check_session() -> None:
    """Before every request: a session naming a user must carry a live session id, else it is
    cleared (logged out, or a cookie from another installation)."""
    if request.endpoint == "web.static" or "user_id" not in session:
        return
    sid = session.get("sid")
    sf = salesflow()
    if isinstance(sid, str):
        table = sf.registry["res.web_session"].__table__
        with sf.engine.connect() as conn:
            owner = conn.execute(select(table.c.user_id).where(
                table.c.sid_hash == sid_digest(sid))).scalar()
        if owner is not None and owner == session.get("user_id"):
            return
    session.clear()


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    target = safe_next(request.args.get("next")) or url_for("web.home")
    if session.get("user_id") is not None and request.method == "GET":
        return redirect(target)
    error = None
    if form.validate_on_submit():
        sf = salesflow()
        login_name, ip = form.login.data.strip(), client_ip()
        with sf.transaction() as env:
            if is_throttled(env, login_name, ip):
                log.warning("login throttled: %r from %s", login_name, ip)
                error = _("Too many failed attempts. Try again in %(minutes)d minutes.",
                          minutes=int(WINDOW.total_seconds() // 60))
            else:
                User = env["res.user"]
                user = env.session.scalars(select(User).where(User.login == login_name)).one_or_none()
                ok = user is not None and user.check_password(form.password.data)
                env.session.add(env["res.login_attempt"](login=login_name[:64], ip=ip, ok=ok))
                if ok:
                    start_session(env, user.id)
                else:
                    log.warning("failed login: %r from %s", login_name, ip)
                    error = _("Wrong login or password.")
        if error is None:
            return redirect(target)
    return render("web/login.html", form=form, error=error), (200 if error is None else 401)


@bp.post("/logout")
def logout():
    sid = session.get("sid")
    if isinstance(sid, str):
        sf = salesflow()
        with sf.transaction() as env:
            Session = env["res.web_session"]
            env.session.execute(delete(Session).where(Session.sid_hash == sid_digest(sid)))
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("web.login"))


@bp.route("/password", methods=["GET", "POST"])
@page()
def password(env):
    form = PasswordForm()
    if form.validate_on_submit():
        user = env.user
        with env.sudo():
            if not user.check_password(form.current.data):
                form.current.errors = [_("Wrong password.")]
            else:
                user.set_password(form.new.data)
                Session = env["res.web_session"]
                env.session.execute(delete(Session).where(
                    Session.user_id == user.id, Session.sid_hash != sid_digest(session["sid"])))
                env.session.flush()
                flash(_("Your password is changed; your other sessions are signed out."), "success")
                return redirect(url_for("web.home"))
    return render("web/password.html", form=form)


@bp.app_context_processor
def _user_context():
    return {"signed_in": session.get("user_id") is not None, "env_user": getattr(g, "env", None)}
