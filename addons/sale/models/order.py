"""The sale order: one document from quotation (draft) to paid, with its lines and revisions.

The per-line quantity ledger (ordered, shipped, invoiced, returned) is the single source of the
order's progress; the order's sub-statuses are derived from it (see ``refresh_progress``).

Amounts (rounding policy of ``core.money``): per line ``amount_untaxed`` is
``round(quantity * unit_price * (1 - discount / 100))`` and the line tax is rounded on its own;
for a price-included tax the rounded gross is the line total and the tax is extracted from it
(``round(gross * rate / (1 + rate))``). Order totals are the sums of the rounded lines. Rounding
is half up to the currency's minor unit (``sale.currency.digits``, else ``core.money``'s table).

Progress (``progress()``), from the ledger only:

* ``shipping_status``: ``none`` nothing shipped, ``full`` every line's ``qty_shipped`` reached
  its quantity, else ``partial``. Returned goods stay shipped (``qty_returned`` is separate).
* ``invoice_status``: ``full`` when every line's ``qty_invoiced`` reached its quantity minus
  what was returned; the invoice policy decides what may be invoiced *now* (``qty_to_invoice``).
* ``payment_status``: from the order's posted invoices: ``full`` when fully invoiced and every
  invoice is paid, ``partial`` when something was paid.

The workflow's states after ``approved`` require the matching status to be ``full``
(``validate``), and the transitions into them refresh the stored statuses. At every flush,
whoever writes, ``shipping_status`` and ``invoice_status`` set on an order must be what its
lines' ledger says (``ledger_disagreement``), and a line whose ledger changes must leave its
order's statuses right, so state and ledger cannot disagree. (``ledger_add`` writes the ledger
with Core and the order's statuses right after, as ``refresh_progress`` or a transition's
``store_progress``.)
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    bindparam,
    case,
    func,
    select,
    update,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, orm_insert_sentinel, relationship
from sqlalchemy.orm.attributes import PASSIVE_NO_INITIALIZE, instance_state, set_committed_value

from core.errors import ConflictError, ValidationError
from core.money import CURRENCY_DIGITS, quantum, round_money
from core.registry import model

from ._types import Money, Price, Qty, Rate

ZERO = Decimal("0")
HUNDRED = Decimal("100")
NONE, PARTIAL, FULL = "none", "partial", "full"
LEDGER = ("qty_shipped", "qty_invoiced", "qty_returned")
_LEDGER_KEYS = frozenset(LEDGER)
#: the sub-statuses derived from the ledger alone (``ledger_statuses``)
LEDGER_STATUSES = frozenset({"shipping_status", "invoice_status"})
#: states that need the order fully shipped / invoiced / paid
SHIPPED_STATES = ("shipped", "invoiced", "paid")
INVOICED_STATES = ("invoiced", "paid")
#: at most this many lines are named in a guard's reason
NAMED_LINES = 5
_UNSET = object()


def norm(value: Decimal | None) -> str | None:
    """One text per number: ``Decimal("5")`` and ``Decimal("5.000")`` read alike."""
    if value is None:
        return None
    text = format(Decimal(value).normalize(), "f")
    return "0" if text in ("-0", "") else text


def reserve_ids(env, objects: list) -> None:
    """Prepare many new rows of one record for a fast flush: on PostgreSQL give them their ids
    (one ``nextval`` SELECT for all) and their timestamps, so that the ORM needs nothing back
    and inserts them with one pipelined ``executemany`` instead of a huge ``INSERT .. RETURNING``
    that psycopg parses anew each time. On SQLite nothing is needed: the records' insert
    sentinel lets one multi-row ``INSERT .. RETURNING`` do it."""
    if not objects or env.sf.dialect != "postgresql":
        return
    from sqlalchemy import text

    now = env.now
    for obj in objects:
        obj.created_at = obj.updated_at = now
    table = type(objects[0]).__table__
    ids = env.session.execute(
        text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
        {"table": table.name, "n": len(objects)},
    ).scalars().all()
    for obj, ident in zip(objects, ids, strict=True):
        obj.id = ident


def _lines_statement(env, refresh: bool):
    Line = env["sale.line"]
    stmt = select(Line).where(Line.order_id == bindparam("order_id")).order_by(Line.sequence, Line.id)
    return stmt.execution_options(populate_existing=True) if refresh else stmt


def _lines_and_customer_statement(env):
    Line, Customer = env["sale.line"], env["sale.customer"]
    return (select(Customer, Line).outerjoin(Line, Line.order_id == bindparam("order_id"))
            .where(Customer.id == bindparam("customer_id")).order_by(Line.sequence, Line.id))


def _currency_digits_statement(env):
    Currency = env["sale.currency"]
    return select(Currency.digits).where(Currency.code == bindparam("code"))


def _ledger_update(table, field: str):
    """UPDATE of one ledger column of many lines (executemany), each at its known version."""
    return (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.version == bindparam("b_version"))
        .values({field: bindparam("b_value"), "version": bindparam("b_new_version"),
                 "updated_at": bindparam("b_now")})
    )


def _payment_figures_statement(env):
    Invoice = env["sale.invoice"]
    return select(*_payment_figures_aggregates(Invoice)).where(
        *_payment_figures_criteria(Invoice, bindparam("order_id")))


def _payment_figures_aggregates(Invoice) -> tuple:
    return (func.count(),
            func.coalesce(func.sum(case((Invoice.state == "paid", 1), else_=0)), 0),
            func.coalesce(func.sum(Invoice.amount_total - Invoice.amount_residual), 0))


def _payment_figures_criteria(Invoice, order_id) -> tuple:
    return (Invoice.order_id == order_id, Invoice.kind == "invoice",
            Invoice.state.in_(("posted", "paid")))


def _payment_figures_columns(env, order_id) -> tuple:
    Invoice = env["sale.invoice"]
    return tuple(select(aggregate).where(*_payment_figures_criteria(Invoice, order_id))
                 .scalar_subquery() for aggregate in _payment_figures_aggregates(Invoice))


#: ``InstanceState.info`` key of the payment figures memo (``payment_figures_known``)
_FIGURES = "sale.payment_figures"
#: ``InstanceState.info`` key of the (shipping, invoice) statuses ``store_progress`` set
_FROM_LEDGER = "sale.statuses_from_ledger"


def _changed(record, keys: frozenset[str]) -> list[str]:
    """Those of ``keys`` (columns) set to another value since ``record`` was loaded or last
    flushed; none on a new record (no SQL; runs at every flush of an order and line: the common
    answer, none set, is quick)."""
    state = instance_state(record)
    committed = state.committed_state
    if not committed or state.key is None or committed.keys().isdisjoint(keys):
        return []
    return [key for key in sorted(keys) if key in committed
            and state.manager[key].impl.get_history(state, state.dict, PASSIVE_NO_INITIALIZE).has_changes()]


def _state_info(record) -> dict:
    from sqlalchemy import inspect

    return inspect(record).info


def _amount(value: Decimal | None) -> str | None:
    """An amount as text with the stored two decimals ("302.00")."""
    return None if value is None else str(Decimal(value).quantize(Decimal("0.01")))


@model("sale.order")
class SaleOrder:
    __tablename__ = "sale_order"
    __audit__ = True
    #: lets SQLite insert many in one INSERT .. RETURNING (batches); NULL otherwise
    _sentinel: Mapped[int | None] = orm_insert_sentinel()

    @declared_attr.directive
    def __table_args__(cls):  # new objects per app: a schema item belongs to one table
        # order lists filtered by state and sorted by date or amount; the dashboard's
        # per-day, per-state sums read the index alone (bench/ui.py)
        return (Index("ix_sale_order_state_date", "state", "date_order"),
                Index("ix_sale_order_state_amount", "state", "amount_total"),
                Index("ix_sale_order_date_state_currency_total", "date_order", "state",
                      "currency", "amount_total"))

    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("sale_customer.id"), index=True)
    salesperson_id: Mapped[int | None] = mapped_column(ForeignKey("sale_salesperson.id"), index=True)
    date_order: Mapped[dt.date] = mapped_column(Date, index=True)
    #: a quotation (draft) past this date cannot be approved; every order has one (default:
    #: ``[addon.sale] quotation_validity_days`` after ``date_order``)
    validity_date: Mapped[dt.date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    payment_term_id: Mapped[int | None] = mapped_column(ForeignKey("sale_payment_term.id"))
    amount_untaxed: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    amount_tax: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    amount_total: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    #: amendment counter: 0 for the original, +1 for each amendment of an approved order
    revision: Mapped[int] = mapped_column(Integer, default=0)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    #: derived from the line ledger: none / partial / full
    shipping_status: Mapped[str] = mapped_column(String(10), default="none")
    invoice_status: Mapped[str] = mapped_column(String(10), default="none")
    payment_status: Mapped[str] = mapped_column(String(10), default="none")
    #: the order this one was copied from (a copy never carries approvals)
    copied_from_id: Mapped[int | None] = mapped_column(ForeignKey("sale_order.id"))

    customer: Mapped[Customer] = relationship()
    salesperson: Mapped[Salesperson | None] = relationship()
    payment_term: Mapped[PaymentTerm | None] = relationship()
    lines: Mapped[list[SaleLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="SaleLine.sequence"
    )

    # -- loading ------------------------------------------------------------------------------
    @classmethod
    def prefetch(cls, env, orders, *, customers: bool = False, refresh: bool = False) -> None:
        """Load the lines (and with ``customers`` the customers) of many orders in one SELECT
        each, as ``load_lines``/``load_lines_and_customer`` would one by one; orders that have
        them loaded already are left alone (unless ``refresh``: re-read the lines). Record rules
        apply: a customer the user may not see stays unloaded (its lazy load decides)."""
        from sqlalchemy import inspect

        if customers and not refresh and len(orders) == 1:
            orders[0].load_lines_and_customer()  # one SELECT for both
            return
        if refresh:
            lines_of = [o for o in orders if o.id is not None]
        else:
            lines_of = [o for o in orders if o.id is not None and "lines" not in inspect(o).dict]
        if lines_of and env.can("sale.line", "read"):
            Line = env["sale.line"]
            found: dict[int, list] = {o.id: [] for o in lines_of}
            stmt = (select(Line).where(Line.order_id.in_(list(found)))
                    .order_by(Line.order_id, Line.sequence, Line.id))
            if refresh:
                stmt = stmt.execution_options(populate_existing=True)
            for line in env.session.scalars(stmt):
                found[line.order_id].append(line)
            for order in lines_of:
                set_committed_value(order, "lines", found[order.id])
        if not customers or not env.can("sale.customer", "read"):
            return
        wanted = {o.customer_id for o in orders
                  if o.customer_id is not None and "customer" not in inspect(o).dict}
        if not wanted:
            return
        Customer = env["sale.customer"]
        by_id = {c.id: c for c in env.session.scalars(select(Customer).where(Customer.id.in_(wanted)))}
        for order in orders:
            customer = by_id.get(order.customer_id)
            if customer is not None and "customer" not in inspect(order).dict:
                set_committed_value(order, "customer", customer)

    def load_lines(self, *, refresh: bool = False) -> list:
        """The lines in one SELECT (``refresh``: re-read them, e.g. after locking the order)."""
        from sqlalchemy import inspect

        if not refresh and "lines" in inspect(self).dict:
            return self.lines
        from .. import queries

        env = self.env
        stmt = queries.built(env, f"sale.order.lines.{bool(refresh)}",
                             lambda env: _lines_statement(env, refresh))
        lines = list(env.session.scalars(stmt, {"order_id": self.id}))
        set_committed_value(self, "lines", lines)
        return self.lines

    # -- amounts ------------------------------------------------------------------------------
    def currency_digits(self) -> int:
        """Minor-unit digits of the order's currency (``sale.currency`` first, then the
        kernel's table), cached per transaction."""
        env = self.env
        cache = env.tx_cache("sale.currency_digits")
        code = self.currency or "CNY"
        if code not in cache:
            from .. import queries

            stmt = queries.built(env, "sale.currency.digits", _currency_digits_statement)
            with env.sudo():
                digits = queries.execute(env, stmt, {"code": code}).scalar()
            cache[code] = digits if digits is not None else CURRENCY_DIGITS.get(code, 2)
        return cache[code]

    def compute_amounts(self) -> None:
        """Recompute every line's amounts and the order totals (see the module docstring).
        Extensions (e.g. order-level pricing) override it and call ``super()``."""
        with self.env.session.no_autoflush:
            digits = self.currency_digits()
            lines = self.lines
            taxes = self._preload_taxes(lines)
            for line in lines:
                line.compute_amounts(digits, taxes.get(line.tax_id))
        untaxed = sum((line.amount_untaxed for line in lines), ZERO)
        tax = sum((line.amount_tax for line in lines), ZERO)
        self.amount_untaxed = untaxed
        self.amount_tax = tax
        self.amount_total = untaxed + tax

    def _preload_taxes(self, lines) -> dict:
        """The lines' taxes by id, read in one SELECT unless already in the session (so
        ``line.tax`` needs no query either)."""
        env = self.env
        Tax = env["sale.tax"]
        wanted = {line.tax_id for line in lines if line.tax_id is not None}
        found = {}
        for ident in wanted:
            tax = env.loaded(Tax, ident)
            if tax is not None:
                found[ident] = tax
        missing = wanted - set(found)
        if missing:
            found.update((t.id, t) for t in env.session.scalars(select(Tax).where(Tax.id.in_(missing))))
        return found

    # -- the quantity ledger ------------------------------------------------------------------
    def progress(self) -> dict[str, str]:
        """Sub-statuses computed from the line ledger (nothing is written)."""
        shipping, invoice = self.ledger_statuses()
        payment = NONE
        if invoice != NONE:
            count, paid_count, paid_amount = self._known_payment_figures()
            if invoice == FULL and count and paid_count == count:
                payment = FULL
            elif paid_count or paid_amount > 0:
                payment = PARTIAL
        return {"shipping_status": shipping, "invoice_status": invoice, "payment_status": payment}

    def ledger_statuses(self) -> tuple[str, str]:
        """``(shipping_status, invoice_status)`` from the loaded lines alone (no SQL)."""
        any_shipped = all_shipped = any_invoiced = all_invoiced = False
        nothing_to_invoice = True
        lines = self.lines
        if lines:
            all_shipped = all_invoiced = True
            for ln in lines:
                quantity, shipped = ln.quantity, ln.qty_shipped or ZERO
                invoiced, target = ln.qty_invoiced or ZERO, quantity - (ln.qty_returned or ZERO)
                if shipped > 0:
                    any_shipped = True
                if shipped < quantity:
                    all_shipped = False
                if invoiced > 0:
                    any_invoiced = True
                if invoiced < target:
                    all_invoiced = False
                if target > 0:
                    nothing_to_invoice = False
        shipping = (FULL if all_shipped else PARTIAL) if any_shipped else NONE
        if any_invoiced:
            invoice = FULL if all_invoiced else PARTIAL
        else:
            invoice = FULL if lines and nothing_to_invoice else NONE
        return shipping, invoice

    def _known_payment_figures(self) -> tuple[int, int, Decimal]:
        memo = _state_info(self).get(_FIGURES)
        if memo is None:
            return self._payment_figures()
        if not memo:
            memo.append(self._payment_figures())
        return memo[0]

    @contextlib.contextmanager
    def payment_figures_known(self, figures: tuple[int, int, Decimal] | None = None):
        """Within the block, ``progress()`` reads the payment figures once (when first needed)
        instead of at every call: for a service that computes the progress, then fires a
        transition whose guard and ``before`` action compute it again, with no change to the
        order's invoices in between. ``figures``: already read (``payment_figures_columns``).
        Blocks nest; the outermost one decides."""
        info = _state_info(self)
        if _FIGURES in info:
            yield
            return
        info[_FIGURES] = [figures] if figures is not None else []
        try:
            yield
        finally:
            info.pop(_FIGURES, None)

    @classmethod
    def payment_figures_columns(cls, env, order_id) -> tuple | None:
        """``_payment_figures`` of the order ``order_id`` (a column or a bind parameter) as
        three scalar subqueries, to read with another SELECT; None when an extension computes
        the figures otherwise (it overrides ``_payment_figures``)."""
        if cls._payment_figures is not SaleOrder._payment_figures:
            return None
        return _payment_figures_columns(env, order_id)

    @staticmethod
    def payment_figures_of(row) -> tuple[int, int, Decimal]:
        """The figures from the three values ``payment_figures_columns`` read."""
        count, paid_count, paid_amount = row
        return int(count or 0), int(paid_count or 0), Decimal(paid_amount or 0)

    def _payment_figures(self) -> tuple[int, int, Decimal]:
        """(posted invoices, of which paid, amount paid on them) for this order. Extensions
        with another notion of payment override it."""
        from .. import queries

        env = self.env
        stmt = queries.built(env, "sale.order.payment_figures", _payment_figures_statement)
        with env.sudo():
            row = queries.execute(env, stmt, {"order_id": self.id}).one()
        return self.payment_figures_of(row)

    def refresh_progress(self, *, touch: bool = False) -> dict[str, str]:
        """Store the sub-statuses computed from the ledger. Call it after changing the ledger.

        The statuses are derived data that warehouse and finance users (who may only read
        orders) keep up to date: they are written and the session is flushed with system
        rights, so flush your own changes (as the user) before calling it. ``touch``: change
        the order's version (its ETag) even when no status changes (its ledger did).
        """
        env = self.env
        computed = self.store_progress()
        with env.sudo():
            if touch:
                self.updated_at = env.now
            env.session.flush()
        return computed

    def store_progress(self, **_params) -> dict[str, str]:
        """Set the sub-statuses computed from the ledger, without flushing: the ``before``
        action of ``ship``, ``invoice`` and ``settle`` (the engine writes them with the state
        change, in one UPDATE). ``refresh_progress`` is this plus a flush with system rights.
        Extensions that derive more from the ledger override this one."""
        computed = self.progress()
        with self.env.sudo():
            for key, value in computed.items():
                if getattr(self, key) != value:
                    setattr(self, key, value)
        # what the ledger said: validate() need not compute it again at the flush (a line's
        # ledger changed through the session since is checked against the order by the line)
        instance_state(self).info[_FROM_LEDGER] = (computed["shipping_status"],
                                                   computed["invoice_status"])
        return computed

    def ledger_add(self, field: str, quantities: Mapping[int, Decimal], *,
                   refresh: bool = True) -> None:
        """Add ``quantities`` ({sale_line_id: qty}, negative to take back) to the ledger
        column ``field`` (``qty_shipped``, ``qty_invoiced`` or ``qty_returned``) of this order's
        lines in one batched UPDATE, audited, then ``refresh_progress(touch=True)``.

        Refuses (``ValidationError`` per line, nothing written) what breaks a line's ledger
        rules (``SaleLine.validate``); ``ConflictError`` if a line changed concurrently. Callers
        check the user's right to do the business operation (ship, invoice); lock the order
        first (``env.lock(order)`` then ``order.load_lines(refresh=True)``) when concurrent
        changes are possible.

        ``refresh=False`` leaves the order itself to the caller, who then either fires a
        transition of the order whose ``before`` action is ``refresh_progress`` (its UPDATE
        changes the version) or calls ``refresh_progress(touch=True)``: one UPDATE of the order
        instead of two.
        """
        type(self).ledger_add_many(self.env, field, [(self, quantities)], refresh=refresh)

    @classmethod
    def ledger_add_many(cls, env, field: str, changes_by_order, *, refresh: bool = True) -> None:
        """``ledger_add`` for many orders at once: ``changes_by_order`` lists ``(order,
        quantities)``; one batched UPDATE and one audit INSERT for all their lines. All or
        nothing: the errors of every order are raised together (keys ``lines.<id>.<field>``)."""
        if field not in LEDGER:
            raise ValueError(f"{field!r} is not a ledger column; one of {LEDGER}")
        Line = cls.lines.property.mapper.class_
        env.session.flush()
        changes = []
        errors: dict[str, list[str]] = {}
        for order, quantities in changes_by_order:
            by_id = {line.id: line for line in order.lines}
            for line_id, qty in quantities.items():
                line = by_id.get(int(line_id))
                if line is None:
                    errors.setdefault(f"quantities.{line_id}", []).append(
                        f"not a line of order {order.number or order.id}")
                    continue
                old = getattr(line, field) or ZERO
                changes.append((line, old, old + Decimal(qty)))
        for line, _old, new in changes:
            set_committed_value(line, field, new)
        for line, _old, _new in changes:
            for key, messages in (line.validate() or {}).items():
                errors.setdefault(f"lines.{line.id}.{key}", []).extend(messages)
        if errors:
            for line, old, _new in changes:
                set_committed_value(line, field, old)
            raise ValidationError(errors)
        if not changes:
            return
        from .. import queries

        now = env.now
        stmt = queries.built(env, f"sale.line.ledger_add.{field}",
                             lambda env: _ledger_update(env["sale.line"].__table__, field))
        rows = [{"b_id": line.id, "b_version": line.version, "b_value": new,
                 "b_new_version": line.version + 1, "b_now": now} for line, _old, new in changes]
        result = env.executemany(stmt, rows)
        if result.rowcount != len(rows):
            names = ", ".join(str(order.number or order.id) for order, _q in changes_by_order)
            raise ConflictError(f"lines of order {names} were changed by someone else; reload "
                                "and retry")
        for line, _old, _new in changes:
            set_committed_value(line, "version", line.version + 1)
            set_committed_value(line, "updated_at", now)
        if Line.__audit__:
            env.sf.audit.write(env, [(line, "write", {field: (old, new)})
                                     for line, old, new in changes if old != new])
        if refresh:
            # the order's version (its ETag) changes with its ledger
            for order, _quantities in changes_by_order:
                order.refresh_progress(touch=True)

    def load_lines_and_customer(self) -> None:
        """The lines and the customer in one SELECT (the customer as the user's record rules
        show it), when neither is loaded yet: the guards of ``approve`` read both. Does
        nothing else: the relationships then load as usual."""
        from sqlalchemy import inspect

        loaded = inspect(self).dict
        if "lines" in loaded or "customer" in loaded or self.id is None or self.customer_id is None:
            return
        env = self.env
        if not (env.can("sale.line", "read") and env.can("sale.customer", "read")):
            return
        from .. import queries

        stmt = queries.built(env, "sale.order.lines_and_customer", _lines_and_customer_statement)
        rows = env.session.execute(stmt, {"order_id": self.id, "customer_id": self.customer_id}).all()
        if not rows:  # hidden or missing: the lazy loads decide
            return
        set_committed_value(self, "customer", rows[0][0])
        set_committed_value(self, "lines", [line for _customer, line in rows if line is not None])

    # -- workflow guards (record methods named by workflow.py; extensions override them) ------
    def check_has_lines(self):
        self.load_lines_and_customer()
        if not self.lines:
            return "the order has no lines"
        return None

    def check_positive_total(self):
        if (self.amount_total or ZERO) <= 0:
            return f"the total must be positive (it is {self.amount_total or ZERO:,.2f})"
        return None

    def check_not_expired(self):
        if self.validity_date is None:  # refused at the flush too (validate)
            return "the quotation has no validity date"
        if self.validity_date < self.env.today():
            return (f"the quotation expired on {self.validity_date.isoformat()}; "
                    "change its validity date or copy it")
        return None

    def check_customer_active(self):
        self.load_lines_and_customer()
        customer = self.customer
        if customer is None:
            return "the order has no customer"
        if customer.merged_into_id is not None:
            return f"customer {customer.code} was merged into another customer"
        if not customer.active:
            return f"customer {customer.code} ({customer.name}) is archived"
        return None

    def check_fully_shipped(self):
        if self.ledger_statuses()[0] == FULL:
            return None
        return "not everything is shipped: " + self._missing(
            lambda ln: (ln.qty_shipped or ZERO, ln.quantity))

    def check_fully_invoiced(self):
        if self.ledger_statuses()[1] == FULL:
            return None
        return "not everything is invoiced: " + self._missing(
            lambda ln: (ln.qty_invoiced or ZERO, ln.quantity - (ln.qty_returned or ZERO)))

    def check_paid(self):
        if self.progress()["payment_status"] == FULL:
            return None
        return "the order's invoices are not fully paid"

    def check_nothing_shipped(self):
        shipped = [ln for ln in self.lines if (ln.qty_shipped or ZERO) > 0 or (ln.qty_invoiced or ZERO) > 0]
        if not shipped:
            return None
        return ("goods were already shipped or invoiced ("
                + self._missing(lambda ln: (ln.qty_shipped or ZERO, ln.quantity), lines=shipped,
                                fmt="{done} of {target} shipped") + ")")

    def _missing(self, figures, *, lines=None, fmt="{done} of {target}") -> str:
        parts = []
        for line in self.lines if lines is None else lines:
            done, target = figures(line)
            if lines is not None or done < target:
                parts.append(f"line {line.sequence} {line.description!r} "
                             + fmt.format(done=norm(done), target=norm(target)))
        more = len(parts) - NAMED_LINES
        text = "; ".join(parts[:NAMED_LINES])
        return text + (f"; and {more} more line(s)" if more > 0 else "")

    # -- workflow actions ---------------------------------------------------------------------
    def bump_revision(self) -> None:
        """``amend``: a new revision, so what was approved before no longer matches."""
        self.revision = (self.revision or 0) + 1

    # -- approvals ----------------------------------------------------------------------------
    def approval_fingerprint_data(self) -> dict:
        """What an approval of this order approves (hashed by the ``approval_fingerprint``
        hook): customer, payment term, currency, revision, total and every line's product,
        quantity, price, discount and tax. Extensions add keys and call ``super()``."""
        return {
            "customer_id": self.customer_id,
            "payment_term_id": self.payment_term_id,
            "currency": self.currency,
            "revision": self.revision or 0,
            "amount_total": norm(self.amount_total or ZERO),
            "lines": [[ln.product_id, norm(ln.quantity), norm(ln.unit_price), norm(ln.discount or ZERO),
                       ln.tax_id] for ln in self.lines],
        }

    # -- revisions ----------------------------------------------------------------------------
    def snapshot(self) -> dict:
        """The order's content as plain data (kept by ``sale.order.revision``)."""
        self._preload_taxes(self.lines)
        return {
            "revision": self.revision or 0,
            "number": self.number,
            "customer_id": self.customer_id,
            "customer": self.customer.name if self.customer is not None else None,
            "payment_term_id": self.payment_term_id,
            "payment_term": self.payment_term.code if self.payment_term is not None else None,
            "salesperson_id": self.salesperson_id,
            "date_order": self.date_order.isoformat() if self.date_order else None,
            "validity_date": self.validity_date.isoformat() if self.validity_date else None,
            "currency": self.currency,
            "note": self.note,
            "amount_untaxed": _amount(self.amount_untaxed),
            "amount_tax": _amount(self.amount_tax),
            "amount_total": _amount(self.amount_total),
            "lines": [
                {"id": ln.id, "sequence": ln.sequence, "product_id": ln.product_id,
                 "description": ln.description, "quantity": norm(ln.quantity),
                 "unit_price": norm(ln.unit_price), "discount": norm(ln.discount or ZERO),
                 "tax_id": ln.tax_id, "tax": ln.tax.code if ln.tax is not None else None,
                 "amount_untaxed": _amount(ln.amount_untaxed), "amount_tax": _amount(ln.amount_tax),
                 "amount_total": _amount(ln.amount_total)}
                for ln in self.lines
            ],
        }

    # -- consistency --------------------------------------------------------------------------
    def parts_frozen(self) -> str | None:
        """The lines (``sale.line.__posted_parent__``) change only in draft: past it, what was
        approved stays as approved (only the ledger moves) until an amendment takes the order
        back to draft. A new order takes its lines with it."""
        from sqlalchemy import inspect

        if inspect(self).key is None or self.state in (None, "draft"):
            return None
        return f"{self.state} (its lines change in draft only: amend it)"

    def ledger_disagreement(self, keys=("shipping_status", "invoice_status")) -> dict[str, tuple]:
        """``{status: (stored, what the ledger says)}`` of the sub-statuses among ``keys`` that
        the loaded lines' ledger contradicts (``ledger_statuses``; no SQL once the lines are
        loaded)."""
        if not keys:
            return {}
        computed = dict(zip(("shipping_status", "invoice_status"), self.ledger_statuses(), strict=True))
        return {key: (getattr(self, key) or NONE, computed[key]) for key in keys
                if (getattr(self, key) or NONE) != computed[key]}

    def validate(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        # derived from the ledger: set only as it says (store_progress), by any route
        changed = _changed(self, LEDGER_STATUSES)
        if changed and instance_state(self).info.pop(_FROM_LEDGER, None) != (
                self.shipping_status, self.invoice_status):
            for key, (stored, computed) in self.ledger_disagreement(changed).items():
                errors.setdefault(key, []).append(
                    f"{stored!r} is not what the lines' ledger says ({computed!r}): it is "
                    "derived from the ledger")
        if self.state in SHIPPED_STATES and self.shipping_status != FULL:
            errors.setdefault("state", []).append(
                f"an order in state {self.state!r} must be fully shipped")
        if self.state in INVOICED_STATES and self.invoice_status != FULL:
            errors.setdefault("state", []).append(
                f"an order in state {self.state!r} must be fully invoiced")
        if self.state == "paid" and self.payment_status != FULL:
            errors.setdefault("state", []).append("a paid order must be fully paid")
        if self.validity_date is None:
            errors.setdefault("validity_date", []).append("required: every order has a validity date")
        elif self.date_order and self.validity_date < self.date_order:
            errors.setdefault("validity_date", []).append("must not be before the order date")
        return errors


@model("sale.line")
class SaleLine:
    __tablename__ = "sale_line"
    __audit__ = True
    #: a part of its order: once the order left draft, no line is added, changed (but for the
    #: ledger), moved or deleted, by any route, until an amendment takes it back to draft
    #: (``SaleOrder.parts_frozen``; the kernel's ``__posted_parent__``)
    __posted_parent__ = "order"
    __mutable_when_posted__ = frozenset(LEDGER)

    order_id: Mapped[int] = mapped_column(ForeignKey("sale_order.id", ondelete="CASCADE"), index=True)
    sequence: Mapped[int] = mapped_column(Integer, default=10)
    product_id: Mapped[int] = mapped_column(ForeignKey("sale_product.id"), index=True)
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Qty)
    unit_price: Mapped[Decimal] = mapped_column(Price)
    #: percent, 0..100
    discount: Mapped[Decimal] = mapped_column(Rate, default=ZERO)
    tax_id: Mapped[int | None] = mapped_column(ForeignKey("sale_tax.id"))
    amount_untaxed: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    amount_tax: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    amount_total: Mapped[Decimal] = mapped_column(Money, default=ZERO)
    # the quantity ledger
    qty_shipped: Mapped[Decimal] = mapped_column(Qty, default=ZERO)
    qty_invoiced: Mapped[Decimal] = mapped_column(Qty, default=ZERO)
    qty_returned: Mapped[Decimal] = mapped_column(Qty, default=ZERO)
    #: lets SQLite insert many lines in one statement (INSERT .. RETURNING in parameter order;
    #: PostgreSQL needs none); always NULL outside a multi-row INSERT
    _sentinel: Mapped[int | None] = orm_insert_sentinel()

    order: Mapped[SaleOrder] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()
    tax: Mapped[Tax | None] = relationship()

    def compute_amounts(self, digits: int, tax=_UNSET) -> None:
        """Rounded line amounts (policy in the module docstring). ``tax``: the line's
        ``sale.tax`` when the caller has it at hand (else ``self.tax``)."""
        discount = self.discount or ZERO
        gross = self.quantity * self.unit_price * (HUNDRED - discount) / HUNDRED
        if tax is _UNSET:
            tax = self.tax
        rate = Decimal(tax.rate) if tax is not None else ZERO
        if tax is not None and tax.price_include:
            total = round_money(gross, digits=digits)
            tax_amount = round_money(total * rate / (1 + rate), digits=digits)
            untaxed = total - tax_amount
        else:
            untaxed = round_money(gross, digits=digits)
            tax_amount = round_money(untaxed * rate, digits=digits)
            total = untaxed + tax_amount
        self.amount_untaxed = untaxed.quantize(quantum(digits))
        self.amount_tax = tax_amount.quantize(quantum(digits))
        self.amount_total = total.quantize(quantum(digits))

    @property
    def qty_to_ship(self) -> Decimal:
        return max(self.quantity - (self.qty_shipped or ZERO), ZERO)

    @property
    def qty_delivered(self) -> Decimal:
        """Shipped and kept: shipped minus returned."""
        return (self.qty_shipped or ZERO) - (self.qty_returned or ZERO)

    def qty_invoiceable(self, policy: str | None = None) -> Decimal:
        """The most that may be invoiced on this line under the invoice policy (``[addon.sale]
        invoice_policy``: "shipped" = what was shipped, "ordered" = what was ordered), minus
        returns."""
        if policy is None:
            policy = self.env.settings("sale")["invoice_policy"]
        base = self.quantity if policy == "ordered" else (self.qty_shipped or ZERO)
        return base - (self.qty_returned or ZERO)

    def qty_to_invoice(self, policy: str | None = None) -> Decimal:
        """What is still to invoice now (negative: a credit note is due)."""
        return self.qty_invoiceable(policy) - (self.qty_invoiced or ZERO)

    def validate(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}

        def bad(key: str, message: str) -> None:
            errors.setdefault(key, []).append(message)

        if self.quantity is not None and self.quantity <= 0:
            bad("quantity", "must be positive")
        if self.unit_price is not None and self.unit_price < 0:
            bad("unit_price", "must not be negative")
        if self.discount is not None and not (ZERO <= self.discount <= HUNDRED):
            bad("discount", "must be between 0 and 100")
        shipped = self.qty_shipped or ZERO
        invoiced = self.qty_invoiced or ZERO
        returned = self.qty_returned or ZERO
        for key, value in (("qty_shipped", shipped), ("qty_invoiced", invoiced),
                           ("qty_returned", returned)):
            if value < 0:
                bad(key, "must not be negative")
        if self.quantity is not None and shipped > self.quantity:
            bad("qty_shipped", f"{norm(shipped)} shipped is more than the {norm(self.quantity)} ordered")
        if returned > shipped:
            bad("qty_returned", f"{norm(returned)} returned is more than the {norm(shipped)} shipped")
        if self.quantity is not None and invoiced > 0:
            policy = self.env.settings("sale")["invoice_policy"]
            limit = self.quantity if policy == "ordered" else shipped
            if invoiced > limit:
                bad("qty_invoiced", f"{norm(invoiced)} invoiced is more than the {norm(limit)} "
                                    f"{'ordered' if policy == 'ordered' else 'shipped'}")
        # (ledger_add sets the ledger as loaded values: nothing pending, nothing to ask)
        ledger = _changed(self, _LEDGER_KEYS) if instance_state(self).committed_state else ()
        if ledger and not errors and self.order is not None:
            # the order's sub-statuses (and so its state) follow the ledger in the same flush:
            # ledger_add, then refresh_progress or a transition's store_progress
            order = self.order
            for status, (stored, computed) in order.ledger_disagreement().items():
                for key in ledger:
                    bad(key, f"order {order.number or order.id} is {order.state} with "
                             f"{status.replace('_', ' ')} {stored!r}, but its lines would say "
                             f"{computed!r}: the ledger moves through shipments, invoices and "
                             "returns, which keep the order in step")
        return errors


@model("sale.order.revision")
class OrderRevision:
    """An approved order's content before an amendment (``snapshot``) with a readable ``diff``
    to the amended order. Never deleted, and nothing of it changes except ``diff`` while the
    amendment is open (the order is still a draft of the next revision): the diff follows each
    edit of the draft (``services.order``) and is frozen once the order is approved again (or
    cancelled), so it says what the approval after the amendment approved."""

    __tablename__ = "sale_order_revision"
    # the kernel's rule for posted records does the freezing: every row is posted ("kept"), so
    # it is never deleted nor bulk-updated and only ``diff`` may change; ``validate`` says when
    __posted_states__ = ("kept",)
    __mutable_when_posted__ = frozenset({"diff"})

    order_id: Mapped[int] = mapped_column(ForeignKey("sale_order.id", ondelete="CASCADE"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict] = mapped_column(JSON)
    diff: Mapped[list] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("res_user.id"))

    @property
    def state(self) -> str:
        """Always ``"kept"`` (see ``__posted_states__``); not a column."""
        return "kept"

    def validate(self) -> dict[str, list[str]]:
        from sqlalchemy import inspect

        info = inspect(self)
        if info.key is None or not info.attrs.diff.history.has_changes():
            return {}  # a new row, or its diff unchanged
        order = self.env.session.get(self.env["sale.order"], self.order_id)
        if order is None or order.state != "draft" or order.revision != self.revision + 1:
            return {"diff": [f"revision {self.revision} is frozen: its amendment was approved "
                             "or cancelled"]}
        return {}
