"""Every hook salesflow offers, in one place.

A hook is a decision or a computation any enabled addon may join. Implementations are plain
functions marked ``@hookimpl`` in a module an addon lists under ``[provides].hooks``; they may
accept fewer arguments than the spec. Calls are always by keyword.

Order: pluggy calls implementations last-registered-first, and addons are registered in addon
order, so the most dependent addon runs first (like the outermost ``super()``). ``firstresult``
hooks stop at the first non-``None`` answer.

Every spec here must have an entry in ``docs/hooks.md`` and a test named ``test_hook_<name>``
(``tests/test_meta.py`` enforces both).
"""

from __future__ import annotations

import pluggy

PROJECT = "salesflow"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --------------------------------------------------------------------------------------------
# Kernel: records and workflow
# --------------------------------------------------------------------------------------------


@hookspec
def workflow_transition_blockers(record, trigger, source, dest, env):
    """Return reasons (``list[str]``) why ``record`` must not go ``source -> dest`` by ``trigger``.

    Called for every candidate transition after its declared guards, before anything changes.
    Return ``[]`` when this addon has no objection. Must not write to the database (the answer
    is also used to show why a button is disabled).
    """


@hookspec
def workflow_lock_rows(record, trigger, env):
    """Lock the rows your guards for ``trigger`` on ``record`` will read, before they run.

    Called by ``fire()`` (never by ``blockers()``) inside the write transaction, before any
    guard or ``workflow_transition_blockers``. Use ``env.lock(row)`` (``SELECT ... FOR UPDATE``
    on PostgreSQL; SQLite write transactions are already exclusive). Lock as few rows as the
    decision needs (e.g. the customer of an order for a credit check), so unrelated records do
    not wait for each other. Return value ignored.
    """


@hookspec
def workflow_prefetch(records, trigger, env):
    """Load, for all of ``records`` at once, what your guards and blockers of ``trigger`` read.

    Called by ``fire()`` and ``fire_many()`` once, with the records about to be checked (one
    record class), before any is locked (``workflow_lock_rows`` runs per record, just before
    its check) or checked. Guards then find the rows in the
    session instead of reading them record by record: firing a trigger on a thousand records
    costs a few SELECTs, not thousands. Read only what the user may see (record rules apply
    as usual); write nothing. Return value ignored.
    """


@hookspec
def workflow_transition_done(record, trigger, source, dest, env, comment):
    """React inside the transaction, after ``record`` moved ``source -> dest``; ``comment``
    is the one given to the trigger (None without).

    Use it for work that must commit or roll back with the transition (create a document,
    reserve stock). Raising aborts the whole transition. For after-commit news use the
    ``record_transitioned`` signal instead.
    """


@hookspec
def record_validate(record, env):
    """Return ``{field: [messages]}`` of problems with ``record`` before it is flushed.

    Called for every new or changed record whose class is in this app. Return ``{}`` (or
    ``None``) when it is fine. Must not write to the database.
    """


@hookspec
def record_rule_filters(model, env):
    """Return SQLAlchemy criteria (``list``) restricting which rows of ``model`` ``env.user`` sees.

    ``model`` is the composed class. Criteria of all addons are AND-ed and applied to every ORM
    query the user's transaction makes (lists, pages, reports, exports), and to fetching by id
    (a hidden row is "not found"). Return ``[]`` for no restriction. Not called for superusers
    or in ``env.sudo()``.
    """


@hookspec(firstresult=True)
def approval_fingerprint(record, env):
    """Return a string that changes whenever what an approval approved changes.

    An approval stores it; approvals whose fingerprint differs from the record's current one
    are void. First non-``None`` answer wins; the kernel's default hashes every column.
    """


@hookspec(firstresult=True)
def approval_amount(record, field, env):
    """Return the ``Decimal`` an approval rule compares with its levels' thresholds.

    ``field`` is the rule's ``amount_field``. An addon whose records carry a currency answers
    with the amount in the company currency, so thresholds mean the same for every currency.
    First non-``None`` answer wins; the kernel's default is ``getattr(record, field)``.
    """


# --------------------------------------------------------------------------------------------
# Kernel: application
# --------------------------------------------------------------------------------------------


@hookspec
def app_configured(app, salesflow):
    """Called once when a Flask app is built, after blueprints are registered.

    Use it to add template globals, error handlers or CLI-independent setup. Must not touch the
    database (the app may be built before it exists).
    """


@hookspec
def db_addons_installed(addons, env):
    """Called by ``salesflow db upgrade`` when it installed the branches of ``addons`` (enabled
    since the last upgrade, or a new database), after every revision, in the same transaction.

    ``env`` is the system's. Fill what an addon keeps derived from the data already in the
    database (sale_credit: the exposure of the open orders and invoices). An error rolls the
    whole upgrade back. Must not commit.
    """


@hookspec
def demo_data(env, rng):
    """Fill a fresh database with demonstration data for this addon.

    Called in addon order by ``salesflow demo``, inside one transaction, with a seeded
    ``random.Random``. Addons add to what earlier addons created.
    """


# --------------------------------------------------------------------------------------------
# sale: orders and shipments
# --------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def sale_line_price(line, order, env):
    """Return the unit price (``Decimal``) of a new order line created without one.

    Called by ``create_order``/``update_order``/``amend_order`` for every new line (or line whose
    product changed) without a ``unit_price``. ``line`` is the unsaved ``sale.line`` with
    ``product``, ``quantity``, ``discount`` and ``tax`` set; ``order`` its order (maybe unsaved:
    customer, currency and dates set). First non-``None`` answer wins; the sale addon's default
    (registered last) answers the product's list price. Must not write to the database.
    """


@hookspec
def sale_shipment_blockers(order, quantities, env):
    """Return reasons (``list[str]``) why ``quantities`` ({sale_line_id: Decimal}) of ``order``
    must not be shipped now.

    Called by ``record_shipment`` for every shipment, partial or not, after its quantities were
    checked and before anything is written (the final shipment then also fires ``ship``, whose
    guards run as usual). Return ``[]`` when this addon has no objection. Must not write to the
    database.
    """


@hookspec
def sale_customer_balance_changed(customer_id, reason, record, env):
    """A document just changed what customer ``customer_id`` owes or has on order.

    Called inside the transaction, after the change was flushed, by the sale addon for: an
    order approved, amended, cancelled, shipped, invoiced or paid (``reason`` = the trigger);
    a delivery or return recorded (``"delivery"``, ``"return"``); an invoice or credit note
    posted or settled (``"post"``, ``"settle"``); a payment registered (``"payment"``) or
    customer credit applied (``"credit_applied"``). ``record`` is the document. Use it to keep
    per-customer figures (credit exposure, dashboards) current without summing history at read
    time. Raising aborts the change. Return value ignored.
    """


# --------------------------------------------------------------------------------------------
# sale: payments
# --------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def sale_payment_discount(invoice, date, amount, env):
    """Return ``(discount_untaxed, discount_tax)`` (``Decimal``) that a payment dated ``date``
    putting ``amount`` toward ``invoice`` earns, or ``None`` for no discount.

    Called by ``register_payment`` while it plans allocations, for every open posted invoice the
    payment is about to reach (``amount``: what is left of the payment for this invoice, or the
    named allocation's amount), before anything is written. The invoice is then settled by
    ``amount`` less the discount in money plus the discount, booked on the payment's journal
    entry (debit sales discount and output VAT, credit receivable). First answer wins. Must not
    write to the database.
    """
