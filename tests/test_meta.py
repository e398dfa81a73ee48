"""Rules about the project itself, checked mechanically (after datasette and Tryton):

* every hookspec has a docstring, a section ``## name(arg1, arg2)`` in docs/hooks.md and a test
  named ``test_hook_<name>`` somewhere under tests/ or addons/;
* every addon builds alone with its declared dependencies (and creates its tables).

Both read what exists when the tests run, so new hookspecs and addons are covered as they come.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from core.plugins import hookspecs
from core.plugins.addons import BUILTIN_ADDONS_DIR, AddonCatalog
from core.testing import TEST_ADDONS

ROOT = Path(__file__).resolve().parents[1]
HOOKS_DOC = ROOT / "docs" / "hooks.md"
#: deliberately broken fixtures (a failing migration, a bad manifest) opt out of "builds alone"
#: by having "broken" in their name
BROKEN_MARK = "broken"


def hookspec_functions() -> dict[str, object]:
    marker = f"{hookspecs.PROJECT}_spec"
    return {name: fn for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
            if hasattr(fn, marker)}


HOOKS = sorted(hookspec_functions())


def heading(name: str) -> str:
    args = ", ".join(inspect.signature(hookspec_functions()[name]).parameters)
    return f"## {name}({args})"


def test_the_kernel_hooks_are_found():
    assert {"workflow_transition_blockers", "record_validate", "record_rule_filters",
            "approval_fingerprint", "app_configured", "demo_data"} <= set(HOOKS)


@pytest.mark.parametrize("name", HOOKS)
def test_every_hookspec_has_a_docstring(name):
    doc = inspect.getdoc(hookspec_functions()[name])
    assert doc and len(doc.split()) >= 8, f"hookspec {name} needs a docstring saying when it is " \
        "called, what to return and what is forbidden"


@pytest.mark.parametrize("name", HOOKS)
def test_every_hookspec_is_documented(name):
    headings = [line.strip() for line in HOOKS_DOC.read_text(encoding="utf-8").splitlines()
                if line.startswith("## ")]
    assert heading(name) in headings, f"docs/hooks.md needs a section '{heading(name)}'"


def test_docs_describe_no_hook_that_does_not_exist():
    documented = re.findall(r"^## (\w+)\(", HOOKS_DOC.read_text(encoding="utf-8"), re.MULTILINE)
    assert sorted(set(documented) - set(HOOKS)) == []
    assert len(documented) == len(set(documented)), "a hook is documented twice"


def _test_sources() -> str:
    files = [p for folder in (ROOT / "tests", ROOT / "addons") for p in folder.rglob("*.py")]
    return "\n".join(p.read_text(encoding="utf-8") for p in files)


@pytest.mark.parametrize("name", HOOKS)
def test_every_hookspec_has_a_test(name):
    found = re.search(rf"^\s*def test_hook_{name}\(", _test_sources(), re.MULTILINE) is not None
    assert found, f"write a test named test_hook_{name} (under tests/ or addons/)"


# -- every addon builds alone ----------------------------------------------------------------


def _addons() -> list[str]:
    catalog = AddonCatalog.discover([TEST_ADDONS])
    return sorted(name for name, m in catalog.available.items()
                  if name != "base" and BROKEN_MARK not in name
                  and m.path.parent in (BUILTIN_ADDONS_DIR.resolve(), TEST_ADDONS.resolve()))


def _with_depends(catalog: AddonCatalog, name: str) -> list[str]:
    needed, todo = [], [name]
    while todo:
        current = todo.pop()
        if current not in needed:
            needed.append(current)
            todo.extend(catalog.available[current].depends)
    return needed


@pytest.mark.parametrize("addon", _addons())
def test_every_addon_builds_alone_with_its_depends(addon, make_sf):
    catalog = AddonCatalog.discover([TEST_ADDONS])
    addons = _with_depends(catalog, addon)
    sf = make_sf(addons)  # composes, compiles workflows, registers hooks, creates the tables
    assert addon in sf.addon_names
    assert set(sf.addon_names) == set(addons) | {"base"}  # nothing else came along
    with sf.transaction() as env:
        for record in sf.registry.records:
            env.search(record, limit=1)
