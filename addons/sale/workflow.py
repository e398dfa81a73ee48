"""Workflows of the sale addon (data; other addons patch them with WorkflowPatch)."""

from core.workflow.spec import Transition, WorkflowSpec

SELLERS = ("salesperson", "sales_manager", "director")

#: guards of ``approve`` (record methods of sale.order; addons add theirs with an ``Extend``
#: patch or the ``workflow_transition_blockers`` hook)
APPROVE_GUARDS = ("check_has_lines", "check_positive_total", "check_not_expired",
                  "check_customer_active")

SALE_ORDER = WorkflowSpec(
    record="sale.order",
    states=["draft", "approved", "shipped", "invoiced", "paid", "cancelled"],
    initial="draft",
    final=["paid", "cancelled"],
    transitions=[
        # amounts over the configured thresholds ([[approvals]]) also need approval levels
        Transition("approve", source="draft", dest="approved", roles=SELLERS,
                   guards=APPROVE_GUARDS),
        # an approved order changes only through an amendment: back to draft as a new revision
        # (sale.services.order.amend_order keeps the previous one with a diff)
        Transition("amend", source="approved", dest="draft", roles=SELLERS, needs_comment=True,
                   before=("bump_revision",)),
        # fired by record_shipment when the ledger says every line is shipped; the ``before``
        # action stores the sub-statuses computed from the ledger (written with the state)
        Transition("ship", source="approved", dest="shipped", roles=("warehouse",),
                   guards=("check_fully_shipped",), before=("store_progress",), automatic=True),
        Transition("invoice", source="shipped", dest="invoiced", roles=("finance",),
                   guards=("check_fully_invoiced",), before=("store_progress",), automatic=True),
        Transition("settle", source="invoiced", dest="paid", roles=("finance",),
                   guards=("check_paid",), before=("store_progress",), automatic=True),
        Transition("cancel", source=["draft", "approved"], dest="cancelled", roles=SELLERS,
                   needs_comment=True, guards=("check_nothing_shipped",)),
    ],
)

SALE_INVOICE = WorkflowSpec(
    record="sale.invoice",
    states=["draft", "posted", "paid", "cancelled"],
    initial="draft",
    final=["paid", "cancelled"],
    transitions=[
        # posting numbers the document (gap-free per year), sets the due date, books the
        # journal entry (before), then updates the order's quantity ledger (after)
        Transition("post", source="draft", dest="posted", roles=("finance",),
                   guards=("check_postable",), before=("action_post",),
                   after=("action_after_post",)),
        # fired by payments and credit notes when nothing is left open
        Transition("settle", source="posted", dest="paid", roles=("finance",),
                   guards=("check_settled",), automatic=True),
        # a posted invoice is never cancelled: it is corrected by a credit note
        Transition("cancel", source="draft", dest="cancelled", roles=("finance",)),
    ],
)
