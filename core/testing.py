"""Test fixtures and helpers for the kernel, our addons and partners' addons (a pytest plugin:
``pytest_plugins = ["core.testing"]`` in a root conftest.py).

Every test that uses ``db_url`` (directly or through ``make_sf``) runs twice: on SQLite and on
PostgreSQL. PostgreSQL comes from ``$SALESFLOW_TEST_PG_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); each test gets a schema of its own, dropped
afterwards. When PostgreSQL is unreachable its runs are skipped, unless
``SALESFLOW_REQUIRE_PG=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, text

from core.app import Salesflow, create_app, today_in
from core.config import DEFAULT_TIMEZONE, ApprovalLevel, ApprovalRule, ClientConfig
from core.db import make_engine

PG_URL = os.environ.get("SALESFLOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("SALESFLOW_REQUIRE_PG") == "1"
TEST_ADDONS = Path(__file__).resolve().parents[1] / "tests" / "addons"
_pg_ok: bool | None = None

#: the apps' "today" for the whole test run (``make_sf`` pins it): the date in the default
#: client time zone when the run started, so a run crossing midnight there still agrees with
#: what its tests compare against
CLIENT_TODAY = today_in(DEFAULT_TIMEZONE)


def pg_available() -> bool:
    global _pg_ok
    if _pg_ok is None:
        try:
            engine = create_engine(PG_URL)
            with engine.connect() as conn:
                conn.execute(text("select 1"))
            engine.dispose()
            _pg_ok = True
        except Exception:
            _pg_ok = False
    return _pg_ok


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty database per test: an SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    if not pg_available():
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required (SALESFLOW_REQUIRE_PG=1) but {PG_URL} is unreachable")
        pytest.skip("PostgreSQL unreachable")
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def approval_rule(record: str, trigger: str, levels: list[tuple[str, str]],
                  amount_field: str = "amount_total") -> ApprovalRule:
    from decimal import Decimal

    return ApprovalRule(record, trigger, amount_field,
                        tuple(ApprovalLevel(Decimal(o), r) for o, r in levels))


@pytest.fixture
def make_sf(db_url):
    """Build a Salesflow for an addon set on the test database, tables created.

        sf = make_sf(["sale"], settings={"sale": {...}}, approvals=[approval_rule(...)])
    """
    built: list[Salesflow] = []

    def build(addons: list[str], *, settings: dict | None = None, approvals=(),
              create: bool = True, addons_path=(TEST_ADDONS,), **client) -> Salesflow:
        config = ClientConfig(
            name="test", addons=list(addons), database_url=db_url,
            addons_path=[Path(p) for p in addons_path], approvals=list(approvals),
            addon_settings=settings or {}, secret_key="test-secret", **client,
        )
        # a client in another time zone keeps the clock (its tests are about that zone's date)
        pinned = CLIENT_TODAY if config.timezone == DEFAULT_TIMEZONE else None
        sf = Salesflow(config, engine=make_engine(db_url), today=pinned)
        if create:
            sf.create_all()
        built.append(sf)
        return sf

    yield build
    for sf in built:
        sf.engine.dispose()


@pytest.fixture
def make_client():
    """A Flask test client for a built Salesflow."""

    def build(sf: Salesflow):
        app = create_app(salesflow=sf, testing=True)
        return app.test_client()

    return build


def add_user(sf: Salesflow, login: str, *roles: str, password: str = "password123") -> int:
    with sf.transaction() as env:
        user = env["res.user"](login=login, name=login.title())
        user.set_password(password)
        user.role_links = [env["res.user_role"](role=r) for r in roles]
        env.session.add(user)
        env.session.flush()
        return user.id


def token_for(sf: Salesflow, login: str) -> dict[str, str]:
    """Authorization header with a fresh API token for ``login``."""
    from sqlalchemy import select

    from core.security import new_token

    with sf.transaction() as env:
        User = env["res.user"]
        uid = env.session.scalars(select(User.id).where(User.login == login)).one()
        token, digest = new_token()
        env.session.add(env["res.api_token"](user_id=uid, name="test", token_hash=digest))
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def count_queries():
    """Count SQL statements on an engine: ``with count_queries(engine) as n: ...; n.value``
    (``n.statements``: their texts)."""
    import contextlib

    class Counter:
        def __init__(self):
            self.value = 0
            self.statements: list[str] = []

    @contextlib.contextmanager
    def counting(engine):
        counter = Counter()

        def before(_conn, _cursor, statement, *_args, **_kw):
            counter.value += 1
            counter.statements.append(statement)

        event.listen(engine, "before_cursor_execute", before)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return counting
