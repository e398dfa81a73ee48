"""Dunning (催款): reminders for invoices due soon or overdue, by configurable levels.

``run_dunning(env, date)`` (``salesflow credit dunning --date D``, ``POST
/api/v1/credit/dunning-runs``) looks at every posted invoice with something open (at least
``[addon.sale_credit.dunning] min_amount``, in the company currency: an invoice in another
currency counts what is open at the rate it was booked at) dated on or before ``date``, and
counts ``days = date - due date`` (negative before the due date) from the due date of its
earliest instalment still open (sale's ``sale.invoice.instalment``, settled in sequence; the
letter asks for the instalments due by ``date``, or that first one before it is due); a date
after today is refused. The levels (default: friendly -3, reminder 1, warning 15, final 30) are in ascending days; the invoice has *reached* every level
whose ``days`` is at most its ``days``. The run writes one letter for the **highest level
reached**, unless a letter of that level or a higher one was already written for the invoice
(lower levels it skipped are not sent late: a customer first found 40 days overdue gets the
final notice, not four letters). So each level happens at most once per invoice, which
``UNIQUE (invoice_id, level)`` also guarantees when two runs race: the second insert waits for
the first run's commit and is then skipped (a savepoint), never an error.

Each letter is a ``sale.credit.dunning`` row (level, subject and body in the customer's
language, amount due in the invoice's currency as the letter quotes it and in the company
currency at the invoice's booked rate, days), and an outbox message to the customer's
contacts' e-mail addresses in the **same transaction** (``services.outbox``; no address: ``no_recipient``). A
level with ``auto_hold`` (default: the final notice) puts the customer on credit hold with the
reason ``final dunning notice <invoice number>``; the change is audited like any other.

The run covers every customer (it is a company process, started by a credit manager or
finance): invoices are selected as the system, after the run's access check.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, func, select, type_coerce
from sqlalchemy.exc import IntegrityError

from . import credit, letters, outbox

DUNNING = "sale.credit.dunning"
RUN = "sale.credit.dunning_run"


def levels(env) -> list[dict[str, Any]]:
    """The configured levels, in ascending days, each with its ``index``."""
    return [{**level, "index": i}
            for i, level in enumerate(env.settings("sale_credit")["dunning"]["levels"])]


def level_for(days: int, configured: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The highest level an invoice ``days`` after its due date has reached (None: none)."""
    reached = [level for level in configured if level["days"] <= days]
    return reached[-1] if reached else None


def _open_invoices(env, date: dt.date, min_amount: Decimal) -> list[tuple[Any, Decimal]]:
    """``[(invoice, open in the company currency)]``: the posted invoices dated on or before
    ``date`` with at least ``min_amount`` (company currency) open, at their booked rates
    (``_due`` says which of it is due when)."""
    Invoice, Allocation = env["sale.invoice"], env["sale.payment.allocation"]
    cleared = (select(func.coalesce(func.sum(Allocation.amount_company), 0))
               .where(Allocation.invoice_id == Invoice.id).correlate(Invoice).scalar_subquery())
    open_company = type_coerce(Invoice.amount_total_company - cleared, Numeric(18, 2))
    due = func.coalesce(Invoice.due_date, Invoice.date)
    stmt = (select(Invoice, open_company)
            .where(Invoice.kind == "invoice", Invoice.state == "posted",
                   Invoice.amount_residual > 0, open_company >= min_amount, Invoice.date <= date)
            .order_by(Invoice.customer_id, due, Invoice.id))
    return [(invoice, Decimal(left)) for invoice, left in env.session.execute(stmt)]


def _due(invoice, left_company: Decimal, instalments: list) -> tuple[dt.date, list, list]:
    """``(due date, [(due date, open)], [(due date, open in the company currency)])`` of an
    open invoice: its instalments still open (what settled it settled them in sequence, the
    earliest first: sale's ``receivables.still_open``; ``left_company``, what is open of it in
    the company currency, likewise) and the due date of the earliest, which a letter counts its
    days from. Without instalments: all that is open, due on the invoice's due date."""
    still_open = credit._receivables().still_open
    residual = Decimal(invoice.amount_residual)
    left = still_open([(d, a) for d, a, _c in instalments], Decimal(invoice.amount_total) - residual)
    left_c = still_open([(d, c) for d, _a, c in instalments],
                        Decimal(invoice.amount_total_company) - left_company)
    if not left:
        due = invoice.due_date or invoice.date
        return due, [(due, residual)], [(due, left_company)]
    return left[0][0], left, left_c or [(left[0][0], left_company)]


def _letter_amounts(date: dt.date, due: dt.date, left: list, left_company: list
                    ) -> tuple[Decimal, Decimal]:
    """What a letter on ``date`` asks for (``_due``'s lists): the instalments due by then, or,
    before the earliest is due (a friendly reminder), that one; in the invoice's currency and
    the company's."""
    until = max(date, due)
    return (sum((a for d, a in left if d <= until), Decimal(0)),
            sum((a for d, a in left_company if d <= until), Decimal(0)))


def _sent_levels(env, invoice_ids: list[int]) -> dict[int, set[str]]:
    Dunning = env[DUNNING]
    out: dict[int, set[str]] = {}
    for start in range(0, len(invoice_ids), 500):
        chunk = invoice_ids[start:start + 500]
        for invoice_id, level in env.session.execute(
                select(Dunning.invoice_id, Dunning.level).where(Dunning.invoice_id.in_(chunk))):
            out.setdefault(invoice_id, set()).add(level)
    return out


def _emails(env, customer_ids: set[int]) -> dict[int, list[str]]:
    """Customer id -> its contacts' e-mail addresses (in contact order, without repeats)."""
    Contact = env["sale.customer.contact"]
    out: dict[int, list[str]] = {}
    if not customer_ids:
        return out
    rows = env.session.execute(
        select(Contact.customer_id, Contact.email)
        .where(Contact.customer_id.in_(customer_ids), Contact.email.is_not(None))
        .order_by(Contact.customer_id, Contact.id))
    for customer_id, email in rows:
        email = (email or "").strip()
        if email and email not in out.setdefault(customer_id, []):
            out[customer_id].append(email)
    return out


def _level_exists(env, invoice_id: int, level: str) -> bool:
    Dunning = env[DUNNING]
    return env.session.scalar(select(Dunning.id).where(
        Dunning.invoice_id == invoice_id, Dunning.level == level)) is not None


def put_on_hold(env, customer, reason: str) -> None:
    """Put ``customer`` (locked by the caller) on credit hold with ``reason``; the kernel
    audits the change (who, when, old and new values)."""
    with env.sudo():
        env.write(customer, credit_hold=True, credit_hold_reason=reason[:200])


def run_dunning(env, date: dt.date | None = None):
    """Write the letters due on ``date`` (default: today in the client's time zone); returns
    the ``dunning_run``."""
    env.check_access(RUN, "create")
    env.check_access(DUNNING, "create")
    date = credit.run_date(env, date, "dunning")
    settings = env.settings("sale_credit")["dunning"]
    configured = levels(env)
    by_code = {level["code"]: level for level in configured}
    Dunning = env[DUNNING]
    run = env.create(RUN, date=date, user_id=env.user_id)
    made: list = []
    holds = no_recipient = 0
    with env.sudo():
        invoices = _open_invoices(env, date, settings["min_amount"])
        sent = _sent_levels(env, [inv.id for inv, _left in invoices])
        instalments = credit._receivables().instalments_of(env, [inv.id for inv, _l in invoices])
        todo = []
        for invoice, left_company in invoices:
            # days from the earliest instalment still open
            due, left, left_c = _due(invoice, left_company, instalments.get(invoice.id, []))
            days = (date - due).days
            level = level_for(days, configured)
            if level is None:
                continue
            done = [by_code[c]["index"] for c in sent.get(invoice.id, ()) if c in by_code]
            if done and max(done) >= level["index"]:
                continue
            amount, amount_company = _letter_amounts(date, due, left, left_c)
            todo.append((invoice, due, amount, amount_company, level, days))
        emails = _emails(env, {inv.customer_id for inv, *_rest in todo})
        customers = {}
        for invoice, due, amount, left_company, level, days in todo:
            customer = customers.get(invoice.customer_id)
            if customer is None:
                customer = customers[invoice.customer_id] = env.session.get(
                    env["sale.customer"], invoice.customer_id)
            lang = letters.lang_of(customer.lang)
            subject, body = letters.render(
                level["template"], lang, customer=customer.name, invoice=invoice.number or "",
                amount=amount, currency=invoice.currency, due_date=due,
                days=days, company=env.config.name)
            hold = False
            if level["auto_hold"]:  # lock: a concurrent run or hold is seen, not repeated
                # the exposure row first, like every credit check and profile change: a hold
                # and an approval of this customer never interleave
                credit.lock_customer(env, customer.id)
                customer = customers[customer.id] = env.lock(customer)
                hold = not customer.credit_hold
            letter = Dunning(run_id=run.id, invoice_id=invoice.id,
                             invoice_number=invoice.number or "", customer_id=customer.id,
                             level=level["code"], level_index=level["index"], date=date,
                             days_overdue=days, amount_due=amount, currency=invoice.currency,
                             amount_due_company=left_company, lang=lang, subject=subject, body=body, put_on_hold=hold)
            try:
                with env.session.begin_nested():
                    env.session.add(letter)
                    env.session.flush()
            except IntegrityError:
                if not _level_exists(env, invoice.id, level["code"]):
                    raise  # not the race below: a real error
                continue  # another run wrote this level meanwhile (UNIQUE invoice_id, level)
            made.append(letter)
            to = emails.get(customer.id, [])
            if not to:
                no_recipient += 1
            outbox.enqueue(env, to=to, subject=subject, body=body, source_record=DUNNING,
                           source_id=letter.id)
            if hold:
                put_on_hold(env, customer, f"final dunning notice {invoice.number}")
                holds += 1
        run.invoice_count = len(invoices)
        run.dunning_count = len(made)
        run.no_recipient_count = no_recipient
        run.hold_count = holds
        env.session.flush()
    return run

