"""Invoicing hooks of the sale addon.

* An order that becomes ``shipped`` while already fully invoiced (invoice policy "ordered")
  moves on to ``invoiced`` (and ``paid`` when its invoices are). The system moves it, as
  ``advance_approved`` does: the warehouse user who shipped holds no finance role, and the
  state must follow the ledger at once, not when finance next touches the order.
* The journal's accounts exist before anything is booked (created on first use too).
"""

from __future__ import annotations

from core.plugins import hookimpl


@hookimpl
def workflow_transition_done(record, trigger, source, dest, env):
    if record.__record__ == "sale.order" and dest == "shipped" \
            and getattr(record, "invoice_status", None) == "full":
        from .services.invoice import advance_order

        with env.as_system():
            advance_order(env, record)


@hookimpl
def demo_data(env, rng):
    from .services.journal import ensure_accounts

    ensure_accounts(env)
