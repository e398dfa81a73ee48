"""Plugin machinery: addon manifests (``addons``), hook specs (``hookspecs``) and the manager."""

from __future__ import annotations

from types import ModuleType

import pluggy

from core.errors import AddonError
from core.plugins import hookspecs
from core.plugins.hookspecs import PROJECT, hookimpl, hookspec

__all__ = ["hookimpl", "hookspec", "build_plugin_manager"]


def build_plugin_manager(hook_modules: list[tuple[str, ModuleType]]) -> pluggy.PluginManager:
    """One manager per app. ``hook_modules`` is [(addon, module)] in addon order.

    Unknown hook names and misspelt arguments are refused here, at startup.
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    for addon, module in hook_modules:
        try:
            pm.register(module, name=f"{addon}:{module.__name__}")
        except pluggy.PluginValidationError as exc:
            raise AddonError(f"addon {addon!r}: hook module {module.__name__}: {exc}") from exc
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        name = pm.get_name(exc.plugin) or "?"  # "addon:module"
        addon, _, module = name.partition(":")
        raise AddonError(f"addon {addon!r}: hook module {module}: {exc}") from exc
    return pm
