"""REST API of sale_credit under /api/v1/credit. One module per resource registers its endpoints."""

from core.api import ApiBlueprint

bp = ApiBlueprint("sale_credit_api", __name__, url_prefix="/api/v1/credit")

# Route modules (each adds its endpoints to ``bp``), registered by importing them:
#   credit       core credit: exposure, reviews, panel, holds, decisions, proposals
#   collections  collections: dunning, outbox, DSO, discounts
from . import collections, credit  # noqa: E402,F401
