"""``salesflow credit ...``: the command group of sale_credit (listed as ``cli:group``).

    salesflow credit rescore [--date 2026-03-31]       # scores, grade change proposals
    salesflow credit rebuild-exposure [--check]        # exposure recomputed from the documents

The collections commands (dunning, outbox, DSO) are added to the same group by
``cli_collections.py``.
"""

from __future__ import annotations

import datetime as dt

import click


@click.group("credit")
def group() -> None:
    """Customer credit: scores, grades, exposure; collections."""


#: the name the design documents use
credit = group


def _services():
    import importlib

    package = __name__.rpartition(".")[0]
    return (importlib.import_module(f"{package}.services.score"),
            importlib.import_module(f"{package}.services.credit"))


@group.command("rescore")
@click.option("--date", "date_", default=None, help="Scoring date YYYY-MM-DD (default today).")
@click.pass_obj
def rescore(obj, date_: str | None) -> None:
    """Recompute every customer's credit score and propose grade changes (a credit manager
    accepts or rejects them: GET/POST /api/v1/credit/proposals). A date before a customer's
    current score date records that date's score as history and keeps the current one."""
    score, _credit = _services()
    try:
        date = dt.date.fromisoformat(date_) if date_ else None
    except ValueError:
        raise click.BadParameter(f"{date_!r} is not an ISO date (YYYY-MM-DD)") from None
    with obj.salesflow.transaction() as env:
        results = score.rescore(env, date)
    proposed = [r for r in results if r["proposed"]]
    history = [r for r in results if not r["current"]]
    for r in results:
        change = f" -> propose {r['proposed']}" if r["proposed"] else ""
        if not r["current"]:
            change = (f"  (history: the current score is of "
                      f"{r['current_score_date'].isoformat()})")
        click.echo(f"{r['code']:<12} score {r['score']:>5}  grade {r['grade'] or '-'}{change}")
    click.echo(f"scored={len(results)} proposals={len(proposed)}"
               + (f" history={len(history)}" if history else ""))


@group.command("rebuild-exposure")
@click.option("--check", is_flag=True, help="Only compare with the maintained figures.")
@click.pass_obj
def rebuild_exposure(obj, check: bool) -> None:
    """Recompute every customer's exposure from its open documents (or, with --check, list
    where the maintained exposure differs; exit 1 if it does)."""
    _score, credit = _services()
    with obj.salesflow.transaction() as env:
        differences = credit.check_consistency(env)
        if not check:
            counts = credit.rebuild(env)
    for line in differences:
        click.echo(line)
    if check:
        click.echo(f"differences={len(differences)}")
        if differences:
            raise SystemExit(1)
        return
    click.echo(f"rebuilt customers={counts['customers']} items={counts['items']} "
               f"differences_fixed={len(differences)}")
