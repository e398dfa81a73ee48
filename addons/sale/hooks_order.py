"""Order hooks of the sale addon: the approval fingerprint of orders and the default line price."""

from __future__ import annotations

import hashlib
import json

from core.plugins import hookimpl


@hookimpl
def approval_fingerprint(record, env):
    """``sale.order``: a hash of ``order.approval_fingerprint_data()`` (customer, payment term,
    currency, revision, total, every line's product, quantity, price, discount and tax), from
    the lines already loaded. Any change of those voids the approvals given before."""
    if getattr(record, "__record__", None) != "sale.order":
        return None
    data = record.approval_fingerprint_data()
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


@hookimpl(trylast=True)
def sale_line_price(line, order, env):
    """Default: the product's list price."""
    product = line.product
    return product.list_price if product is not None else None


@hookimpl
def workflow_prefetch(records, trigger, env):
    """``sale.order``: the lines of every order in one SELECT (each guard reads them), and for
    ``approve`` the customers too; ``sale.invoice`` ``post``: the posting checks of all the
    invoices in one SELECT."""
    name = getattr(records[0], "__record__", None)
    if name == "sale.order":
        env["sale.order"].prefetch(env, records, customers=trigger == "approve")
    elif name == "sale.invoice" and trigger == "post":
        from .services.invoice import prefetch_postable

        prefetch_postable(env, records)


_BALANCE_TRIGGERS = {
    "sale.order": {"approve", "amend", "cancel", "ship", "invoice", "settle"},
    "sale.invoice": {"post", "settle"},
}


@hookimpl
def workflow_transition_done(record, trigger, source, dest, env):
    """Tell ``sale_customer_balance_changed`` listeners about order and invoice transitions."""
    if trigger in _BALANCE_TRIGGERS.get(getattr(record, "__record__", ""), ()):
        env.hook.sale_customer_balance_changed(customer_id=record.customer_id, reason=trigger,
                                               record=record, env=env)
    if getattr(record, "__record__", None) == "sale.order" and trigger == "approve":
        # an amendment may have cut the lines down to what was already shipped (or invoiced):
        # the ledger then says the order is further on than "approved", and no shipment will
        # ever come to fire `ship`; move it on now (after its own log row: see advance_approved)
        from .services.invoice import advance_approved

        advance_approved(env, record)


@hookimpl
def approval_amount(record, field, env):
    """``sale.order`` in a foreign currency: the amount in the company currency at the rate of
    the order date, so the approval thresholds (company currency) mean the same for a USD
    order. No rate on or before that date: the approval is refused, naming the currency."""
    if getattr(record, "__record__", None) != "sale.order":
        return None
    from .services.exchange import to_company
    from .services.masterdata import company_currency, rate_at

    amount = getattr(record, field)
    if amount is None or (record.currency or "").upper() == company_currency(env):
        return None
    return to_company(env, amount, rate_at(env, record.currency, record.date_order))
