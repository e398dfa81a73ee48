"""sale_credit's patch of the ``sale.order`` workflow (see models/order.py for the guards).

    draft -approve-> credit_review      (first: taken when the check fails, policy "review")
    draft -approve-> approved           (sale's; + guard check_credit)
    credit_review -release_credit-> approved    (credit_manager; not the order's salesperson)
    credit_review -reject_credit-> cancelled    (credit_manager; not the order's salesperson;
                                                 with a comment)
    credit_review -cancel-> cancelled           (the sellers withdraw it; with a comment)
"""

from core.workflow.spec import Extend, Transition, WorkflowPatch

#: the roles of sale's ``approve`` (tests/test_credit_workflow.py checks they still match)
SELLERS = ("salesperson", "sales_manager", "director")

PATCH = WorkflowPatch(
    record="sale.order",
    first=True,  # the credit_review candidate of `approve` is tried before sale's
    add_states=["credit_review"],
    extend=[Extend("approve", source="draft", guards=("check_credit",))],
    add_transitions=[
        Transition("approve", source="draft", dest="credit_review", roles=SELLERS,
                   guards=("credit_needs_review",), label="Approve"),
        Transition("release_credit", source="credit_review", dest="approved",
                   roles=("credit_manager",), guards=("check_credit_releaser",),
                   label="Release credit"),
        Transition("reject_credit", source="credit_review", dest="cancelled",
                   roles=("credit_manager",), guards=("check_credit_releaser",),
                   needs_comment=True, label="Reject credit"),
        Transition("cancel", source="credit_review", dest="cancelled", roles=SELLERS,
                   needs_comment=True),
    ],
)
