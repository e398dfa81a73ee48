"""kt_ext's changes to the ``kt.doc`` workflow."""

from core.workflow.spec import Extend, Transition, WorkflowPatch, insert_step

# A new state with its way in and out, and one more guard on an existing transition.
PATCH = WorkflowPatch(
    record="kt.doc",
    add_states=["on_hold"],
    add_transitions=[
        Transition("hold", source="confirmed", dest="on_hold", roles=["kt_manager"]),
        Transition("resume", source="on_hold", dest="confirmed", roles=["kt_manager"]),
    ],
    extend=[Extend("confirm", guards=("has_reference",))],
)

# confirmed -finish-> done becomes confirmed -check-> checked -finish-> done.
CHECK_STEP = insert_step("kt.doc", trigger="finish", source="confirmed", state="checked",
                         via="check", roles=["kt_director"], label="Check")
