"""Addon discovery and ordering.

An addon is a Python package with a ``manifest.toml`` beside its ``__init__.py``. The manifest is
data: it is read with ``tomllib`` without importing the addon. Addons are found in

1. the kernel's built-in ``base`` addon (always enabled, always first),
2. the repository's ``addons/`` folder,
3. extra folders named by a client config (``[client].addons_path``),
4. installed distributions, through the ``salesflow.addons`` entry-point group
   (``[project.entry-points."salesflow.addons"] my_addon = "my_addon"``).

Folder addons are imported as top-level packages named after their folder, so an addon's code
uses relative imports and reaches other addons only through the registry.
"""

from __future__ import annotations

import heapq
import importlib
import importlib.metadata
import importlib.resources
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import AddonError

ENTRY_POINT_GROUP = "salesflow.addons"
KERNEL_ADDON = "base"
BUILTIN_ADDONS_DIR = Path(__file__).resolve().parents[2] / "addons"
KERNEL_ADDON_DIR = Path(__file__).resolve().parents[1] / "base"

# Keys of [provides] and the type each takes. Module paths are relative to the addon package;
# "module:attr" names an object in it.
PROVIDES_KEYS: dict[str, type] = {
    "models": list,  # modules holding @model / @extends classes
    "hooks": list,  # modules holding @hookimpl functions
    "workflows": list,  # "module:ATTR" WorkflowSpec objects
    "workflow_patches": list,  # "module:ATTR" WorkflowPatch objects
    "blueprints": list,  # "module:bp" Flask blueprints
    "signals": list,  # "module:connect" functions taking the signals module
    "config_schema": str,  # "module:Schema" marshmallow schema for [addon.<name>]
    "security": str,  # data file (TOML) with roles, model access and workflow roles
    "migrations": str,  # folder of Alembic revisions (this addon's branch)
    "templates": str,  # Jinja template folder
    "cli": list,  # "module:group" click commands added to the salesflow CLI
    "views": list,  # "module:VIEWS" core.web.Views objects (menus, lists, forms, pages)
    "translations": str,  # folder of gettext catalogs (<lang>/LC_MESSAGES/messages.po/.mo)
}


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    summary: str
    depends: tuple[str, ...]
    optional_depends: tuple[str, ...]
    provides: dict[str, Any]
    when: dict[str, dict[str, Any]]  # optional glue, keyed by the other addon's name
    package: str  # import name
    path: Path  # folder holding manifest.toml
    origin: str  # "builtin", "folder <path>", "entry point <dist>"

    def provided(self, key: str, enabled: set[str]) -> list[str]:
        """Values of ``key`` from [provides] plus the [provides.when.X] of enabled X, in order."""
        values: list[str] = []
        for source in [self.provides] + [self.when[o] for o in sorted(self.when) if o in enabled]:
            value = source.get(key)
            if value is None:
                continue
            values.extend(value if isinstance(value, list) else [value])
        return values

    def qualify(self, ref: str) -> str:
        """``models.customer`` -> ``sale.models.customer`` (the addon's package is the anchor)."""
        return f"{self.package}.{ref}" if ref else self.package


def _fail(where: str, message: str) -> AddonError:
    return AddonError(f"{where}: {message}")


def parse_manifest(text: str, *, package: str, path: Path, origin: str) -> Manifest:
    where = f"manifest of addon {package!r} ({path / 'manifest.toml'})"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _fail(where, f"not valid TOML: {exc}") from exc
    unknown = set(data) - {"addon", "provides"}
    if unknown:
        raise _fail(where, f"unknown tables {sorted(unknown)}; expected [addon] and [provides]")
    head = data.get("addon")
    if not isinstance(head, dict):
        raise _fail(where, "missing the [addon] table")
    for key, kind in (("name", str), ("version", str), ("summary", str)):
        if not isinstance(head.get(key), kind):
            raise _fail(where, f"[addon].{key} is required and must be a string")
    for key in ("depends", "optional_depends"):
        value = head.get(key, [])
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise _fail(where, f"[addon].{key} must be a list of addon names")
    extra = set(head) - {"name", "version", "summary", "depends", "optional_depends"}
    if extra:
        raise _fail(where, f"unknown keys in [addon]: {sorted(extra)}")
    if head["name"] != package.rpartition(".")[2] and origin != "builtin":
        raise _fail(where, f"[addon].name {head['name']!r} differs from its package {package!r}")
    provides = dict(data.get("provides", {}))
    when = provides.pop("when", {})
    optional = set(head.get("optional_depends", []))
    for table, label in [(provides, "[provides]")] + [
        (t, f"[provides.when.{k}]") for k, t in when.items()
    ]:
        for key, value in table.items():
            kind = PROVIDES_KEYS.get(key)
            if kind is None:
                raise _fail(where, f"unknown key {label}.{key}; known: {sorted(PROVIDES_KEYS)}")
            if not isinstance(value, kind) or (
                kind is list and not all(isinstance(v, str) for v in value)
            ):
                raise _fail(where, f"{label}.{key} must be a {kind.__name__} of strings")
    for other in when:
        if other not in optional:
            raise _fail(where, f"[provides.when.{other}] needs {other!r} in optional_depends")
    return Manifest(
        name=head["name"],
        version=head["version"],
        summary=head["summary"],
        depends=tuple(head.get("depends", [])),
        optional_depends=tuple(head.get("optional_depends", [])),
        provides=provides,
        when=when,
        package=package,
        path=path,
        origin=origin,
    )


def _folder_addons(root: Path, origin: str) -> list[Manifest]:
    if not root.is_dir():
        raise AddonError(f"addons folder {root} does not exist")
    found = []
    for child in sorted(root.iterdir()):
        manifest = child / "manifest.toml"
        if manifest.is_file():
            found.append(
                parse_manifest(
                    manifest.read_text(encoding="utf-8"),
                    package=child.name,
                    path=child,
                    origin=f"{origin} {root}",
                )
            )
    return found


def _entry_point_addons() -> list[Manifest]:
    found = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        package = ep.value.split(":")[0]
        try:
            files = importlib.resources.files(package)
        except ModuleNotFoundError as exc:
            raise AddonError(f"entry point {ep.name} = {ep.value!r}: {exc}") from exc
        dist = ep.dist.name if ep.dist else "?"
        # Python imports one package per name: when a folder addon (or any package earlier on
        # sys.path) has this name, the distribution's own copy is never the one loaded. (An
        # editable install has no copy beside its dist-info: nothing to compare.)
        own = Path(str(ep.dist.locate_file(package.replace(".", "/")))) if ep.dist else None
        if own is not None and own.is_dir() and own.resolve() != Path(str(files)).resolve():
            raise AddonError(
                f"entry point {ep.name} = {ep.value!r} of distribution {dist}: package "
                f"{package!r} is imported from {files}, not from the distribution ({own}); "
                "another addon or package has that name")
        text = (files / "manifest.toml").read_text(encoding="utf-8")
        found.append(
            parse_manifest(text, package=package, path=Path(str(files)), origin=f"entry point {dist}")
        )
    return found


@dataclass
class AddonCatalog:
    """Every addon available to a client, by name."""

    available: dict[str, Manifest] = field(default_factory=dict)

    @classmethod
    def discover(cls, extra_paths: list[Path] = ()) -> AddonCatalog:
        candidates: list[Manifest] = []
        base_text = (KERNEL_ADDON_DIR / "manifest.toml").read_text(encoding="utf-8")
        candidates.append(
            parse_manifest(base_text, package="core.base", path=KERNEL_ADDON_DIR, origin="builtin")
        )
        roots = [(BUILTIN_ADDONS_DIR, "folder")] + [(Path(p), "folder") for p in extra_paths]
        for root, origin in roots:
            candidates.extend(_folder_addons(root.resolve(), origin))
        candidates.extend(_entry_point_addons())
        catalog = cls()
        for manifest in candidates:
            seen = catalog.available.get(manifest.name)
            if seen is not None and seen.path != manifest.path:
                raise AddonError(
                    f"duplicate addon name {manifest.name!r}: {seen.origin} ({seen.path}) "
                    f"and {manifest.origin} ({manifest.path})"
                )
            catalog.available[manifest.name] = manifest
        for root, _ in roots:
            # Folder addons are top-level packages: make their folder importable.
            path = str(root.resolve())
            if path not in sys.path:
                sys.path.append(path)
        return catalog

    def resolve(self, enabled: list[str]) -> list[Manifest]:
        """The enabled addons in dependency order (ties by name), ``base`` first.

        Raises AddonError for an unknown addon, a dependency that is not enabled (it is never
        enabled silently), or a cycle (naming every addon in it).
        """
        names = [KERNEL_ADDON] + [n for n in enabled if n != KERNEL_ADDON]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise AddonError(f"addons listed twice: {dupes}")
        unknown = [n for n in names if n not in self.available]
        if unknown:
            raise AddonError(
                f"unknown addons {unknown}; available: {sorted(self.available)}"
            )
        chosen = set(names)
        missing = [
            f"{n!r} depends on {d!r}"
            for n in sorted(chosen)
            for d in self.available[n].depends
            if d not in chosen and d != KERNEL_ADDON
        ]
        if missing:
            raise AddonError(
                "dependencies not enabled (add them to [client].addons; salesflow never enables "
                "an addon silently): " + ", ".join(missing)
            )
        # Kahn's algorithm with a heap keyed by name: one deterministic order.
        deps = {
            n: {d for d in self.available[n].depends + self.available[n].optional_depends if d in chosen}
            | ({KERNEL_ADDON} if n != KERNEL_ADDON else set())
            for n in chosen
        }
        users: dict[str, set[str]] = {n: set() for n in chosen}
        for n, ds in deps.items():
            for d in ds:
                users[d].add(n)
        waiting = {n: len(ds) for n, ds in deps.items()}
        ready = [n for n, k in waiting.items() if k == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            n = heapq.heappop(ready)
            order.append(n)
            for u in users[n]:
                waiting[u] -= 1
                if waiting[u] == 0:
                    heapq.heappush(ready, u)
        if len(order) != len(chosen):
            stuck = sorted(n for n in chosen if n not in order)
            raise AddonError(f"dependency cycle among addons {stuck}")
        return [self.available[n] for n in order]


def load_object(manifest: Manifest, ref: str) -> Any:
    """Import ``module:attr`` (or a module) relative to the addon package."""
    module_name, _, attr = ref.partition(":")
    try:
        module = importlib.import_module(manifest.qualify(module_name))
    except ImportError as exc:
        raise AddonError(f"addon {manifest.name!r}: cannot import {ref!r}: {exc}") from exc
    if not attr:
        return module
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise AddonError(f"addon {manifest.name!r}: {module.__name__} has no {attr!r}") from exc
