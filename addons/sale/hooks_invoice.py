"""Invoicing hooks of the sale addon.

* An order that becomes ``shipped`` while already fully invoiced (invoice policy "ordered")
  moves on to ``invoiced`` (and ``paid`` when its invoices are), when the user may fire those.
* The journal's accounts exist before anything is booked (created on first use too).
"""

from __future__ import annotations

from core.plugins import hookimpl


@hookimpl
def workflow_transition_done(record, trigger, source, dest, env):
    if record.__record__ == "sale.order" and dest == "shipped" \
            and getattr(record, "invoice_status", None) == "full":
        from .services.invoice import advance_order

        advance_order(env, record)


@hookimpl
def demo_data(env, rng):
    from .services.journal import ensure_accounts

    ensure_accounts(env)
