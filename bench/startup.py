"""Startup and one guarded transition, with every addon that builds.

    .venv/bin/python bench/startup.py [--runs 7] [--iterations 2000]

Which addons: every addon in addons/ and tests/addons/ that builds together with the others
(tried one by one with its dependencies; those that fail are listed and skipped, e.g.
deliberately broken fixtures). The ``mig_*`` test addons belong to the migration tests and are
left out.

What is measured (targets: startup < 1 s, transition < 200 us):

* ``startup_s``: the median, over ``--runs`` fresh Python processes, of building the app
  (``Salesflow(config)``): discovering and parsing every manifest, ordering, importing the
  enabled addons' modules, composing and mapping the records, loading security files,
  merging and compiling the workflows, registering and checking hooks, connecting signals.
  Importing the kernel's libraries (Flask, SQLAlchemy, transitions...) happens before the
  clock starts and is printed apart; nothing touches the database (the engine is lazy).
  A rebuild in a warm process (addon modules already imported) is printed too.
* ``transition_us``: the median time of the decision and the state change of one guarded
  transition (``confirm`` of a ``kt.doc``: a role check, two guards, every addon's
  ``workflow_transition_blockers`` hooks) on a record already loaded, as a clerk:
  ``env.blockers()`` (the very ``_reasons()`` that ``fire()`` runs per candidate) plus firing
  the compiled machine's event (``machine.events["confirm"].trigger``). It excludes what
  ``fire()`` then writes: the flush of the row, the ``workflow.log`` and ``audit_log``
  inserts. A statement counter checks that no SQL ran inside the timed part. The full
  ``fire()`` including those writes (on a temporary SQLite file, without the commit) is
  printed for comparison.

The last line is ``startup_s=<float> transition_us=<float>``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TEST_ADDONS = ROOT / "tests" / "addons"
SKIP_PREFIXES = ("mig_",)


def config_for(addons: list[str], paths: list[str], url: str = "sqlite://"):
    from core.config import ClientConfig

    return ClientConfig(name="bench", addons=list(addons), database_url=url,
                        addons_path=[Path(p) for p in paths], secret_key="bench")


def addon_folders() -> tuple[list[str], list[str]]:
    """Folders to search and the names they offer. A folder of tests/addons whose manifest is
    broken would stop discovery for the whole folder: then only the good ones are linked into
    a temporary folder."""
    from core.errors import AddonError
    from core.plugins.addons import AddonCatalog, parse_manifest

    try:
        catalog = AddonCatalog.discover([TEST_ADDONS])
        return [str(TEST_ADDONS)], sorted(catalog.available)
    except AddonError as exc:
        print(f"note: {exc}; linking the addons whose manifest parses")
    linked = Path(tempfile.mkdtemp(prefix="salesflow-bench-"))
    for child in sorted(TEST_ADDONS.iterdir()):
        manifest = child / "manifest.toml"
        if not manifest.is_file():
            continue
        try:
            parse_manifest(manifest.read_text(encoding="utf-8"), package=child.name, path=child,
                           origin="folder")
        except AddonError as exc:
            print(f"skipped {child.name}: {exc}")
            continue
        (linked / child.name).symlink_to(child, target_is_directory=True)
    catalog = AddonCatalog.discover([linked])
    return [str(linked)], sorted(catalog.available)


def choose_addons(paths: list[str], names: list[str]) -> list[str]:
    """Add addons one at a time (with their dependencies); keep those that still build."""
    from core.app import Salesflow
    from core.plugins.addons import AddonCatalog

    catalog = AddonCatalog.discover([Path(p) for p in paths])

    def closure(name: str) -> list[str]:
        needed, todo = [], [name]
        while todo:
            current = todo.pop()
            if current not in needed and current in catalog.available and current != "base":
                needed.append(current)
                todo.extend(catalog.available[current].depends)
        return needed

    accepted: list[str] = []
    for name in names:
        if name == "base" or name in accepted or name.startswith(SKIP_PREFIXES):
            continue
        trial = accepted + [n for n in closure(name) if n not in accepted]
        try:
            Salesflow(config_for(trial, paths))
        except Exception as exc:  # any failure (AddonError, RegistryError...): left out
            print(f"skipped {name}: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
            continue
        accepted = trial
    return accepted


# -- startup -----------------------------------------------------------------------------------


def child_startup(addons: list[str], paths: list[str]) -> None:
    """Run in a fresh process: time the kernel imports, then the app build."""
    t0 = time.perf_counter()
    from core.app import Salesflow

    t1 = time.perf_counter()
    sf = Salesflow(config_for(addons, paths))
    t2 = time.perf_counter()
    Salesflow(config_for(addons, paths))  # warm: the addon modules are imported now
    t3 = time.perf_counter()
    print(json.dumps({"kernel_import_s": t1 - t0, "build_s": t2 - t1, "warm_build_s": t3 - t2,
                      "records": len(sf.registry.records), "workflows": len(sf.workflows.compiled),
                      "hooks": len(sf.pm.get_plugins())}))


def measure_startup(addons: list[str], paths: list[str], runs: int) -> dict:
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, __file__, "--child", json.dumps(addons), json.dumps(paths)],
            check=True, capture_output=True, text=True, cwd=ROOT,
        ).stdout
        samples.append(json.loads(out.strip().splitlines()[-1]))
    return {key: statistics.median(s[key] for s in samples) for key in samples[0]}


# -- transition --------------------------------------------------------------------------------


def measure_transition(addons: list[str], paths: list[str], iterations: int) -> dict:
    from sqlalchemy import event
    from sqlalchemy.orm.attributes import set_committed_value

    from core.app import Salesflow

    if "kt_ext" not in addons:
        raise SystemExit("the transition benchmark needs the kt_doc and kt_ext test addons")
    with tempfile.TemporaryDirectory() as folder:
        sf = Salesflow(config_for(addons, paths, f"sqlite:///{folder}/bench.db"))
        sf.create_all()
        with sf.transaction() as env:
            clerk = env["res.user"](login="clerk", name="Clerk")
            clerk.role_links = [env["res.user_role"](role="kt_clerk")]
            env.session.add(clerk)
            env.session.flush()
            ids = [env.create("kt.doc", name=f"doc {i}", amount=Decimal("250.00"),
                              reference=f"R-{i}", owner_id=clerk.id).id
                   for i in range(200)]
        statements = []
        event.listen(sf.engine, "before_cursor_execute",
                     lambda *args, **kw: statements.append(args[2]))

        # decision + state change, on one loaded row, no SQL
        wf = sf.workflows["kt.doc"]
        confirm = wf.machine.events["confirm"]
        samples = []
        with sf.transaction(clerk.id) as env:
            doc = env.get("kt.doc", ids[0])
            env.blockers(doc, "confirm")  # warm the per-transaction record-rule cache
            before = len(statements)
            for _ in range(iterations):
                set_committed_value(doc, "state", "draft")
                t0 = time.perf_counter()
                reasons = env.blockers(doc, "confirm")
                chosen = wf.candidates("confirm", doc.state)[0]
                env._fired[id(doc)] = chosen.dest
                fired = confirm.trigger(doc, _chosen=chosen, params={})
                samples.append(time.perf_counter() - t0)
                assert not reasons and fired and doc.state == "confirmed", reasons
            sql_in_loop = len(statements) - before
            set_committed_value(doc, "state", "draft")
            env.session.rollback()

        # the whole fire(), with its flush (UPDATE + workflow.log + audit_log), no commit
        full = []
        with sf.transaction(clerk.id) as env:
            docs = [env.get("kt.doc", i) for i in ids[1:]]
            for doc in docs:
                t0 = time.perf_counter()
                doc.fire("confirm")
                full.append(time.perf_counter() - t0)
            env.session.rollback()
        sf.engine.dispose()
    return {"transition_us": statistics.median(samples) * 1e6,
            "transition_p90_us": statistics.quantiles(samples, n=10)[-1] * 1e6,
            "sql_in_loop": sql_in_loop,
            "fire_with_db_us": statistics.median(full) * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes for startup")
    parser.add_argument("--iterations", type=int, default=2000, help="timed transitions")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_startup(json.loads(args.child[0]), json.loads(args.child[1]))
        return

    paths, names = addon_folders()
    addons = choose_addons(paths, names)
    print(f"addons ({len(addons)}): {', '.join(addons)}")
    startup = measure_startup(addons, paths, args.runs)
    print(f"app: {startup['records']:.0f} records, {startup['workflows']:.0f} workflows, "
          f"{startup['hooks']:.0f} hook modules")
    print(f"kernel imports (not counted): {startup['kernel_import_s'] * 1000:.1f} ms")
    print(f"app build, fresh process (median of {args.runs}): {startup['build_s'] * 1000:.1f} ms")
    print(f"app build, warm process: {startup['warm_build_s'] * 1000:.1f} ms")
    result = measure_transition(addons, paths, args.iterations)
    print(f"guarded transition, decision + state change (median of {args.iterations}): "
          f"{result['transition_us']:.1f} us (p90 {result['transition_p90_us']:.1f} us, "
          f"SQL statements in the timed loop: {result['sql_in_loop']})")
    print(f"fire() with its flush (UPDATE, workflow.log, audit_log) on SQLite: "
          f"{result['fire_with_db_us']:.1f} us")
    print(f"startup_s={startup['build_s']:.4f} transition_us={result['transition_us']:.1f}")


if __name__ == "__main__":
    main()
