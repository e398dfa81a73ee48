"""``Salesflow``: one client's composed system (addons, records, hooks, workflows, database),
and ``create_app``: the Flask application factory around it.

Building follows one recorded addon order (dependencies first, ties by name), which drives
models, hooks, workflow patches, security, blueprints and signals alike. Once built, a
``Salesflow`` does not change: a different addon set is a different ``Salesflow``, and several
can live in one process.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session

from core.audit import Audit
from core.config import ClientConfig, load_addon_settings
from core.db import WRITE, make_engine
from core.env import Env, session_class
from core.errors import AddonError, ConfigError
from core.plugins import build_plugin_manager
from core.plugins.addons import AddonCatalog, Manifest, load_object
from core.registry import Registry
from core.security import Security
from core.sequences import Sequences
from core.workflow.engine import Workflows


class Salesflow:
    def __init__(self, config: ClientConfig, *, engine: Engine | None = None,
                 today: dt.date | None = None):
        self.config = config
        #: a fixed calendar date instead of the clock's (tests: one date for a whole run, even
        #: one that crosses midnight in the client's time zone)
        self.fixed_today = today
        self.catalog = AddonCatalog.discover(config.addons_path)
        self.addons: list[Manifest] = self.catalog.resolve(config.addons)
        self.addon_names = [m.name for m in self.addons]
        enabled = set(self.addon_names)

        # per-addon settings: validated by each addon's own schema
        stray = sorted(set(config.addon_settings) - enabled)
        if stray:
            raise ConfigError(f"{config.label}: [addon.X] tables for addons that are not enabled: {stray}")
        self.settings: dict[str, dict[str, Any]] = {}
        for m in self.addons:
            refs = m.provided("config_schema", enabled)
            raw = config.addon_settings.get(m.name)
            if refs:
                schema = load_object(m, refs[0])()
                self.settings[m.name] = load_addon_settings(schema, raw, config, m.name)
            elif raw:
                raise ConfigError(f"{config.label}: [addon.{m.name}]: this addon takes no settings")
            else:
                self.settings[m.name] = {}

        # records
        self.registry = Registry()
        self.registry.build(
            [(m.name, [load_object(m, ref) for ref in m.provided("models", enabled)])
             for m in self.addons]
        )

        # hooks (registered in addon order; pluggy calls the last registered first)
        self.pm = build_plugin_manager(
            [(m.name, load_object(m, ref)) for m in self.addons for ref in m.provided("hooks", enabled)]
        )

        # security
        self.security = Security()
        for m in self.addons:
            for ref in m.provided("security", enabled):
                text = (m.path / ref).read_text(encoding="utf-8")
                self.security.load(m.name, text, set(self.registry.records))
        self.security.check_roles_declared()

        # workflows
        self.workflows = Workflows()
        self.workflows.build(
            specs=[(m.name, load_object(m, r)) for m in self.addons for r in m.provided("workflows", enabled)],
            patches=[(m.name, load_object(m, r)) for m in self.addons
                     for r in m.provided("workflow_patches", enabled)],
            registry=self.registry,
            known_roles=set(self.security.roles),
            approvals=config.approvals,
            config_label=config.label,
        )

        self._session_class = session_class()
        self.record_by_table = {info.cls.__table__: info.cls for info in self.registry.records.values()}
        self.rule_options_cache: dict[tuple, dict] = {}
        self.audit = Audit(self.registry)
        self.sequences = Sequences(self.registry)
        self._engine = engine

        from core import signals

        for m in self.addons:
            for ref in m.provided("signals", enabled):
                load_object(m, ref)(signals, self)

    # -- database ---------------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.config.database_url)
        return self._engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def create_all(self) -> None:
        """Create every table directly (tests and throwaway databases; use migrations else)."""
        self.registry.metadata.create_all(self.engine)

    def drop_all(self) -> None:
        self.registry.metadata.drop_all(self.engine)

    def today(self) -> dt.date:
        """Today in the client's time zone (``timezone`` in the config): the one calendar date
        every document, due date and aging uses. The machine's own date differs from it for
        part of each day (Shanghai is 8 hours ahead of UTC)."""
        if self.fixed_today is not None:
            return self.fixed_today
        return today_in(self.config.timezone)

    @contextlib.contextmanager
    def transaction(self, user: Any = None, *, readonly: bool = False) -> Iterator[Env]:
        """One unit of work as ``user`` (a res.user, its id or login; None = the system)."""
        bind = self.engine if readonly else self.engine.execution_options(**{WRITE: True})
        session = self._session_class(bind=bind, expire_on_commit=False, autoflush=True)
        try:
            env = Env(self, session, *self._identify(session, user))
            yield env
            if readonly:
                session.rollback()
            else:
                session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        for callback in env._after_commit:
            callback()

    def _identify(self, session: Session, user: Any) -> tuple[int | None, frozenset[str]]:
        """The id and roles of ``user`` (a res.user, its id or login; None = the system), in
        one Core statement: the roles decide every access check of the transaction."""
        if user is None:
            return None, frozenset()
        from core.errors import AuthenticationError
        from core.security import ApiToken

        users = self.registry["res.user"].__table__
        links = self.registry["res.user_role"].__table__
        if isinstance(user, self.registry["res.user"]):
            user = user.id
        stmt = select(users.c.id, users.c.active, links.c.role).select_from(
            users.outerjoin(links, links.c.user_id == users.c.id))
        if isinstance(user, ApiToken):
            tokens = self.registry["res.api_token"].__table__
            now = dt.datetime.now(dt.UTC)
            if self.engine.dialect.name == "sqlite":  # SQLite keeps naive UTC datetimes
                now = now.replace(tzinfo=None)
            stmt = stmt.join(tokens, tokens.c.user_id == users.c.id).where(
                tokens.c.token_hash == user.digest, tokens.c.revoked.is_(False),
                or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > now))
            refusal = "invalid or expired API token"
        else:
            column = users.c.id if isinstance(user, int) else users.c.login
            stmt = stmt.where(column == user)
            refusal = f"no active user {user!r}"
        rows = session.connection().execute(stmt).all()
        if not rows or not rows[0].active:
            raise AuthenticationError(refusal)
        return rows[0].id, frozenset(row.role for row in rows if row.role is not None)

    def flask_secret(self) -> str:
        return self.config.secret_key or _instance_secret(self.config)


def today_in(timezone: str) -> dt.date:
    """The calendar date now in ``timezone`` (an IANA name)."""
    return dt.datetime.now(ZoneInfo(timezone)).date()


def _instance_secret(config: ClientConfig) -> str:
    """A per-installation secret kept next to the SQLite file (or in instance/)."""
    import os

    env_secret = os.environ.get("SALESFLOW_SECRET_KEY")
    if env_secret:
        return env_secret
    folder = Path(config.path).parent.parent / "instance" if config.path else Path("instance")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{Path(config.path).stem if config.path else 'client'}.secret"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def create_app(config: ClientConfig | str | Path | None = None, *, salesflow: Salesflow | None = None,
               testing: bool = False) -> Flask:
    """Build the Flask app for one client config (default: $SALESFLOW_CONFIG or default.toml)."""
    if salesflow is None:
        if not isinstance(config, ClientConfig):
            config = ClientConfig.load(config)
        salesflow = Salesflow(config)
    app = Flask("salesflow", instance_relative_config=False)
    app.config.update(
        SECRET_KEY=salesflow.flask_secret(),
        TESTING=testing,
        JSON_SORT_KEYS=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.extensions["salesflow"] = salesflow
    from core import api, web

    api.init_app(app)
    web.init_app(app, salesflow)
    enabled = set(salesflow.addon_names)
    for m in salesflow.addons:
        for ref in m.provided("blueprints", enabled):
            bp = load_object(m, ref)
            try:
                app.register_blueprint(bp)
            except ValueError as exc:
                raise AddonError(f"addon {m.name!r}: blueprint {ref!r}: {exc}") from exc
    web.exempt_api_blueprints(app)
    salesflow.pm.hook.app_configured(app=app, salesflow=salesflow)
    return app
