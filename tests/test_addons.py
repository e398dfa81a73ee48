"""Addon discovery and ordering: one recorded order, and clear errors naming the addons."""

from __future__ import annotations

import pytest

from core.errors import AddonError
from core.plugins.addons import AddonCatalog
from core.testing import TEST_ADDONS

# -- ordering --------------------------------------------------------------------------------


def test_addons_load_after_their_dependencies_whatever_the_config_order(make_sf):
    sf = make_sf(["kt_ext", "kt_doc"])
    assert sf.addon_names == ["base", "kt_doc", "kt_ext"]
    # the same order drives composition: kt_ext's layer wraps kt_doc's class
    assert sf.registry.records["kt.doc"].extended_by == ["kt_ext"]
    assert sf.workflows["kt.doc"].merged.contributed_by == ["kt_ext"]


def test_ties_are_broken_by_name(make_sf, tmp_addons):
    tmp_addons("kt_ord_c")
    tmp_addons("kt_ord_b")
    root = tmp_addons("kt_ord_a", depends=["kt_ord_c"])
    paths = (TEST_ADDONS, root)
    sf = make_sf(["kt_ord_a", "kt_ord_c", "kt_ord_b"], addons_path=paths)
    # b and c are both free: b first by name; a waits for its dependency c
    assert sf.addon_names == ["base", "kt_ord_b", "kt_ord_c", "kt_ord_a"]
    again = make_sf(["kt_ord_b", "kt_ord_c", "kt_ord_a"], addons_path=paths, create=False)
    assert again.addon_names == sf.addon_names


def test_an_optional_dependency_orders_only_when_enabled(make_sf, tmp_addons):
    tmp_addons("kt_opt_z")
    root = tmp_addons("kt_opt_a", manifest="""
        [addon]
        name = "kt_opt_a"
        version = "0.1.0"
        summary = "glue that comes after kt_opt_z when both are enabled"
        optional_depends = ["kt_opt_z"]
    """)
    paths = (TEST_ADDONS, root)
    assert make_sf(["kt_opt_a", "kt_opt_z"], addons_path=paths).addon_names == [
        "base", "kt_opt_z", "kt_opt_a"]
    # without it, kt_opt_a still builds (optional means optional), and kt_opt_z stays off
    assert make_sf(["kt_opt_a"], addons_path=paths, create=False).addon_names == ["base", "kt_opt_a"]


def test_the_kernel_addon_is_always_first_and_never_listed_twice(make_sf):
    assert make_sf(["base", "kt_doc"]).addon_names == ["base", "kt_doc"]
    with pytest.raises(AddonError, match=r"addons listed twice: \['kt_doc'\]"):
        make_sf(["kt_doc", "kt_doc"], create=False)


# -- dependency errors -----------------------------------------------------------------------


def test_a_missing_dependency_is_an_error_never_enabled_silently(make_sf):
    with pytest.raises(AddonError) as err:
        make_sf(["kt_ext"])
    message = str(err.value)
    assert "'kt_ext' depends on 'kt_doc'" in message
    assert "never enables an addon silently" in message


def test_an_unknown_addon_is_named(make_sf):
    with pytest.raises(AddonError) as err:
        make_sf(["kt_doc", "kt_nope"])
    assert "unknown addons ['kt_nope']" in str(err.value)
    assert "kt_doc" in str(err.value)  # the available ones are listed


def test_a_dependency_cycle_names_every_addon_in_it(make_sf, tmp_addons):
    tmp_addons("kt_cyc_a", depends=["kt_cyc_b"])
    root = tmp_addons("kt_cyc_b", depends=["kt_cyc_a"])
    with pytest.raises(AddonError, match=r"dependency cycle among addons \['kt_cyc_a', 'kt_cyc_b'\]"):
        make_sf(["kt_cyc_a", "kt_cyc_b"], addons_path=(TEST_ADDONS, root))


def test_one_name_in_two_folders_is_an_error_naming_both(make_sf, tmp_addons):
    one = tmp_addons("kt_dup", folder="one")
    two = tmp_addons("kt_dup", folder="two")
    with pytest.raises(AddonError) as err:
        make_sf(["kt_doc"], addons_path=(TEST_ADDONS, one, two))
    message = str(err.value)
    assert "duplicate addon name 'kt_dup'" in message
    assert str(one / "kt_dup") in message and str(two / "kt_dup") in message


def test_an_addon_folder_cannot_shadow_another_addon(make_sf, tmp_addons):
    root = tmp_addons("kt_doc", folder="shadow")
    with pytest.raises(AddonError, match="duplicate addon name 'kt_doc'"):
        make_sf(["kt_doc"], addons_path=(TEST_ADDONS, root))


def test_a_missing_addons_folder_is_named(make_sf, tmp_path):
    with pytest.raises(AddonError, match="does not exist"):
        make_sf(["kt_doc"], addons_path=(TEST_ADDONS, tmp_path / "nowhere"))


# -- malformed manifests ---------------------------------------------------------------------

HEAD = '[addon]\nname = "kt_bad"\nversion = "0.1.0"\nsummary = "broken on purpose"\n'

MALFORMED = {
    "bad toml": ('[addon\nname = "kt_bad"\n', "not valid TOML"),
    "no [addon] table": ('[provides]\nmodels = ["models"]\n', "missing the [addon] table"),
    "missing version": ('[addon]\nname = "kt_bad"\nsummary = "x"\n',
                        "[addon].version is required and must be a string"),
    "version not a string": (HEAD.replace('"0.1.0"', "1"),
                             "[addon].version is required and must be a string"),
    "depends not a list": (HEAD + 'depends = "kt_doc"\n',
                           "[addon].depends must be a list of addon names"),
    "unknown [addon] key": (HEAD + 'author = "me"\n', "unknown keys in [addon]: ['author']"),
    "unknown table": (HEAD + "[extras]\nx = 1\n", "unknown tables ['extras']"),
    "unknown provides key": (HEAD + '[provides]\nwidgets = ["widgets"]\n',
                             "unknown key [provides].widgets"),
    "provides of the wrong type": (HEAD + '[provides]\nmodels = "models"\n',
                                   "[provides].models must be a list of strings"),
    "provides list of non-strings": (HEAD + "[provides]\nhooks = [1]\n",
                                     "[provides].hooks must be a list of strings"),
    "name differs from folder": (HEAD.replace('name = "kt_bad"', 'name = "kt_other"'),
                                 "[addon].name 'kt_other' differs from its package 'kt_bad'"),
    "glue without optional dependency": (HEAD + '[provides.when.kt_doc]\nmodels = ["glue"]\n',
                                         "[provides.when.kt_doc] needs 'kt_doc' in optional_depends"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_manifest_is_refused_naming_the_addon_and_the_problem(case, make_sf, tmp_addons):
    text, expected = MALFORMED[case]
    root = tmp_addons("kt_bad", manifest=text)
    # discovery reads every manifest, so a broken one is found even when it is not enabled
    with pytest.raises(AddonError) as err:
        make_sf(["kt_doc"], addons_path=(TEST_ADDONS, root), create=False)
    message = str(err.value)
    assert "manifest of addon 'kt_bad'" in message
    assert str(root / "kt_bad" / "manifest.toml") in message
    assert expected in message


def test_the_catalog_lists_what_a_manifest_declares(db_url):
    catalog = AddonCatalog.discover([TEST_ADDONS])
    ext = catalog.available["kt_ext"]
    assert ext.depends == ("kt_doc",)
    assert ext.provided("workflow_patches", {"kt_doc", "kt_ext"}) == [
        "workflow:PATCH", "workflow:CHECK_STEP"]
    assert ext.qualify("models.kt_doc") == "kt_ext.models.kt_doc"
    assert catalog.available["base"].origin == "builtin"
