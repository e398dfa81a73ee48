"""kt_ext's signal receivers: module-level functions (blinker keeps weak references)."""

from __future__ import annotations

import weakref

#: what the receiver heard: (weakref to the salesflow, record_name, record_id, trigger, source,
#: dest, user_id); a weak reference, so that hearing an app does not keep it alive
RECEIVED: list[tuple] = []


def on_transitioned(sender, record_name, record_id, trigger, source, dest, user_id, **_kw):
    RECEIVED.append((weakref.ref(sender), record_name, record_id, trigger, source, dest, user_id))


def connect(signals, salesflow):
    # sender=salesflow: another app in the same process does not reach this receiver
    signals.record_transitioned.connect(on_transitioned, sender=salesflow)
