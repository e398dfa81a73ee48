"""Workflow of ``kt.doc``: draft -> confirmed -> done, cancellable until done."""

from core.workflow.spec import Transition, WorkflowSpec

KT_DOC = WorkflowSpec(
    record="kt.doc",
    states=["draft", "confirmed", "done", "cancelled"],
    initial="draft",
    final=["done", "cancelled"],
    transitions=[
        Transition("confirm", source="draft", dest="confirmed",
                   roles=["kt_clerk", "kt_manager", "kt_director"], guards=["amount_positive"]),
        Transition("finish", source="confirmed", dest="done", roles=["kt_manager"]),
        Transition("cancel", source=["draft", "confirmed"], dest="cancelled", needs_comment=True),
        Transition("reopen", source="cancelled", dest="draft", roles=["kt_manager"]),
    ],
)
