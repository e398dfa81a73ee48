"""Fixtures of the kernel tests (``core.testing`` provides ``db_url``, ``make_sf`` and friends).

The kernel is tested through two test-only addons in ``tests/addons``: ``kt_doc`` declares the
``kt.doc`` record with a workflow, roles, a record rule and settings; ``kt_ext`` extends it
through every extension point. Broken addons are written per test into ``tmp_path``
(``tmp_addons``), never into ``tests/addons``.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

KT = ["kt_doc"]
KT_EXT = ["kt_doc", "kt_ext"]


@pytest.fixture
def users():
    """Create users (no password: hashing is slow by design) -> {login: id}.

    ``users(sf, clerk=["kt_clerk"], boss=["kt_manager", "kt_director"])``
    """

    def create(sf, **roles_by_login: list[str]) -> dict[str, int]:
        ids = {}
        with sf.transaction() as env:
            for login, roles in roles_by_login.items():
                user = env["res.user"](login=login, name=login.title())
                user.role_links = [env["res.user_role"](role=r) for r in roles]
                env.session.add(user)
                env.session.flush()
                ids[login] = user.id
        return ids

    return create


@pytest.fixture
def new_doc():
    """Create a kt.doc as ``user`` (None: the system) and return its id. ``owner`` defaults to
    the user: a clerk sees only the documents they own."""

    def create(sf, user=None, *, name="doc", amount="10.00", owner=None, **values) -> int:
        owner = owner if owner is not None else user
        if isinstance(owner, int):
            values.setdefault("owner_id", owner)
        with sf.transaction(user) as env:
            doc = env.create("kt.doc", name=name, amount=Decimal(amount), **values)
            return doc.id

    return create


@pytest.fixture
def tmp_addons(tmp_path):
    """Write throwaway addons into a folder of ``tmp_path``:

        root = tmp_addons("kt_tmp_a", manifest="...", files={"models.py": "..."})

    ``manifest`` is the text of manifest.toml (default: a valid one with ``depends``). The
    addons' modules are forgotten afterwards, so the next test can reuse the names.
    """
    written: list[str] = []
    roots: set[Path] = set()

    def write(name: str, *, manifest: str | None = None, depends=(), files=None,
              folder: str = "addons", provides: str = "") -> Path:
        root = tmp_path / folder
        addon = root / name
        addon.mkdir(parents=True, exist_ok=True)
        if manifest is None:
            deps = ", ".join(f'"{d}"' for d in depends)
            manifest = (f'[addon]\nname = "{name}"\nversion = "0.1.0"\nsummary = "test"\n'
                        f"depends = [{deps}]\n\n[provides]\n{textwrap.dedent(provides)}")
        (addon / "manifest.toml").write_text(textwrap.dedent(manifest), encoding="utf-8")
        (addon / "__init__.py").write_text("", encoding="utf-8")
        for rel, text in (files or {}).items():
            (addon / rel).parent.mkdir(parents=True, exist_ok=True)
            (addon / rel).write_text(textwrap.dedent(text), encoding="utf-8")
        written.append(name)
        roots.add(root)
        importlib.invalidate_caches()
        return root

    yield write
    for name in written:
        for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[module]
    for root in roots:
        while str(root.resolve()) in sys.path:
            sys.path.remove(str(root.resolve()))
