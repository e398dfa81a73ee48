"""After-the-fact news, as blinker signals. Sent only after the transaction committed.

Receivers are module-level functions (blinker holds weak references) that never change the
record that was sent; anything that must veto or compute is a hook instead. An addon connects
its receivers in a function listed under ``[provides].signals``; it is called once per app with
this module and the app's ``Salesflow``, and receivers should filter on ``salesflow``
(the sender) so that two apps in one process do not hear each other.
"""

from blinker import Namespace

_signals = Namespace()

#: kwargs: record_name, record_id, trigger, source, dest, user_id
record_transitioned = _signals.signal("record-transitioned")
#: kwargs: record_name, record_id, user_id
record_created = _signals.signal("record-created")
#: kwargs: record_name, record_id, user_id, changes ({field: (old, new)})
record_changed = _signals.signal("record-changed")
