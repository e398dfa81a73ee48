"""Addons installed as distributions (``pip install salesflow-loyalty``), found through the
``salesflow.addons`` entry-point group.

pip leaves two things in site-packages: the package and a ``<name>-<version>.dist-info``
folder whose ``entry_points.txt`` names it. The tests write exactly that into a folder put on
``sys.path``, so ``importlib.metadata`` finds the distribution as it finds any installed one.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from core.errors import AddonError, TransitionBlocked
from core.plugins.addons import AddonCatalog
from core.testing import TEST_ADDONS

PACKAGE = "kt_pip_loyalty"
DIST = "kt-pip-loyalty"

MANIFEST = f"""
[addon]
name = "{PACKAGE}"
version = "1.2.0"
summary = "Loyalty points on kt.doc, shipped as a pip package"
depends = ["kt_doc"]

[provides]
models = ["models"]
hooks = ["hooks"]
"""

MODELS = """
from sqlalchemy import Integer
from sqlalchemy.orm import Mapped, mapped_column

from core.registry import extends


@extends("kt.doc")
class KtDocLoyalty:
    loyalty_points: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
"""

HOOKS = """
from core.plugins import hookimpl


@hookimpl
def workflow_transition_blockers(record, trigger, source, dest, env):
    if record.__record__ == "kt.doc" and trigger == "confirm" and (record.loyalty_points or 0) < 0:
        return ["kt_pip_loyalty: loyalty points cannot be negative"]
    return []
"""


def _install(site: Path, *, package: str = PACKAGE, dist: str = DIST, target: str | None = None,
             files: dict[str, str] | None = None) -> None:
    """What ``pip install`` leaves in site-packages: the package (unless ``files`` is None)
    and its dist-info with the entry point ``<package> = <target>``."""
    if files is not None:
        pkg = site / package
        pkg.mkdir(parents=True)
        for rel, text in {"__init__.py": "", **files}.items():
            (pkg / rel).write_text(textwrap.dedent(text), encoding="utf-8")
    info = site / f"{dist.replace('-', '_')}-1.2.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.0\n",
                                   encoding="utf-8")
    (info / "entry_points.txt").write_text(
        f"[salesflow.addons]\n{package} = {target or package}\n", encoding="utf-8")


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A site-packages folder on ``sys.path``; its packages are forgotten afterwards."""
    folder = tmp_path / "site-packages"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()


def _full(site: Path) -> None:
    _install(site, files={"manifest.toml": MANIFEST, "models.py": MODELS, "hooks.py": HOOKS})
    importlib.invalidate_caches()


def test_an_installed_distribution_is_in_the_catalog_with_its_origin(site):
    _full(site)
    catalog = AddonCatalog.discover([TEST_ADDONS])
    manifest = catalog.available[PACKAGE]
    assert manifest.version == "1.2.0"
    assert manifest.depends == ("kt_doc",)
    assert manifest.origin == f"entry point {DIST}"
    assert manifest.path == site / PACKAGE


def test_an_installed_addon_is_enabled_by_config_like_a_folder_one(site, make_sf, new_doc):
    _full(site)
    sf = make_sf(["kt_doc", PACKAGE])
    assert sf.addon_names == ["base", "kt_doc", PACKAGE]
    # its column is on kt.doc's table, its hook joins kt.doc's workflow
    doc_id = new_doc(sf, name="points", amount="5.00", loyalty_points=-3)
    with sf.transaction() as env:
        doc = env.get("kt.doc", doc_id)
        assert doc.loyalty_points == -3
        with pytest.raises(TransitionBlocked) as refused:
            doc.fire("confirm")
        assert "kt_pip_loyalty: loyalty points cannot be negative" in str(refused.value)
    with sf.transaction() as env:
        assert env.get("kt.doc", doc_id).state == "draft"  # the refusal changed nothing
        env.get("kt.doc", doc_id).loyalty_points = 10
    with sf.transaction() as env:
        env.get("kt.doc", doc_id).fire("confirm")
    with sf.transaction() as env:
        assert env.get("kt.doc", doc_id).state == "confirmed"
        assert env.get("kt.doc", doc_id).amount == Decimal("5.00")


def test_installed_but_not_enabled_changes_nothing(site, make_sf):
    _full(site)
    sf = make_sf(["kt_doc"])
    assert PACKAGE not in sf.addon_names
    assert "loyalty_points" not in sf.registry["kt.doc"].__table__.c


def test_an_entry_point_naming_a_missing_package_is_named(site):
    _install(site, target="kt_pip_nowhere")  # dist-info only: the package was not installed
    importlib.invalidate_caches()
    with pytest.raises(AddonError, match=r"entry point kt_pip_loyalty = 'kt_pip_nowhere'"):
        AddonCatalog.discover([TEST_ADDONS])


@pytest.mark.parametrize("folder_addon_imported", [True, False])
def test_an_installed_addon_cannot_take_a_folder_addons_name(site, folder_addon_imported):
    """Whichever ``kt_doc`` Python imports, the other is shadowed: refused, naming both."""
    impostor = MANIFEST.replace(f'name = "{PACKAGE}"', 'name = "kt_doc"').replace(
        'depends = ["kt_doc"]', "depends = []")
    _install(site, package="kt_doc", dist="kt-doc-impostor", files={"manifest.toml": impostor})
    kept = {m: sys.modules.pop(m) for m in list(sys.modules) if m == "kt_doc" or m.startswith("kt_doc.")}
    if folder_addon_imported:  # the folder's copy imported first (an app was built before)
        sys.path.insert(0, str(TEST_ADDONS))
        importlib.import_module("kt_doc")
        sys.path.remove(str(TEST_ADDONS))
    importlib.invalidate_caches()
    try:
        with pytest.raises(AddonError, match=r"kt-doc-impostor") as refused:
            AddonCatalog.discover([TEST_ADDONS])
        message = str(refused.value)
        assert "kt_doc" in message and str(TEST_ADDONS) in message and str(site) in message
    finally:
        for name in [m for m in sys.modules if m == "kt_doc" or m.startswith("kt_doc.")]:
            del sys.modules[name]
        sys.modules.update(kept)
