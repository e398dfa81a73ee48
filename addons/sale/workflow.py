"""Workflows of the sale addon (data; other addons patch them with WorkflowPatch)."""

from core.workflow.spec import Transition, WorkflowSpec

SELLERS = ("salesperson", "sales_manager", "director")

SALE_ORDER = WorkflowSpec(
    record="sale.order",
    states=["draft", "approved", "shipped", "invoiced", "paid", "cancelled"],
    initial="draft",
    final=["paid", "cancelled"],
    transitions=[
        Transition("approve", source="draft", dest="approved", roles=SELLERS),
        Transition("ship", source="approved", dest="shipped", roles=("warehouse",)),
        Transition("invoice", source="shipped", dest="invoiced", roles=("finance",)),
        Transition("settle", source="invoiced", dest="paid", roles=("finance",)),
        Transition("cancel", source=["draft", "approved"], dest="cancelled", roles=SELLERS,
                   needs_comment=True),
    ],
)

SALE_INVOICE = WorkflowSpec(
    record="sale.invoice",
    states=["draft", "posted", "paid", "cancelled"],
    initial="draft",
    final=["paid", "cancelled"],
    transitions=[
        Transition("post", source="draft", dest="posted", roles=("finance",)),
        Transition("settle", source="posted", dest="paid", roles=("finance",)),
        Transition("cancel", source="draft", dest="cancelled", roles=("finance",)),
    ],
)
