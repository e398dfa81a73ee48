"""Collections commands of the ``salesflow credit`` group:

    salesflow credit dunning --date 2026-03-01 [--as LOGIN]
    salesflow credit outbox-send [--once] [--interval 30] [--limit 50]
    salesflow credit outbox-status
    salesflow credit collections --from 2026-01-01 --to 2026-03-31 [--group-by customer]

The ``credit`` group itself belongs to the core-credit part (``cli.py``); this module adds its
commands to it. Listed in manifest.toml as ``cli_collections:group`` (the same group object:
the kernel adds it once, whichever module is loaded first).
"""

from __future__ import annotations

import datetime as dt

import click

try:  # the core-credit developer's group; a group of our own until it exists
    from .cli import group
except ImportError:  # pragma: no cover - only while cli.py is missing
    @click.group("credit")
    def group() -> None:
        """Customer credit and collections."""


def _date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date (YYYY-MM-DD)") from None


@group.command("dunning")
@click.option("--date", "date_", default=None, help="Run date YYYY-MM-DD (default today).")
@click.option("--as", "login", default=None,
              help="Run as this user (credit manager or finance); default: the system.")
@click.pass_obj
def dunning(obj, date_: str | None, login: str | None) -> None:
    """Write the dunning letters due on DATE and queue their e-mails (one transaction)."""
    from .services.dunning import run_dunning

    sf = obj.salesflow
    with sf.transaction(login) as env:  # print after the commit: output never aborts the run
        run = run_dunning(env, _date(date_))
        lines = [f"dunning run {run.id} for {run.date.isoformat()}: {run.invoice_count} open "
                 f"invoices, {run.dunning_count} letters, {run.no_recipient_count} without "
                 f"e-mail, {run.hold_count} customers put on hold"]
        lines += [f"  {d.level:<10} {d.invoice_number:<18} {d.days_overdue:>5} d  "
                  f"{d.currency} {d.amount_due:>14,.2f}  ({d.company_currency()} "
                  f"{d.amount_due_company:,.2f})  {d.lang}" for d in run.dunnings]
    for line in lines:
        click.echo(line)


@group.command("outbox-send")
@click.option("--once", is_flag=True, help="Send what is due now, then stop.")
@click.option("--interval", default=30.0, type=float, show_default=True,
              help="Seconds between polls (without --once).")
@click.option("--limit", default=None, type=int, help="Rows per batch (default: config).")
@click.pass_obj
def outbox_send(obj, once: bool, interval: float, limit: int | None) -> None:
    """Send pending outbox e-mails over SMTP ([addon.sale_credit.smtp]); retry failures."""
    from .services import outbox

    try:
        total = outbox.run_worker(obj.salesflow, once=once, interval=interval, limit=limit,
                                  echo=click.echo)
    except KeyboardInterrupt:  # pragma: no cover - interactive
        click.echo("stopped")
        return
    click.echo(f"sent {total.sent}, failed {total.failed} (retried later)"
               + (f", gave up {total.given_up}" if total.given_up else ""))


@group.command("outbox-status")
@click.pass_obj
def outbox_status(obj) -> None:
    """Outbox messages per state."""
    from .services import outbox

    with obj.salesflow.transaction(readonly=True) as env:
        counts = outbox.counts(env)
    for state in ("pending", "sent", "failed", "no_recipient"):
        click.echo(f"{state:<13} {counts.get(state, 0):>7}")


@group.command("collections")
@click.option("--from", "date_from", required=True, help="Period start YYYY-MM-DD.")
@click.option("--to", "date_to", required=True, help="Period end YYYY-MM-DD (included).")
@click.option("--group-by", type=click.Choice(["salesperson", "customer"]), default="salesperson",
              show_default=True)
@click.pass_obj
def collections(obj, date_from: str, date_to: str, group_by: str) -> None:
    """Collected, credit sales, receivables, overdue and DSO for a period."""
    from .services.collections import performance

    with obj.salesflow.transaction(readonly=True) as env:
        report = performance(env, _date(date_from), _date(date_to), group_by)
    name = "salesperson_name" if group_by == "salesperson" else "customer_name"
    click.echo(f"{'':<24} {'collected':>14} {'credit sales':>14} {'receivables':>14} "
               f"{'overdue':>14} {'DSO':>7}")
    for row in [*report["rows"], {name: "TOTAL", **report["totals"]}]:
        dso = "-" if row["dso"] is None else f"{row['dso']}"
        click.echo(f"{(row.get(name) or '(none)')[:24]:<24} {row['collected']:>14,.2f} "
                   f"{row['credit_sales']:>14,.2f} {row['receivables']:>14,.2f} "
                   f"{row['overdue']:>14,.2f} {dso:>7}")
