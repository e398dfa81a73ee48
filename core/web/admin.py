"""Users and roles (the ``admin`` role only): list, create, set roles, (de)activate, reset
the password. Deactivating or resetting ends the user's web sessions."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy import delete, select
from wtforms import BooleanField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from core.errors import ValidationError
from core.web.base import bp, page, render

ADMIN = ("admin",)
MAX_USER_ID = 2**31 - 1  # res.user.id is an INTEGER column
LANGS = [("", "-"), ("en", "English"), ("zh_CN", "简体中文")]


class MultiCheckbox(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class UserForm(FlaskForm):
    login = StringField("Login", validators=[DataRequired(), Length(max=64),
                                             Regexp(r"^[\w.@-]+$", message="letters, digits, . @ - _")])
    name = StringField("Name", validators=[DataRequired(), Length(max=128)])
    email = StringField("Email", validators=[Optional(), Length(max=254),
                                             Regexp(r"^[^@\s]+@[^@\s]+$", message="not an email")])
    lang = SelectField("Language", choices=LANGS, validators=[Optional()])
    roles = MultiCheckbox("Roles", choices=[])
    active = BooleanField("Active", default=True)
    password = PasswordField("New password", validators=[Optional(), Length(min=8, max=256)])


def _role_choices(env):
    return [(code, info.get("label", code)) for code, info in sorted(env.sf.security.roles.items())]


@bp.get("/admin/users")
@page(roles=ADMIN)
def admin_users(env):
    User = env["res.user"]
    users = env.session.scalars(select(User).order_by(User.login)).all()
    return render("web/admin_users.html", users=users, roles=dict(_role_choices(env)))


def _save(env, user, form) -> None:
    user.name = form.name.data.strip()
    user.email = form.email.data or None
    user.lang = form.lang.data or None
    user.active = bool(form.active.data)
    wanted = set(form.roles.data or [])
    user.role_links = [link for link in user.role_links if link.role in wanted] + [
        env["res.user_role"](role=r) for r in sorted(wanted - set(user.role_codes()))]
    if form.password.data:
        user.set_password(form.password.data)


def _end_sessions(env, user_id: int) -> None:
    Session = env["res.web_session"]
    env.session.execute(delete(Session).where(Session.user_id == user_id))


@bp.route("/admin/users/new", methods=["GET", "POST"])
@page(roles=ADMIN)
def admin_user_new(env):
    form = UserForm()
    form.roles.choices = _role_choices(env)
    if form.validate_on_submit():
        User = env["res.user"]
        if env.session.scalar(select(User.id).where(User.login == form.login.data.strip())):
            form.login.errors = [_("This login is taken.")]
        elif not form.password.data:
            form.password.errors = [_("A new user needs a password.")]
        else:
            user = User(login=form.login.data.strip(), name="")
            user.role_links = []
            env.session.add(user)
            try:
                _save(env, user, form)
                env.session.flush()
            except ValidationError as exc:
                env.session.rollback()
                form.password.errors = exc.errors.get("password", [str(exc)])
            else:
                flash(_("User %(login)s created.", login=user.login), "success")
                return redirect(url_for("web.admin_user", user_id=user.id))
    return render("web/admin_user.html", form=form, user=None)


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@page(roles=ADMIN)
def admin_user(env, user_id):
    # an id past the column's integers is no user (a 404), not a database overflow (a 500)
    user = env.session.get(env["res.user"], user_id) if user_id <= MAX_USER_ID else None
    if user is None:
        abort(404)
    if request.method == "POST":
        form = UserForm()
    else:
        form = UserForm(obj=user, data={"roles": user.role_codes(), "lang": user.lang or ""})
    form.roles.choices = _role_choices(env)
    form.login.data = user.login  # the login does not change
    if form.validate_on_submit():
        was_active = user.active
        try:
            _save(env, user, form)
            if user.id == env.user_id and "admin" not in user.role_codes():
                raise ValidationError({"roles": [_("You cannot take the admin role from yourself.")]})
            if user.id == env.user_id and not user.active:
                raise ValidationError({"active": [_("You cannot deactivate yourself.")]})
            env.session.flush()
        except ValidationError as exc:
            env.session.rollback()
            for key, msgs in exc.errors.items():
                getattr(form, key, form.password).errors = list(msgs)
        else:
            if (was_active and not user.active) or form.password.data:
                _end_sessions(env, user.id)
            flash(_("Saved."), "success")
            return redirect(url_for("web.admin_user", user_id=user.id))
    return render("web/admin_user.html", form=form, user=user)
