"""REST API of the sale addon under /api/v1. One module per resource registers its endpoints."""

from core.api import ApiBlueprint

bp = ApiBlueprint("sale_api", __name__, url_prefix="/api/v1")

from . import accounting, customers, documents, invoices, masterdata, orders, payments, reports  # noqa: E402,F401  (register routes)
