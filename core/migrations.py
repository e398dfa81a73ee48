"""Schema migrations: Alembic, one branch per addon.

Every addon that owns tables or columns keeps its Alembic revisions in the folder its manifest
names (``[provides].migrations``, relative to the addon folder). Those revisions form one branch,
labelled with the addon's name: the branch's first revision carries ``branch_labels =
("<addon>",)`` and ``depends_on`` the revisions of the addons it depends on (``base`` always), so
an addon's tables are created after the tables they refer to. A column an addon adds to another
addon's record (``@extends``) is added by the extending addon's branch.

``upgrade`` brings a database to the heads of the *enabled* addons' branches only, in one
transaction (PostgreSQL and SQLite alike): a failing revision leaves the database as it was.
Enabling another addon later and upgrading again adds its tables and columns and keeps every row.

``revision`` autogenerates the next revision of one addon's branch with only what that addon owns
(see ``RecordInfo.column_owner``). It diffs the models against a scratch SQLite database brought
to the enabled heads, so the developer's own database does not matter.

There is no alembic.ini and no env.py: the configuration is built here and the migration
environment runs in-process. ``migrations_env/`` holds the revision template.
See docs/migrations.md.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic import autogenerate
from alembic import util as alembic_util
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.operations import ops
from alembic.runtime.environment import EnvironmentContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Column, Connection, Engine, MetaData, inspect, text

from core.db import WRITE, is_sqlite, make_engine
from core.errors import SalesflowError
from core.plugins.addons import KERNEL_ADDON, Manifest

TEMPLATE_DIR = Path(__file__).resolve().with_name("migrations_env")
VERSION_TABLE = "alembic_version"
FILE_TEMPLATE = "%(rev)s_%(slug)s"
#: key of the PostgreSQL advisory lock two concurrent upgrades queue on
PG_LOCK_KEY = 0x5A1E5F10


class MigrationError(SalesflowError):
    """Migrations cannot run: a broken branch, a missing revision, a failing revision."""


# -- branches ----------------------------------------------------------------------------------


@dataclass
class Branches:
    """The revisions of the enabled addons: one ``ScriptDirectory`` over their folders.

    Branches are keyed by addon name; the glue revisions an addon keeps for an enabled optional
    dependency X (``[provides.when.X].migrations``) are keyed ``"addon+X"``.
    """

    script: ScriptDirectory
    folders: dict[str, Path]  # branch key -> its folder (existing or not)
    addon_of: dict[str, str] = field(default_factory=dict)  # revision id -> branch key

    def revisions(self, addon: str) -> list[Script]:
        return [self.script.get_revision(r) for r, a in self.addon_of.items() if a == addon]

    def heads(self, addon: str) -> list[str]:
        """Head revision ids of ``addon``'s branch (one, unless the branch forked)."""
        own = self.revisions(addon)
        below = {d for sc in own for d in _down(sc)}
        return sorted(sc.revision for sc in own if sc.revision not in below)

    def label(self, rev_id: str) -> str:
        return f"{self.addon_of.get(rev_id, '?')}@{rev_id}"

    def ancestors(self, rev_ids: list[str] | tuple[str, ...]) -> set[str]:
        """``rev_ids`` and every revision below them (down revisions and dependencies)."""
        seen: set[str] = set()
        todo = list(rev_ids)
        while todo:
            rev = todo.pop()
            if rev in seen:
                continue
            seen.add(rev)
            todo.extend(self.script.get_revision(rev)._all_down_revisions)
        return seen


def _down(sc: Script) -> tuple[str, ...]:
    return alembic_util.to_tuple(sc.down_revision, default=())


def _manifest_folders(manifest: Manifest, enabled: set[str]) -> dict[str, Path]:
    folders = {}
    if manifest.provides.get("migrations"):
        folders[manifest.name] = (manifest.path / manifest.provides["migrations"]).resolve()
    for other in sorted(manifest.when):
        rel = manifest.when[other].get("migrations")
        if rel and other in enabled:
            folders[f"{manifest.name}+{other}"] = (manifest.path / rel).resolve()
    return folders


def migration_folders(sf) -> dict[str, Path]:
    """The enabled addons' revision folders, by branch key (see ``Branches``)."""
    enabled = set(sf.addon_names)
    return {key: path for m in sf.addons for key, path in _manifest_folders(m, enabled).items()}


def load_branches(sf) -> Branches:
    """Read the enabled addons' revisions and check each sits on its addon's branch."""
    folders = migration_folders(sf)
    script = ScriptDirectory(str(TEMPLATE_DIR), file_template=FILE_TEMPLATE,
                             version_locations=[str(p) for p in folders.values() if p.is_dir()],
                             messaging_opts={"quiet": True})
    branches = Branches(script, folders)
    by_folder = {p: key for key, p in folders.items()}
    try:
        found = list(script.walk_revisions("base", "heads"))
    except (alembic_util.CommandError, KeyError) as exc:
        raise MigrationError(
            f"the enabled addons' revisions do not form a valid history: {exc} "
            f"(a depends_on naming a revision of an addon that is not enabled or does not exist?)"
        ) from exc
    for sc in found:
        key = by_folder.get(Path(sc.path).resolve().parent)
        if key is None:  # pragma: no cover - alembic only reads the folders given
            continue
        branches.addon_of[sc.revision] = key
        if "+" not in key and key not in sc.branch_labels:
            raise MigrationError(
                f"revision {sc.revision} ({sc.path}) is not on addon {key!r}'s branch: the "
                f"branch's first revision needs branch_labels = ({key!r},), the later ones "
                f"down_revision within the branch (other addons are reached with depends_on)"
            )
    return branches


# -- ownership ---------------------------------------------------------------------------------


class Ownership:
    """Which addon's branch a table, a column, an index or a constraint belongs to."""

    def __init__(self, sf):
        self.registry = sf.registry
        self.order = {name: i for i, name in enumerate(sf.addon_names)}

    def table(self, name: str) -> str | None:
        table = self.registry.metadata.tables.get(name)
        return table.info.get("addon") if table is not None else None

    def column(self, table_name: str, key: str) -> str | None:
        table_addon = self.table(table_name)
        info = self.registry.by_table(table_name)
        if info is None:
            return table_addon
        table = self.registry.metadata.tables[table_name]
        col = table.c.get(key)
        if col is None:
            col = next((c for c in table.c if c.name == key), None)
        if col is None:
            return None  # in the database only: never dropped automatically
        owner = info.column_owner.get(col.key)
        if owner is None or (owner == KERNEL_ADDON and table_addon != KERNEL_ADDON):
            # Record's own columns (id, version...) and unannotated ones come with the table
            return table_addon
        return owner

    def columns(self, table_name: str, keys: list[str]) -> str | None:
        """An index or constraint over several columns belongs to the latest of their owners."""
        if not keys:  # an expression index
            return self.table(table_name)
        owners = [self.column(table_name, k) for k in keys]
        if None in owners:
            return None
        return max(owners, key=lambda a: self.order.get(a, -1))

    def objects(self, addon: str) -> list[str]:
        """What ``addon`` owns in the metadata: ``table`` and ``table.column`` names."""
        owned = []
        for table in self.registry.metadata.sorted_tables:
            if table.info.get("addon") == addon:
                owned.append(table.name)
            else:
                owned.extend(f"{table.name}.{c.name}" for c in table.c
                             if self.column(table.name, c.key) == addon)
        return owned


def _schema_item_keys(obj: Any) -> list[str]:
    cols = getattr(obj, "columns", None)
    if cols is None:
        cols = getattr(obj, "expressions", [])
    return [c.name if hasattr(c, "name") else str(c) for c in cols]


# -- running -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction for a whole run. SQLite: BEGIN IMMEDIATE with foreign keys off.

    Alembic's SQLite "batch" operations recreate a table (copy, drop, rename). With foreign keys
    on, dropping a table another one refers to would run its ON DELETE actions (CASCADE deletes
    the child rows); SQLite's documented ALTER procedure switches them off outside the
    transaction and checks them before commit.
    """
    if not is_sqlite(engine):
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
            yield conn
        return
    with engine.execution_options(**{WRITE: True}).connect() as conn:
        raw = conn.connection.driver_connection
        raw.execute("PRAGMA foreign_keys = OFF")  # only outside a transaction does this count
        try:
            with conn.begin():
                yield conn
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise MigrationError(
                        f"migrations left rows whose foreign keys point nowhere: {broken[:5]}"
                    )
        finally:
            try:
                raw.execute("PRAGMA foreign_keys = ON")
            except Exception:
                conn.invalidate()  # never hand the pool a connection without foreign keys
                raise


def _run(sf, script: ScriptDirectory, conn: Connection, fn: Callable, *,
         env_kwargs: dict[str, Any] | None = None, **configure: Any) -> None:
    config = Config()
    # a hand-written revision may read them: op.get_context().config.attributes["salesflow"]
    config.attributes.update(salesflow=sf, connection=conn)
    with EnvironmentContext(config, script, fn=fn, **(env_kwargs or {})) as env:
        env.configure(
            connection=conn,
            target_metadata=sf.registry.metadata,
            version_table=VERSION_TABLE,
            transaction_per_migration=False,
            transactional_ddl=True,
            render_as_batch=True,
            **configure,
        )
        with env.begin_transaction():  # our transaction is already open: a no-op
            env.run_migrations()


def _heads_in(conn: Connection) -> tuple[str, ...]:
    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_heads()


def _check_schema_has_branches(sf, branches: Branches) -> None:
    owners = Ownership(sf)
    missing = {}
    for addon in sf.addon_names:
        owned = owners.objects(addon)
        if owned and not branches.heads(addon):
            missing[addon] = owned
    if missing:
        lines = "; ".join(f"{a!r} owns {', '.join(o[:6])}{', ...' if len(o) > 6 else ''}"
                          for a, o in missing.items())
        raise MigrationError(
            f"enabled addons own tables or columns but have no migrations: {lines}. The addon's "
            f"author generates them: salesflow --config X db revision --addon NAME -m \"...\" "
            f"(needs [provides].migrations in its manifest; see docs/migrations.md)"
        )


def _check_known(sf, branches: Branches, heads: tuple[str, ...]) -> None:
    unknown = [h for h in heads if h not in branches.addon_of]
    if not unknown:
        return
    named = []
    for rev in unknown:
        owner = _find_revision_owner(sf, rev)
        named.append(f"{rev} (addon {owner!r}, not enabled)" if owner else f"{rev} (no addon has it)")
    raise MigrationError(
        f"the database is at revisions the enabled addons do not have: {', '.join(named)}. "
        f"Salesflow never drops an addon's tables: enable the addon again, or restore the "
        f"revision files"
    )


def _find_revision_owner(sf, rev: str) -> str | None:
    for manifest in sf.catalog.available.values():
        for folder in _manifest_folders(manifest, set(manifest.when)).values():
            if folder.is_dir() and any(
                rev in p.read_text(encoding="utf-8", errors="replace") for p in folder.glob("*.py")
            ):
                return manifest.name
    return None


def _installed(branches: Branches, heads: tuple[str, ...]) -> set[str]:
    """The branches (addon names) with at least one revision in a database at ``heads``."""
    applied = branches.ancestors([h for h in heads if h in branches.addon_of])
    return {branches.addon_of[r] for r in applied if r in branches.addon_of}


def _announce_installed(sf, conn: Connection, addons: list[str]) -> None:
    """``db_addons_installed``, in the upgrade's transaction, as the system."""
    from core.env import Env

    session = sf._session_class(bind=conn, expire_on_commit=False, autoflush=True,
                                join_transaction_mode="rollback_only")
    try:
        sf.pm.hook.db_addons_installed(addons=addons, env=Env(sf, session, None))
        session.commit()  # flushes and runs before-commit work; the upgrade's transaction stays open
    finally:
        session.close()


def _upgrade(sf, branches: Branches, engine: Engine, *, announce: bool = False) -> list[str]:
    """Apply the pending revisions; ``announce``: call ``db_addons_installed`` for the addons
    whose branch was not in the database before."""
    applied: list[str] = []
    steps: list[Any] = []

    def upgrade_steps(rev, context):
        steps[:] = branches.script._upgrade_revs("heads", rev)
        return steps

    def on_apply(*, step, **_kw):
        applied.append(branches.label(step.up_revision_id))

    try:
        with _transaction(engine) as conn:
            heads = _heads_in(conn)
            _check_known(sf, branches, heads)
            before = _installed(branches, heads)
            _run(sf, branches.script, conn, upgrade_steps,
                 env_kwargs={"destination_rev": "heads"}, on_version_apply=on_apply)
            new = [a for a in sf.addon_names if branches.revisions(a) and a not in before]
            if announce and applied and new:
                _announce_installed(sf, conn, new)
    except MigrationError:
        raise
    except Exception as exc:
        what = (f"revision {branches.label(steps[len(applied)].revision.revision)}"
                if len(applied) < len(steps) else "the upgrade")
        raise MigrationError(
            f"{what} failed, nothing was changed (applied then rolled back: "
            f"{', '.join(applied) or 'none'}): {type(exc).__name__}: {exc}"
        ) from exc
    return applied


# -- public API --------------------------------------------------------------------------------


def upgrade(sf) -> list[str]:
    """Bring ``sf``'s database to the heads of its enabled addons' branches, in one transaction.

    Returns the applied revisions as ``addon@revision``, in order (empty: nothing to do).
    """
    branches = load_branches(sf)
    _check_schema_has_branches(sf, branches)
    return _upgrade(sf, branches, sf.engine, announce=True)


def check_current(sf) -> None:
    """Refuse a database the enabled addons' revisions have not been applied to: an empty one,
    or one where an addon was enabled (or updated) and ``db upgrade`` not run yet. Databases
    made with ``create_all`` (tables, no version table) are not managed and pass."""
    branches = load_branches(sf)
    with sf.engine.connect() as conn:
        heads = _heads_in(conn)
        tables = inspect(conn).get_table_names() if not heads else [VERSION_TABLE]
        conn.rollback()
    upgrade = f"run: salesflow --config {sf.config.label} db upgrade"
    if not tables:
        raise MigrationError(f"the database {_url(sf)} is empty: {upgrade}")
    if not heads or any(h not in branches.addon_of for h in heads):
        return  # unknown revisions: an addon was disabled (its tables stay; db upgrade says so)
    applied = branches.ancestors(heads)
    if any(sc.revision not in applied for key in branches.folders for sc in branches.revisions(key)):
        pending = [line for line in current(sf) if "pending" in line]
        raise MigrationError(f"the database {_url(sf)} is behind the enabled addons "
                             f"({'; '.join(pending)}): {upgrade}")


def _url(sf) -> str:
    return sf.engine.url.render_as_string(hide_password=True)


def current(sf) -> list[str]:
    """One line per enabled addon branch: where the database is, and what is pending."""
    branches = load_branches(sf)
    with sf.engine.connect() as conn:
        heads = _heads_in(conn)
        conn.rollback()
    lines = []
    known = [h for h in heads if h in branches.addon_of]
    applied = branches.ancestors(known)
    for addon in branches.folders:
        revs = branches.revisions(addon)
        if not revs:
            continue
        done = [sc for sc in revs if sc.revision in applied]
        tips = branches.heads(addon)
        if not done:
            lines.append(f"{addon}: not installed ({len(revs)} pending, head {', '.join(tips)})")
            continue
        done_ids = {sc.revision for sc in done}
        below = {d for sc in done for d in _down(sc)}
        at = sorted(done_ids - below)
        pending = len(revs) - len(done)
        state = "head" if not pending else f"{pending} pending, head {', '.join(tips)}"
        doc = branches.script.get_revision(at[0]).doc if len(at) == 1 else ""
        lines.append(f"{addon}: {', '.join(at)} ({state}){' ' + doc if doc else ''}")
    for rev in heads:
        if rev not in branches.addon_of:
            owner = _find_revision_owner(sf, rev)
            lines.append(f"?: {rev} (not in the enabled addons' migrations"
                         f"{f'; addon {owner!r} has it' if owner else ''})")
    return lines


def revision(sf, addon: str, message: str, *, rev_id: str | None = None) -> Path:
    """Autogenerate the next revision of ``addon``'s branch: only the tables and columns it owns.

    The first revision of a branch gets ``branch_labels = (addon,)`` and ``depends_on`` the heads
    of the branches of the addons it depends on. Returns the new file's path.
    """
    manifest = next((m for m in sf.addons if m.name == addon), None)
    if manifest is None:
        raise MigrationError(f"addon {addon!r} is not enabled in {sf.config.label}: "
                             f"enabled are {sf.addon_names}")
    folder = _manifest_folders(manifest, set()).get(addon)
    if folder is None:
        raise MigrationError(f"addon {addon!r} has no migrations folder: add "
                             f"migrations = \"migrations\" to [provides] in {manifest.path}/manifest.toml")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").touch()  # packaged with the addon; Alembic skips it

    branches = load_branches(sf)
    tips = branches.heads(addon)
    if len(tips) > 1:
        raise MigrationError(f"addon {addon!r}'s branch has several heads {tips}: write a merge "
                             f"revision (down_revision = both) first")
    depends_on = _dependency_heads(sf, manifest, branches)
    if tips:
        reached = branches.ancestors(tips)  # the branch already depends on these
        depends_on = [d for d in depends_on if d not in reached]

    owners = Ownership(sf)
    process = _keep_owned(owners, addon)
    command_args = dict(
        message=message, autogenerate=True, sql=False,
        head=tips[0] if tips else "base", splice=False,
        branch_label=None if tips else addon,
        version_path=str(folder),
        rev_id=rev_id or alembic_util.rev_id(),
        depends_on=depends_on or None,
    )
    with tempfile.TemporaryDirectory(prefix="salesflow-revision-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'scratch.db'}")
        try:
            _upgrade(sf, branches, engine)
            script = branches.script
            context = autogenerate.RevisionContext(Config(), script, command_args,
                                                   process_revision_directives=process)

            def compare(rev, migration_context):
                context.run_autogenerate(rev, migration_context)
                return []

            with engine.connect() as conn:
                _run(sf, script, conn, compare,
                     env_kwargs={"as_sql": False, "template_args": context.template_args,
                                 "revision_context": context},
                     include_object=_include_object(owners, addon),
                     include_name=_include_name(sf.registry.metadata),
                     compare_type=True,
                     render_item=_render_item)
                conn.rollback()
            written = [s for s in context.generate_scripts() if s is not None]
        finally:
            engine.dispose()
    return Path(written[0].path)


def _dependency_heads(sf, manifest: Manifest, branches: Branches) -> list[str]:
    owners = Ownership(sf)
    heads: list[str] = []
    for dep in dict.fromkeys([KERNEL_ADDON, *manifest.depends]):
        if dep == manifest.name:
            continue
        dep_heads = branches.heads(dep)
        if not dep_heads and owners.objects(dep):
            raise MigrationError(
                f"addon {manifest.name!r} depends on {dep!r}, which has no migrations yet: "
                f"generate the first revision of {dep!r} before"
            )
        heads.extend(dep_heads)
    # a dependency already below another one is implied (base below sale, when credit needs both)
    return [h for h in heads if not any(h in branches.ancestors([o]) for o in heads if o != h)]


def _include_name(metadata: MetaData):
    def include_name(name, type_, parent_names):
        if type_ == "table":
            # tables the models do not know are never reflected, hence never dropped
            return name in metadata.tables
        return True

    return include_name


def _include_object(owners: Ownership, addon: str):
    def include_object(obj, name, type_, reflected, compare_to):
        if type_ == "table":
            if reflected or compare_to is not None:
                return True  # an existing table: its columns are filtered one by one
            return owners.table(name) == addon
        table = getattr(obj, "table", None)
        if table is None:
            return False
        if type_ == "column":
            return owners.column(table.name, obj.key if not reflected else name) == addon
        if type_ in ("index", "unique_constraint", "foreign_key_constraint"):
            return owners.columns(table.name, _schema_item_keys(obj)) == addon
        return owners.table(table.name) == addon

    return include_object


def _keep_owned(owners: Ownership, addon: str):
    """A new table holds only its owner's columns: an ``@extends`` column enabled at the same
    time is added by the extending addon's branch."""

    def process(context, revision, directives):
        for script in directives:
            for upgrade_ops in script.upgrade_ops_list:
                for op in upgrade_ops.ops:
                    if isinstance(op, ops.CreateTableOp):
                        op.columns = _owned_items(owners, addon, op.table_name, op.columns)
                        op.info = {}  # the registry's bookkeeping, not schema

    return process


def _owned_items(owners: Ownership, addon: str, table: str, items: list) -> list:
    kept = [c for c in items if isinstance(c, Column) and owners.column(table, c.key) == addon]
    names = {c.name for c in kept}
    others = [
        item for item in items
        if not isinstance(item, Column) and set(_schema_item_keys(item)) <= names
    ]
    return kept + others


def _render_item(type_, obj, autogen_context):
    """Types from outside SQLAlchemy are rendered with their module imported."""
    if type_ == "type":
        module = type(obj).__module__
        if not module.startswith("sqlalchemy"):
            autogen_context.imports.add(f"import {module}")
            return f"{module}.{obj!r}"
    return False
