"""kt_ext's signal receivers: module-level functions (blinker keeps weak references)."""

from __future__ import annotations

#: what the receiver heard: (salesflow, record_name, record_id, trigger, source, dest, user_id)
RECEIVED: list[tuple] = []


def on_transitioned(sender, record_name, record_id, trigger, source, dest, user_id, **_kw):
    RECEIVED.append((sender, record_name, record_id, trigger, source, dest, user_id))


def connect(signals, salesflow):
    # sender=salesflow: another app in the same process does not reach this receiver
    signals.record_transitioned.connect(on_transitioned, sender=salesflow)
