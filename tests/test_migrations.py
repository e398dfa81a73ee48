"""Schema migrations (core.migrations): one Alembic branch per addon, on SQLite and PostgreSQL.

Test addons (tests/addons): ``mig_a`` declares mig.thing (with a child table whose rows cascade on
delete), ``mig_b`` adds mig.tag and two columns to mig.thing (one a foreign key, which SQLite can
only add by recreating the table), ``mig_broken`` has a revision failing midway, ``mig_c`` keeps the glue it needs when ``mig_b`` is
enabled in a branch of its own.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import inspect, select, text

from core import migrations
from core.migrations import MigrationError

TEST_ADDONS = Path(__file__).parent / "addons"
REV_BASE = "7d3b2e4dc985"  # the kernel branch's first revision
REV_BASE_HEAD = "df0ad07259e4"  # ... and its head (web login attempts and sessions)
REV_A = "5208e55eb9b6"
REV_B = "39c30fb2a2b4"


def schema_diff(sf) -> list:
    with sf.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), sf.registry.metadata)
        conn.rollback()
    return diff


def snapshot(sf) -> dict:
    """Tables, their columns, the version table and mig_thing's rows."""
    insp = inspect(sf.engine)
    tables = sorted(insp.get_table_names())
    state = {"tables": tables, "columns": {t: sorted(c["name"] for c in insp.get_columns(t))
                                           for t in tables}}
    with sf.engine.connect() as conn:
        if "alembic_version" in tables:
            state["versions"] = sorted(conn.scalars(text("SELECT version_num FROM alembic_version")))
        if "mig_thing" in tables:
            state["things"] = conn.execute(text("SELECT id, name FROM mig_thing ORDER BY id")).all()
        conn.rollback()
    return state


def add_things(sf) -> None:
    with sf.transaction() as env:
        user = env["res.user"](login="ann", name="Ann")
        thing = env["mig.thing"](name="first")
        env.session.add_all([user, thing])
        env.session.flush()
        thing.user_id = user.id
        env.session.add_all([env["mig.thing_line"](thing_id=thing.id, qty=q) for q in (1, 2, 3)])
        env.session.add(env["mig.thing"](name="second"))


@pytest.mark.parametrize("addons", [[], ["mig_a", "mig_b"]], ids=["base", "mig_a+mig_b"])
def test_upgrade_from_empty_creates_what_the_models_describe(make_sf, addons):
    sf = make_sf(addons, create=False)
    assert migrations.current(sf)[0].startswith("base: not installed")

    applied = migrations.upgrade(sf)

    assert applied[0] == f"base@{REV_BASE}" and f"base@{REV_BASE_HEAD}" in applied
    assert [a.split("@")[0] for a in applied if a != f"base@{REV_BASE_HEAD}"] == ["base", *addons]
    assert schema_diff(sf) == []
    assert set(inspect(sf.engine).get_table_names()) == {*sf.registry.metadata.tables, "alembic_version"}
    assert migrations.upgrade(sf) == []  # at heads: nothing to do
    lines = migrations.current(sf)
    assert [line.split(":")[0] for line in lines] == ["base", *addons]
    assert all("(head)" in line for line in lines)


def test_enabling_an_addon_later_adds_its_schema_and_keeps_rows(make_sf):
    sf_a = make_sf(["mig_a"], create=False)
    applied = migrations.upgrade(sf_a)
    assert applied[0] == f"base@{REV_BASE}"
    assert sorted(applied) == [f"base@{REV_BASE}", f"base@{REV_BASE_HEAD}", f"mig_a@{REV_A}"]
    add_things(sf_a)

    sf_ab = make_sf(["mig_a", "mig_b"], create=False)
    assert migrations.current(sf_ab)[-1].startswith("mig_b: not installed (1 pending")
    assert migrations.upgrade(sf_ab) == [f"mig_b@{REV_B}"]

    assert schema_diff(sf_ab) == []
    columns = {c["name"] for c in inspect(sf_ab.engine).get_columns("mig_thing")}
    assert {"color", "tag_id"} <= columns
    with sf_ab.transaction() as env:
        Thing, Line = env["mig.thing"], env["mig.thing_line"]
        things = env.session.scalars(select(Thing).order_by(Thing.id)).all()
        assert [(t.name, t.color, t.tag_id) for t in things] == [("first", None, None),
                                                                  ("second", None, None)]
        assert things[0].user_id is not None
        # the child rows survived (on SQLite mig_thing was recreated to add the foreign key)
        assert sorted(env.session.scalars(select(Line.qty))) == [1, 2, 3]
        tag = env["mig.tag"](label="blue")
        env.session.add(tag)
        env.session.flush()
        things[0].tag_id, things[0].color = tag.id, "blue"
    with sf_ab.transaction(readonly=True) as env:
        thing = env.session.scalars(select(env["mig.thing"]).where(env["mig.thing"].name == "first")).one()
        assert (thing.color, thing.tag_id) == ("blue", thing.tag_id) and thing.tag_id
    assert migrations.upgrade(sf_ab) == []
    if sf_ab.dialect == "sqlite":  # switched off for the upgrade only
        with sf_ab.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


@pytest.mark.parametrize("from_empty", [True, False], ids=["from-empty", "over-mig_a"])
def test_failing_revision_leaves_the_database_as_it_was(make_sf, from_empty):
    if not from_empty:
        sf_a = make_sf(["mig_a"], create=False)
        migrations.upgrade(sf_a)
        add_things(sf_a)
    sf = make_sf(["mig_a", "mig_broken"], create=False)
    before = snapshot(sf)

    with pytest.raises(MigrationError, match=r"mig_broken@b0b0b0b0b0b0 failed, nothing was changed"):
        migrations.upgrade(sf)

    assert snapshot(sf) == before
    if from_empty:
        assert before == {"tables": [], "columns": {}}
    else:
        assert sorted(before["versions"]) == sorted([REV_A, REV_BASE_HEAD])
        assert [name for _, name in before["things"]] == ["first", "second"]
    with pytest.raises(MigrationError):  # and again: nothing was half-applied
        migrations.upgrade(sf)
    assert snapshot(sf) == before


def test_glue_for_an_optional_dependency_has_a_branch_of_its_own(make_sf):
    sf_c = make_sf(["mig_c"], create=False)  # without mig_b: the glue branch is not loaded
    assert [a.split("@")[0] for a in migrations.upgrade(sf_c)
            if a != f"base@{REV_BASE_HEAD}"] == ["base", "mig_c"]
    assert schema_diff(sf_c) == []

    sf_all = make_sf(["mig_a", "mig_b", "mig_c"], create=False)
    assert migrations.upgrade(sf_all) == [f"mig_a@{REV_A}", f"mig_b@{REV_B}",
                                          "mig_c+mig_b@c0b0c0b0c0b0"]
    assert schema_diff(sf_all) == []
    assert migrations.current(sf_all)[-1] == "mig_c+mig_b: c0b0c0b0c0b0 (head) tag.note_id: " \
                                              "mig_c's glue for mig_b, applied only when both " \
                                              "are enabled"


def test_database_ahead_of_the_enabled_addons_is_refused(make_sf):
    migrations.upgrade(make_sf(["mig_a"], create=False))
    sf = make_sf([], create=False)
    assert migrations.current(sf)[-1].startswith(f"?: {REV_A} (not in the enabled addons' "
                                                 f"migrations; addon 'mig_a' has it)")
    with pytest.raises(MigrationError, match=r"addon 'mig_a', not enabled"):
        migrations.upgrade(sf)


def test_revision_autogenerates_only_what_each_addon_owns(make_sf, tmp_path):
    root = tmp_path / "addons"
    for name in ("mig_a", "mig_b"):
        shutil.copytree(TEST_ADDONS / name, root / name,
                        ignore=shutil.ignore_patterns("migrations", "__pycache__"))
    sf = make_sf(["mig_a", "mig_b"], create=False, addons_path=(root,))
    with pytest.raises(MigrationError, match=r"'mig_a' owns mig_thing, mig_thing_line; "
                                             r"'mig_b' owns mig_tag, mig_thing.color"):
        migrations.upgrade(sf)
    with pytest.raises(MigrationError, match="generate the first revision of 'mig_a'"):
        migrations.revision(sf, "mig_b", "tags")

    # mig_b is enabled too, yet mig_a's new table gets only mig_a's columns
    path_a = migrations.revision(sf, "mig_a", "things", rev_id="aaaa00000001")
    assert path_a == root / "mig_a" / "migrations" / "aaaa00000001_things.py"
    text_a = path_a.read_text()
    assert "branch_labels = ('mig_a',)" in text_a
    assert f"depends_on = '{REV_BASE_HEAD}'" in text_a
    assert "op.create_table('mig_thing'," in text_a and "'mig_thing_line'" in text_a
    assert "color" not in text_a and "tag_id" not in text_a and "res_user'," not in text_a

    text_b = migrations.revision(sf, "mig_b", "tags", rev_id="bbbb00000001").read_text()
    assert "branch_labels = ('mig_b',)" in text_b
    assert "depends_on = 'aaaa00000001'" in text_b  # base is implied by mig_a
    assert "op.create_table('mig_tag'," in text_b
    assert "batch_op.add_column(sa.Column('color', sa.String(length=16)" in text_b
    assert "create_table('mig_thing'" not in text_b

    assert [a.split("@")[1] for a in migrations.upgrade(sf)] == [REV_BASE, REV_BASE_HEAD,
                                                                  "aaaa00000001", "bbbb00000001"]
    assert schema_diff(sf) == []
    # nothing changed since: the next revision of the branch is empty and continues it
    text_next = migrations.revision(sf, "mig_a", "nothing", rev_id="aaaa00000002").read_text()
    assert "down_revision = 'aaaa00000001'" in text_next and "branch_labels = None" in text_next
    assert "depends_on = None" in text_next and "op." not in text_next.split("def upgrade")[1]


def test_kernel_revisions_match_the_kernel_models(make_sf):
    """base's committed branch: one revision, labelled base (its schema: the test above)."""
    sf = make_sf([], create=False)
    branches = migrations.load_branches(sf)
    assert branches.heads("base") == [REV_BASE_HEAD]
    assert all(sc.branch_labels == {"base"} for sc in branches.revisions("base"))


def test_cli_db_upgrade_and_current(tmp_path):
    from core.cli import main

    db = tmp_path / "x.db"
    config = tmp_path / "x.toml"
    config.write_text(f'[client]\nname = "x"\naddons = ["mig_a"]\naddons_path = ["{TEST_ADDONS}"]\n'
                      f'database_url = "sqlite:///{db}"\n')
    runner = CliRunner()
    result = runner.invoke(main, ["--config", str(config), "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert result.output == (f"database at heads: base@{REV_BASE}, mig_a@{REV_A}, "
                             f"base@{REV_BASE_HEAD}\n")
    result = runner.invoke(main, ["--config", str(config), "db", "current"])
    assert result.output.splitlines() == [f"base: {REV_BASE_HEAD} (head) web login attempts and sessions",
                                          f"mig_a: {REV_A} (head) things and lines"]
    result = runner.invoke(main, ["--config", str(config), "db", "upgrade"])
    assert result.output == "database at heads: (nothing to do)\n"


def _shipped_addons() -> list[str]:
    from core.plugins.addons import BUILTIN_ADDONS_DIR

    return sorted(p.name for p in BUILTIN_ADDONS_DIR.iterdir() if (p / "manifest.toml").is_file())


@pytest.mark.parametrize("addon", _shipped_addons())
def test_shipped_addon_migrations_match_its_models(make_sf, addon):
    """A model change without its migration fails here (on both databases)."""
    from core.plugins.addons import AddonCatalog

    catalog = AddonCatalog.discover()
    needed, todo = [], [addon]
    while todo:  # the addon with its dependencies (never enabled silently, so list them)
        name = todo.pop()
        if name not in needed and name != "base":
            needed.append(name)
            todo.extend(catalog.available[name].depends)
    sf = make_sf(needed, create=False)
    migrations.upgrade(sf)
    assert schema_diff(sf) == []
