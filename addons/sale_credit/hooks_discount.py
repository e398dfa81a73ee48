"""Early-payment discount on payments: the implementation of the sale door it needs.

NOT LISTED in manifest.toml yet: the hook ``sale_payment_discount`` does not exist in
``core/plugins/hookspecs.py`` (an unknown hook name stops the app at startup). Once the sale
addon offers it (see docs/sale_credit.md, "Early-payment discount: the door in sale"), add
``"hooks_discount"`` to ``[provides].hooks``.
"""

from __future__ import annotations

from core.plugins import hookimpl

from .services.discount import early_payment_discount


@hookimpl
def sale_payment_discount(invoice, date, amount, env):
    untaxed, tax = early_payment_discount(env, invoice, date, amount)
    if untaxed + tax <= 0:
        return None
    return untaxed, tax
