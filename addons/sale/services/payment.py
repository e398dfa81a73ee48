"""Payments received: cash, cheque, bank transfer, electronic.

``register_payment`` records one payment of a customer, allocates it to that customer's posted
invoices (named amounts, or oldest due first when ``allocations`` is None; partial payments are
fine) and keeps what is not allocated as customer credit (``amount_unallocated``). It books
``debit cash/bank, credit receivable`` in the same transaction. Invoices with nothing left open
fire ``settle``; an order whose invoices are all paid fires ``settle`` too.

``apply_customer_credit`` later uses that credit (unallocated payments, unused credit notes,
oldest first) to settle an invoice. The credit is already on the customer's receivable account,
so in the company currency it books nothing; in another, credit taken at another rate than the
invoice's realises the exchange difference (``services.exchange``: receivable against 660302).

A payment is booked at its date's rate (``currency_rate``, ``amount_company``; none: refused on
``currency``) and only reaches invoices in its own currency; each allocation keeps what it
cleared of the invoice and what it used of the payment in the company currency, and the
payment's entry books the difference as an exchange gain or loss.

Allocations are append-only and dated (the payment's date, or the invoice's when later: a
prepayment settles the invoice once it exists; or the date credit is applied, never before the
invoice nor the credit used), so receivables can be computed as of any date
(``services.receivables``). Amounts have at most the currency's decimals.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import func

from core.errors import ValidationError
from core.money import round_money, to_decimal

from .. import locks
from . import exchange, journal
from .invoice import lock_rows, set_residual, settle_documents
from .masterdata import currency_digits

ZERO = Decimal("0")
METHODS = ("cash", "cheque", "bank_transfer", "electronic")


#: amounts stop below this (``models._types.Money`` is Numeric(18, 2))
MONEY_LIMIT = Decimal(10) ** 16


def _money(errors: dict[str, list[str]], field: str, value: Any, *, required: bool = True):
    """``value`` as a positive amount (``None`` when refused: the reason goes to ``errors``);
    its decimals are checked once the currency is known (``_decimals``)."""
    if value is None:
        if required:
            errors.setdefault(field, []).append("is required")
        return None
    try:
        amount = to_decimal(value, field)
    except (TypeError, ValueError) as exc:
        errors.setdefault(field, []).append(str(exc).partition(": ")[2] or str(exc))
        return None
    if amount <= 0:
        errors.setdefault(field, []).append("must be greater than 0")
        return None
    if not amount < MONEY_LIMIT:  # the Money column's 16 integer digits (rounding 1e30 raised)
        errors.setdefault(field, []).append(f"must be less than {MONEY_LIMIT:,}")
        return None
    return amount


def _open_invoices(env, customer_id: int, ids: list[int] | None = None) -> list:
    """The customer's posted invoices with something open, locked, oldest due first."""
    Invoice = env["sale.invoice"]
    if ids is not None:
        held = _current_invoices(env, Invoice, ids)
        if held is not None:
            found = [inv for inv in held if inv.customer_id == customer_id
                     and inv.kind == "invoice" and inv.state == "posted"]
            return sorted(found, key=_due_order)
    criteria = [Invoice.customer_id == customer_id, Invoice.kind == "invoice",
                Invoice.state == "posted"]
    if ids is not None:
        criteria.append(Invoice.id.in_(ids))
    return lock_rows(env, "sale.invoice", *criteria,
                     order_by=[func.coalesce(Invoice.due_date, Invoice.date), Invoice.date, Invoice.id])


def _current_invoices(env, Invoice, ids: list[int]) -> list | None:
    """The invoices ``ids`` when this transaction already has every one of them current
    (``locks.is_current``: locking and re-reading them would find nothing new), else None."""
    found = []
    for ident in ids:
        invoice = env.loaded(Invoice, ident)
        if invoice is None or not locks.is_current(env, invoice):
            return None
        found.append(invoice)
    env.session.flush()
    for invoice in found:
        locks.remember(env, invoice)
    return found


def _due_order(invoice) -> tuple:
    """``ORDER BY coalesce(due_date, date), date, id`` (NULLs first, as SQLite sorts them)."""
    due = invoice.due_date or invoice.date
    return (due is not None, due or dt.date.min, invoice.date is not None,
            invoice.date or dt.date.min, invoice.id)


class _Planned(NamedTuple):
    """Part of a payment going to one invoice: ``amount`` in money, ``discount`` settled on top
    (``discount_untaxed + discount_tax``, from the ``sale_payment_discount`` hook)."""

    invoice: Any
    amount: Decimal
    discount_untaxed: Decimal = ZERO
    discount_tax: Decimal = ZERO
    #: the invoice has nothing open after it (set by ``_settle``)
    settles: bool = False

    @property
    def discount(self) -> Decimal:
        return self.discount_untaxed + self.discount_tax


def _planned(env, invoice, money: Decimal, date: dt.date) -> _Planned:
    """What ``money`` of a payment dated ``date`` does to ``invoice``: with a discount
    (``sale_payment_discount``), ``min(money, open - discount)`` in money plus the discount."""
    residual = Decimal(invoice.amount_residual)
    answer = env.hook.sale_payment_discount(invoice=invoice, date=date, amount=money, env=env)
    if answer:
        untaxed, tax = (to_decimal(v, "discount") for v in answer)
        if untaxed < 0 or tax < 0 or untaxed + tax > residual:
            raise ValueError(f"sale_payment_discount answered {answer!r} for {invoice.number} "
                             f"({residual} open): parts must be >= 0 and at most what is open")
        if untaxed + tax > 0:
            return _Planned(invoice, min(money, residual - untaxed - tax), untaxed, tax)
    return _Planned(invoice, min(money, residual))


def _settle(p: _Planned) -> _Planned:
    """Lower the invoice's open amount by what ``p`` settles; ``p`` noting whether it settles
    the invoice (its allocation then clears the rest of the invoice's company amount)."""
    left = Decimal(p.invoice.amount_residual) - p.amount - p.discount
    set_residual(p.invoice, left)
    return p._replace(settles=left == 0)


def _discount_lines(env, p: _Planned, customer_id: int,
                    currency: str) -> tuple[list[dict[str, Any]], Decimal]:
    """The discount on the payment's entry: debit sales discount (untaxed) and output VAT (tax),
    credit the customer's receivable, at the invoice's rate; and its company amount."""
    label = f"Early-payment discount {p.invoice.number}"
    rate = Decimal(p.invoice.currency_rate)
    untaxed, tax = (exchange.to_company(env, v, rate) for v in (p.discount_untaxed, p.discount_tax))

    def cur(value):
        return exchange.in_currency(env, currency, value)

    lines = [{"account": "sales_discount", "debit": untaxed, "label": label,
              **cur(p.discount_untaxed)}]
    if p.discount_tax:
        lines.append({"account": "output_vat", "debit": tax, "label": label, **cur(p.discount_tax)})
    lines.append({"account": "receivable", "credit": untaxed + tax, "customer_id": customer_id,
                  "label": label, **cur(p.discount)})
    return lines, untaxed + tax


def _allocate(env, allocating: exchange.Allocating, payment, plan: list[_Planned]) -> list:
    """The payment's allocations (added to the session), each with its company amounts:
    ``[(planned, allocation)]``."""
    Allocation = env["sale.payment.allocation"]
    made = []
    given = ZERO
    for p in plan:
        given += p.amount
        cleared, used = allocating.amounts(p.invoice, p.amount, p.discount, payment,
                                           settles=p.settles,
                                           uses_up=given == Decimal(payment.amount))
        made.append((p, Allocation(payment=payment, invoice_id=p.invoice.id, amount=p.amount,
                                   discount=p.discount, amount_company=cleared,
                                   source_amount_company=used,
                                   date=allocation_date(payment.date, p.invoice))))
    env.session.add_all([allocation for _p, allocation in made])
    return made


def _decimals(errors: dict, digits: int, amount, wanted) -> None:
    """Refuse amounts with more decimals than the currency has (``digits``, its declared ones:
    ``masterdata.currency_digits``), by field."""
    fields = [("amount", amount)] + [(f"allocations.{i}.amount", v) for i, _ident, v in wanted]
    for field, value in fields:
        if value is not None and value != round_money(value, digits=digits):
            errors[field] = [f"at most {digits} decimals"]


def _checked_input(errors: dict, amount, method, date, reference, allocations
                   ) -> tuple[Decimal | None, list[tuple[int, int, Decimal]]]:
    """The amount and the wanted allocations ``(index, invoice id, amount)``, checked (the
    problems go to ``errors``, by field)."""
    amount = _money(errors, "amount", amount)
    if method not in METHODS:
        errors["method"] = [f"must be one of {', '.join(METHODS)}"]
    if date is not None and not isinstance(date, dt.date):
        errors["date"] = ["must be a date"]
    if reference is not None and len(str(reference)) > 64:
        errors["reference"] = ["at most 64 characters"]
    wanted: list[tuple[int, int, Decimal]] = []
    if allocations is not None:
        if not isinstance(allocations, list):
            errors["allocations"] = ["must be a list of {invoice_id, amount}"]
            allocations = []
        seen = set()
        for i, spec in enumerate(allocations):
            invoice_id = spec.get("invoice_id") if isinstance(spec, dict) else None
            if not isinstance(invoice_id, int) or isinstance(invoice_id, bool):
                errors[f"allocations.{i}.invoice_id"] = ["is required (an invoice id)"]
                continue
            if invoice_id in seen:
                errors[f"allocations.{i}.invoice_id"] = ["named twice"]
                continue
            seen.add(invoice_id)
            value = _money(errors, f"allocations.{i}.amount", spec.get("amount"))
            if value is not None:
                wanted.append((i, invoice_id, value))
        if amount is not None and not errors:
            allocated = sum((a for _, _, a in wanted), ZERO)
            if allocated > amount:
                errors["allocations"] = [f"allocate at most the amount paid ({amount}); "
                                         f"{allocated} allocated"]
    return amount, wanted


def _plan_allocations(env, errors: dict, customer, currency: str, date: dt.date,
                      wanted: list[tuple[int, int, Decimal]], invoices: dict[int, Any]) -> list:
    """What each wanted allocation does (``_Planned``), against ``invoices`` (the customer's
    open posted invoices, locked, by id); problems go to ``errors``."""
    plan = []
    for i, invoice_id, value in wanted:
        invoice = invoices.get(invoice_id)
        if invoice is None or Decimal(invoice.amount_residual) <= 0:
            errors[f"allocations.{i}.invoice_id"] = [
                f"not an open posted invoice of customer {customer.code}"]
        elif invoice.currency != currency:
            errors[f"allocations.{i}.invoice_id"] = [
                f"invoice {invoice.number} is in {invoice.currency}, the payment in {currency}"]
        elif value > Decimal(invoice.amount_residual):
            errors[f"allocations.{i}.amount"] = [
                f"more than the {invoice.amount_residual} open on {invoice.number}"]
        else:
            plan.append(_planned(env, invoice, value, date))
    return plan


def allocation_date(date: dt.date, invoice) -> dt.date:
    """The date an allocation settles ``invoice`` by a payment of ``date``: the later of the
    two (a prepayment settles the invoice when the invoice exists), so the aging, which reads
    allocation dates, agrees with statements, which read document dates."""
    return max(date, invoice.date) if invoice.date is not None else date


def register_payment(env, *, customer_id: int, amount: Any, method: str,
                     date: dt.date | None = None, reference: str | None = None,
                     allocations: list[dict] | None = None, note: str | None = None,
                     currency: str | None = None):
    """Record a payment and allocate it (see the module docstring). Invalid input is a
    ``ValidationError`` naming each field (``allocations.1.amount``...)."""
    env.check_access("sale.payment", "create")
    errors: dict[str, list[str]] = {}
    amount, wanted = _checked_input(errors, amount, method, date, reference, allocations)
    if errors:
        raise ValidationError(errors)
    customer = env.get("sale.customer", customer_id)
    currency = (currency or customer.currency or "CNY").upper()
    date = date or env.today()
    rate = exchange.rate_on(env, currency, date)  # (none: refused on ``currency``)
    _decimals(errors, currency_digits(env, currency), amount, wanted)
    if errors:
        raise ValidationError(errors)

    # what goes where
    if allocations is not None:
        plan = _plan_allocations(env, errors, customer, currency, date, wanted, {
            inv.id: inv for inv in _open_invoices(env, customer.id, [i for _, i, _ in wanted])})
        if errors:
            raise ValidationError(errors)
    else:
        plan = []
        left = amount
        for invoice in _open_invoices(env, customer.id):
            if left <= 0:
                break
            if invoice.currency != currency:
                continue
            planned = _planned(env, invoice, left, date)
            if planned.amount > 0:
                plan.append(planned)
                left -= planned.amount
    allocated = sum((p.amount for p in plan), ZERO)

    Payment = env["sale.payment"]
    with env.sudo():
        number = env.next_number("sale.payment", str(date.year))
    payment = Payment(
        number=f"PAY/{date.year}/{number:06d}", state="posted", customer_id=customer.id,
        method=method, date=date, amount=amount, currency=currency, currency_rate=rate,
        amount_company=exchange.to_company(env, amount, rate),
        reference=reference or None, note=note, amount_unallocated=amount - allocated,
    )
    # the payment, its allocations and the invoices' new residuals: one flush (one audit INSERT)
    plan = [_settle(p) for p in plan]
    env.session.add(payment)
    made = _allocate(env, exchange.Allocating(env), payment, plan)
    env.session.flush()
    journal.post_entries(env, _payment_entries(env, payment, customer.id, made, reference))
    settle_documents(env, [p.invoice for p in plan])
    env.session.flush()
    env.hook.sale_customer_balance_changed(customer_id=customer.id, reason="payment",
                                           record=payment, env=env)
    return payment


_PAYMENT_KEYS = frozenset({"customer_id", "amount", "method", "date", "reference", "allocations",
                           "note", "currency"})


def register_payments(env, specs: list[dict]) -> list:
    """Record many payments at once (a bank statement import, finance's "pay selected"), all
    or nothing: each spec holds ``register_payment``'s keyword arguments and must allocate
    (``allocations``); errors are keyed by the spec's position (``2.allocations.0.amount``).
    Payments are planned in order on the same invoices (two paying one invoice see each
    other), then written together: one flush for payments and allocations, the payment and
    journal numbers in one block per year, one INSERT for the entries and one for their lines,
    and the invoices and orders settled together. Returns the payments in the specs' order."""
    env.check_access("sale.payment", "create")
    if not isinstance(specs, list) or not all(isinstance(spec, dict) for spec in specs):
        raise ValidationError({"payments": ["expected a list of payments"]})
    if not specs:
        return []
    # planning lowers the invoices' residuals as it goes (the next payment sees them) and a
    # hook may read the database meanwhile: a savepoint undoes all of it on any error
    with env.atomic():
        return _register_payments(env, specs)


def _register_payments(env, specs: list[dict]) -> list:
    errors: dict[str, list[str]] = {}
    checked = []
    for i, spec in enumerate(specs):
        found: dict[str, list[str]] = {}
        for unknown in sorted(set(spec) - _PAYMENT_KEYS):
            found[unknown] = ["unknown field"]
        if spec.get("allocations") is None:
            found["allocations"] = ["required when payments are registered together"]
        entry = _checked_input(found, spec.get("amount"), spec.get("method"), spec.get("date"),
                               spec.get("reference"), spec.get("allocations"))
        errors.update((f"{i}.{key}", messages) for key, messages in found.items())
        checked.append(entry)
    if errors:
        raise ValidationError(errors)
    customers = env.get_many("sale.customer", {spec.get("customer_id") for spec in specs})
    Invoice = env["sale.invoice"]
    invoice_ids = sorted({ident for _amount, wanted in checked for _i, ident, _v in wanted})
    invoices = {inv.id: inv for inv in lock_rows(env, "sale.invoice", Invoice.id.in_(invoice_ids),
                                                 order_by=[Invoice.id])} if invoice_ids else {}
    open_by_customer: dict[int, dict[int, Any]] = {}
    for ident, inv in invoices.items():
        if inv.kind == "invoice" and inv.state == "posted":
            open_by_customer.setdefault(inv.customer_id, {})[ident] = inv
    plans = []
    for i, (spec, (amount, wanted)) in enumerate(zip(specs, checked, strict=True)):
        customer = customers.get(_as_int(spec.get("customer_id")))
        if customer is None:
            errors[f"{i}.customer_id"] = [f"no sale.customer {spec.get('customer_id')}"]
            continue
        currency = (spec.get("currency") or customer.currency or "CNY").upper()
        date = spec.get("date") or env.today()
        try:
            rate = exchange.rate_on(env, currency, date)
        except ValidationError as exc:
            errors[f"{i}.currency"] = exc.errors.get("currency") or [str(exc)]
            continue
        found = {}
        _decimals(found, currency_digits(env, currency), amount, wanted)
        plan = _plan_allocations(env, found, customer, currency, date, wanted,
                                 open_by_customer.get(customer.id, {}))
        errors.update((f"{i}.{key}", messages) for key, messages in found.items())
        # the next payment of the batch sees what this one leaves open
        plan = [_settle(p) for p in plan]
        plans.append((customer, (currency, rate), date, amount, plan))
    if errors:
        raise ValidationError(errors)
    Payment = env["sale.payment"]
    years: dict[int, list[int]] = {}
    for i, (_customer, _currency, date, _amount, _plan) in enumerate(plans):
        years.setdefault(date.year, []).append(i)
    numbers: dict[int, int] = {}
    with env.sudo():
        for year, indexes in years.items():
            numbers.update(zip(indexes, env.next_numbers("sale.payment", str(year), len(indexes)),
                               strict=True))
    payments, allocations = [], []
    allocating = exchange.Allocating(env)  # (the batch's payments of one invoice see each other)
    for i, ((customer, (currency, rate), date, amount, plan), spec) in enumerate(
            zip(plans, specs, strict=True)):
        allocated = sum((p.amount for p in plan), ZERO)
        payment = Payment(
            number=f"PAY/{date.year}/{numbers[i]:06d}", state="posted", customer_id=customer.id,
            method=spec["method"], date=date, amount=amount, currency=currency,
            currency_rate=rate, amount_company=exchange.to_company(env, amount, rate),
            reference=spec.get("reference") or None, note=spec.get("note"),
            amount_unallocated=amount - allocated)
        env.session.add(payment)
        allocations.append(_allocate(env, allocating, payment, plan))
        payments.append(payment)
    env.session.flush()
    journal.post_entries(env, [
        entry for payment, (customer, *_rest), spec, made
        in zip(payments, plans, specs, allocations, strict=True)
        for entry in _payment_entries(env, payment, customer.id, made, spec.get("reference"))])
    settle_documents(env, list({id(p.invoice): p.invoice for *_rest, plan in plans
                                for p in plan}.values()))
    env.session.flush()
    for payment in payments:
        env.hook.sale_customer_balance_changed(customer_id=payment.customer_id, reason="payment",
                                               record=payment, env=env)
    return payments


def _as_int(value) -> int | None:
    try:
        return int(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _payment_entries(env, payment, customer_id: int, made, reference) -> list[dict[str, Any]]:
    """The journal entry of a payment (``journal.post_entries`` spec): debit bank or cash
    (``amount_company``), credit the receivable, and each early-payment discount (at its
    invoice's rate); in another currency, the exchange difference of its allocations
    (``source_amount_company`` + discount - ``amount_company``: a gain is a credit). An
    allocation dated after the payment (a prepayment: the invoice is dated later) is credit
    until then: its difference gets an entry of its own on its date."""
    label = f"Payment {payment.number}" + (f" ({reference})" if reference else "")
    discount_lines, later = [], []
    gain = ZERO
    for p, allocation in made:
        discount = ZERO
        if p.discount:
            lines, discount = _discount_lines(env, p, customer_id, payment.currency)
            discount_lines += lines
        difference = (Decimal(allocation.source_amount_company) + discount
                      - Decimal(allocation.amount_company))
        if allocation.date == payment.date:
            gain += difference
        elif difference:
            later.append(exchange.exchange_entry(
                env, customer_id=customer_id, currency=payment.currency, date=allocation.date,
                difference=difference, label=f"Exchange difference {payment.number} / "
                f"{p.invoice.number}", source_record="sale.payment", source_id=payment.id))

    def cur(value):
        return exchange.in_currency(env, payment.currency, value)

    amount = Decimal(payment.amount_company)
    lines = [{"account": journal.METHOD_ACCOUNT[payment.method], "debit": amount,
              **cur(payment.amount)},
             {"account": "receivable", "credit": amount - gain, "customer_id": customer_id,
              **cur(payment.amount)}, *discount_lines]
    if gain:
        lines.append({"account": "exchange", "credit": gain, "label": f"{label}: exchange difference",
                      **cur(ZERO)})
    return [{"date": payment.date, "source_record": "sale.payment", "source_id": payment.id,
             "label": label, "lines": lines}, *later]


def customer_credit(env, customer_id: int, currency: str | None = None) -> Decimal:
    """Credit the customer may still use now: unallocated payments and unused credit notes.
    In the company currency, each at the rate it was booked at (what the aging counts as
    ``credit``); with ``currency``, only that currency's credit, in it (what
    ``apply_customer_credit`` may use on an invoice in that currency)."""
    from .receivables import credit_sources

    sources = credit_sources(env, customer_id, currency)
    return sum((s.amount if currency is not None else s.amount_company for s in sources), ZERO)


def apply_customer_credit(env, customer_id: int, invoice_id: int, amount: Any = None,
                          date: dt.date | None = None) -> list:
    """Settle (part of) a posted invoice with the customer's credit, oldest credit first.
    ``amount`` defaults to what is open on the invoice, limited by the credit there is.
    Returns the allocations made."""
    env.check_access("sale.payment.allocation", "create")
    errors: dict[str, list[str]] = {}
    value = _money(errors, "amount", amount, required=False)
    if errors:
        raise ValidationError(errors)
    customer = env.get("sale.customer", customer_id)
    Invoice, Payment = env["sale.invoice"], env["sale.payment"]
    env.get("sale.invoice", invoice_id)  # 404 when missing or hidden
    invoices = _open_invoices(env, customer.id, [invoice_id])
    if not invoices:
        raise ValidationError({"invoice_id": [f"not an open posted invoice of customer {customer.code}"]})
    invoice = invoices[0]
    open_amount = Decimal(invoice.amount_residual)
    _decimals(errors, currency_digits(env, invoice.currency), value, [])
    if errors:
        raise ValidationError(errors)
    if value is not None and value > open_amount:
        raise ValidationError({"amount": [f"more than the {open_amount} open on {invoice.number}"]})
    date = date or env.today()
    if invoice.date is not None and date < invoice.date:
        raise ValidationError({"date": [
            f"must not be before the date of {invoice.number} ({invoice.date.isoformat()})"]})
    payments = lock_rows(env, "sale.payment", Payment.customer_id == customer.id,
                         Payment.state == "posted", Payment.amount_unallocated > 0,
                         Payment.currency == invoice.currency,
                         order_by=[Payment.date, Payment.id])
    notes = lock_rows(env, "sale.invoice", Invoice.customer_id == customer.id,
                      Invoice.kind == "credit_note", Invoice.state == "posted",
                      Invoice.amount_residual > 0, Invoice.currency == invoice.currency,
                      order_by=[Invoice.date, Invoice.id])
    sources = sorted([(p.date, 0, p.id, p) for p in payments] + [(n.date, 1, n.id, n) for n in notes],
                     key=lambda s: s[:3])
    if sources and all(source_date > date for source_date, *_rest in sources):
        raise ValidationError({"date": [
            f"customer {customer.code} has no credit on {date.isoformat()}: the earliest is "
            f"from {sources[0][0].isoformat()}"]})
    # only credit that existed on the date is applied then
    sources = [s for s in sources if s[0] <= date]
    available = sum((Decimal(s[3].amount_unallocated if s[1] == 0 else s[3].amount_residual)
                     for s in sources), ZERO)
    if available <= 0:
        raise ValidationError({"amount": [f"customer {customer.code} has no credit to apply"]})
    target = min(open_amount, available) if value is None else value
    if target > available:
        raise ValidationError({"amount": [
            f"only {available} of credit available on {date.isoformat()}"]})
    Allocation = env["sale.payment.allocation"]
    allocating = exchange.Allocating(env)
    made = []
    left = target
    for _date, _kind, _id, source in sources:
        if left <= 0:
            break
        payment = isinstance(source, Payment)
        source_left = Decimal(source.amount_unallocated if payment else source.amount_residual)
        part = min(left, source_left)
        # at the invoice's rate on the invoice, at the source's on the source
        cleared, used = allocating.amounts(invoice, part, ZERO, source,
                                           settles=part == left and target == open_amount,
                                           uses_up=part == source_left)
        if payment:
            source.amount_unallocated = source_left - part
        else:
            set_residual(source, source_left - part)
        made.append(Allocation(payment_id=source.id if payment else None,
                               credit_note_id=None if payment else source.id,
                               invoice_id=invoice.id, amount=part, amount_company=cleared,
                               source_amount_company=used, date=date))
        left -= part
    env.session.add_all(made)
    set_residual(invoice, open_amount - target)
    difference = sum((Decimal(a.source_amount_company) - Decimal(a.amount_company) for a in made),
                     ZERO)
    if difference:  # credit taken at another rate than the invoice's: realised now
        env.session.flush()
        journal.post_entries(env, [exchange.exchange_entry(
            env, customer_id=customer.id, currency=invoice.currency, date=date,
            difference=difference, label=f"Exchange difference {invoice.number}",
            source_record="sale.payment.allocation", source_id=made[0].id)])
    settle_documents(env, [invoice] + [n for n in notes if Decimal(n.amount_residual) == 0])
    env.session.flush()
    env.hook.sale_customer_balance_changed(customer_id=customer.id, reason="credit_applied",
                                           record=invoice, env=env)
    return made
