"""Early-payment discount on payments: sale_credit's answer to sale's ``sale_payment_discount``
door (``register_payment`` asks it for every invoice a payment reaches). The policy is in
``services/discount.py``."""

from __future__ import annotations

from core.plugins import hookimpl

from .services.discount import early_payment_discount


@hookimpl
def sale_payment_discount(invoice, date, amount, env):
    untaxed, tax = early_payment_discount(env, invoice, date, amount)
    if untaxed + tax <= 0:
        return None
    return untaxed, tax
