"""REST endpoints: sale orders. Thin views over ``services.order`` and ``services.shipment``.

* ``GET /orders`` (filters ``state``, ``customer_id``, ``salesperson_id``, ``date_from``,
  ``date_to``; sort ``number``, ``date_order``, ``amount_total``, ``state``), ``POST /orders``
  (``Idempotency-Key`` honoured: a retry replays the first response; the same key with another
  body is a 422);
* ``GET /orders/<id>``: the order with its lines and ``triggers`` ({trigger: [reasons it would be
  refused now]}; ``[]`` = may fire); ``PATCH`` (drafts only, 409 otherwise; ``If-Match`` with the
  ETag, 412 when stale); ``lines``, ``revisions``, ``log`` (transitions), ``shipments``;
* ``POST /orders/<id>/triggers/<trigger>`` ``{"comment": ...}``: 200 when the transition was
  made, 202 with ``"done": false`` and ``approvals_pending`` when an approval level was recorded
  and more are needed, 409 with every reason when refused;
* ``POST /orders/<id>/copy``, ``/amend`` ``{"reason", "changes"}``, ``/shipments``
  ``{"quantities": {sale_line_id: qty}}`` (omitted: everything left), ``/returns``
  ``{"quantities": ...}`` (goods that came back).

A salesperson sees only the orders of their customers: any other id is a 404. Amounts,
prices and quantities are decimal strings (floats are refused).
"""

from __future__ import annotations

from flask import g, jsonify
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core.api import BATCH_MAX, check_if_match, iso_date, paginate, records_of, whole_number
from core.config import DecimalString
from core.errors import ValidationError

from ..services import order as orders
from ..services import shipment as shipments
from . import bp

TAG = "orders"


def _dec(places: int) -> fields.Decimal:
    return fields.Decimal(places=places, as_string=True, dump_only=True)


def _in_dec(**kw) -> DecimalString:
    return DecimalString(allow_none=True, **kw)


# -- schemas ---------------------------------------------------------------------------------


class LineInSchema(Schema):
    id = fields.Integer(metadata={"description": "an existing line to change (PATCH, amend)"})
    product_id = fields.Integer()
    quantity = _in_dec()
    unit_price = _in_dec(metadata={"description": "null: priced by the sale_line_price hook "
                                                  "(default: the product's list price)"})
    discount = _in_dec(metadata={"description": "percent, 0..100"})
    tax_id = fields.Raw(allow_none=True, metadata={"description": "null: the product's tax; "
                                                                  "false: no tax"})
    description = fields.String(allow_none=True, validate=validate.Length(max=300))


class OrderChangesSchema(Schema):
    """What PATCH and amend may change; ``lines`` is the full new list."""

    customer_id = fields.Integer()
    lines = fields.List(fields.Nested(LineInSchema))
    date_order = fields.Date()
    validity_date = fields.Date(metadata={"description": "can be changed, never cleared"})
    payment_term_id = fields.Integer(allow_none=True)
    salesperson_id = fields.Integer(allow_none=True)
    note = fields.String(allow_none=True)


class OrderInSchema(OrderChangesSchema):
    customer_id = fields.Integer(required=True)
    lines = fields.List(fields.Nested(LineInSchema), required=True)
    date_order = fields.Date(allow_none=True)
    validity_date = fields.Date(allow_none=True, metadata={
        "description": "null or omitted: [addon.sale] quotation_validity_days after date_order"})


class AmendSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1))
    changes = fields.Nested(OrderChangesSchema, load_default=dict)


class TriggerSchema(Schema):
    comment = fields.String(allow_none=True)


class ShipmentInSchema(Schema):
    quantities = fields.Dict(keys=fields.String(), values=DecimalString(), allow_none=True,
                             metadata={"description": "{sale_line_id: quantity}; omitted: "
                                                      "everything left to ship"})
    date = fields.Date(allow_none=True)
    reference = fields.String(allow_none=True, validate=validate.Length(max=64))
    note = fields.String(allow_none=True)


class LineSchema(Schema):
    id = fields.Integer()
    sequence = fields.Integer()
    product_id = fields.Integer()
    description = fields.String()
    quantity = _dec(3)
    unit_price = _dec(6)
    discount = _dec(6)
    tax_id = fields.Integer(allow_none=True)
    amount_untaxed = _dec(2)
    amount_tax = _dec(2)
    amount_total = _dec(2)
    qty_shipped = _dec(3)
    qty_invoiced = _dec(3)
    qty_returned = _dec(3)
    qty_to_ship = _dec(3)


class OrderSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    state = fields.String()
    customer_id = fields.Integer()
    salesperson_id = fields.Integer(allow_none=True)
    date_order = fields.Date()
    validity_date = fields.Date()
    currency = fields.String()
    payment_term_id = fields.Integer(allow_none=True)
    amount_untaxed = _dec(2)
    amount_tax = _dec(2)
    amount_total = _dec(2)
    revision = fields.Integer()
    shipping_status = fields.String()
    invoice_status = fields.String()
    payment_status = fields.String()
    cancel_reason = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    copied_from_id = fields.Integer(allow_none=True)
    version = fields.Integer()


class OrderDetailSchema(OrderSchema):
    lines = fields.List(fields.Nested(LineSchema))
    triggers = fields.Method("get_triggers", metadata={
        "description": "{trigger: [reasons it would be refused now]}; [] = may fire"})

    def get_triggers(self, order):
        return g.env.available_triggers(order)


#: one instance for every trigger response (a marshmallow schema costs ~0.3 ms to make; dumping
#: keeps no state in it)
_ORDER_DETAIL = OrderDetailSchema()


class ShipmentLineSchema(Schema):
    sale_line_id = fields.Integer()
    quantity = _dec(3)


class ReturnInSchema(ShipmentInSchema):
    quantities = fields.Dict(keys=fields.String(), values=DecimalString(), required=True,
                             metadata={"description": "{sale_line_id: quantity} that came back"})


class ShipmentSchema(Schema):
    id = fields.Integer()
    order_id = fields.Integer()
    kind = fields.String(metadata={"description": "delivery or return"})
    date = fields.Date()
    reference = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    user_id = fields.Integer(allow_none=True)
    lines = fields.List(fields.Nested(ShipmentLineSchema))
    order = fields.Method("get_order")

    def get_order(self, shipment):
        order = g.env.session.get(g.env["sale.order"], shipment.order_id)
        return {"state": order.state, "shipping_status": order.shipping_status,
                "invoice_status": order.invoice_status, "version": order.version}


class RevisionSchema(Schema):
    id = fields.Integer()
    revision = fields.Integer()
    reason = fields.String(allow_none=True)
    user_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    diff = fields.Raw()
    snapshot = fields.Raw()


class LogSchema(Schema):
    id = fields.Integer()
    trigger = fields.String()
    source = fields.String()
    dest = fields.String()
    user_id = fields.Integer(allow_none=True)
    at = fields.DateTime()
    comment = fields.String(allow_none=True)


class OrderBatchInSchema(Schema):
    orders = fields.List(fields.Nested(OrderInSchema), required=True,
                         validate=validate.Length(min=1, max=BATCH_MAX))


class OrderBatchSchema(Schema):
    orders = fields.List(fields.Nested(OrderSchema))


class BatchIdsSchema(Schema):
    ids = fields.List(fields.Integer(), required=True, validate=validate.Length(min=1, max=BATCH_MAX),
                      metadata={"description": "order ids, acted on in this order"})
    comment = fields.String(allow_none=True)


class OutcomeSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    state = fields.String()
    version = fields.Integer()
    trigger = fields.String()
    source = fields.String()
    dest = fields.String(allow_none=True)
    done = fields.Boolean()
    approvals_given = fields.List(fields.String())
    approvals_pending = fields.List(fields.String())


class OutcomeBatchSchema(Schema):
    outcomes = fields.List(fields.Nested(OutcomeSchema))


class ShipmentBatchInSchema(Schema):
    ids = fields.List(fields.Integer(), required=True, validate=validate.Length(min=1, max=BATCH_MAX),
                      metadata={"description": "approved orders to ship in full"})
    date = fields.Date(allow_none=True)
    reference = fields.String(allow_none=True, validate=validate.Length(max=64))


class ShipmentBriefSchema(Schema):
    id = fields.Integer()
    order_id = fields.Integer()
    kind = fields.String()
    date = fields.Date()
    reference = fields.String(allow_none=True)
    order_state = fields.String()


class ShipmentBatchSchema(Schema):
    shipments = fields.List(fields.Nested(ShipmentBriefSchema))


# -- helpers ---------------------------------------------------------------------------------


def _detail(env, order_id: int, *, lock: bool = False):
    return orders.get_order(env, order_id, lock=lock)


# -- orders ----------------------------------------------------------------------------------


@bp.endpoint("/orders", summary="List sale orders", tag=TAG, response=OrderSchema,
             query={"state": "draft, approved, shipped, invoiced, paid, cancelled",
                    "customer_id": "a customer id", "salesperson_id": "a salesperson id",
                    "date_from": "first order date (YYYY-MM-DD)",
                    "date_to": "last order date (YYYY-MM-DD), included",
                    "sort": "number, date_order, amount_total, state (prefix - for descending)",
                    "page": "1..", "per_page": "1..200"})
def list_orders(env):
    Order = env["sale.order"]
    return paginate(
        env, "sale.order",
        sortable={"number": Order.number, "date_order": Order.date_order,
                  "amount_total": Order.amount_total, "state": Order.state},
        filterable={
            "state": lambda v: Order.state == v,
            "customer_id": lambda v: Order.customer_id == whole_number(v),
            "salesperson_id": lambda v: Order.salesperson_id == whole_number(v),
            "date_from": lambda v: Order.date_order >= iso_date(v),
            "date_to": lambda v: Order.date_order <= iso_date(v),
        },
        default_sort="-date_order",
    )


@bp.endpoint("/orders", methods=["POST"], body=OrderInSchema, response=OrderDetailSchema,
             status=201, idempotent=True, summary="Create a draft order (quotation)", tag=TAG)
def create_order(env, data):
    return orders.create_order(env, **data)


@bp.endpoint("/orders/batch", methods=["POST"], body=OrderBatchInSchema, response=OrderBatchSchema,
             status=201, idempotent=True, tag=TAG,
             summary="Create many draft orders at once, all or none (422 keys start with "
                     "orders.<position>)")
def create_orders(env, data):
    try:
        return {"orders": orders.create_orders(env, [dict(o) for o in data["orders"]])}
    except ValidationError as exc:
        raise ValidationError({f"orders.{key}": messages for key, messages in exc.errors.items()}) \
            from None


@bp.endpoint("/orders/batch/triggers/<trigger>", methods=["POST"], body=BatchIdsSchema,
             response=OutcomeBatchSchema, tag=TAG,
             summary="Fire a workflow trigger on many orders, all or none: 409 lists every order "
                     "refused (refused: {id: reasons}); cancel and amend are per order")
def fire_trigger_many(env, data, trigger):
    if trigger in ("cancel", "amend"):
        raise ValidationError({"trigger": [f"{trigger} takes a reason per order: use "
                                           f"/orders/<id>/triggers/{trigger}"]})
    found = records_of(env, "sale.order", data["ids"])
    outcomes = env.fire_many(found, trigger, comment=data.get("comment"))
    return {"outcomes": [{"id": o.id, "number": o.number, "state": o.state, "version": o.version,
                          **outcome.as_dict()} for o, outcome in zip(found, outcomes, strict=True)]}


@bp.endpoint("/orders/batch/shipments", methods=["POST"], body=ShipmentBatchInSchema,
             response=ShipmentBatchSchema, status=201, idempotent=True, tag=TAG,
             summary="Ship what is left of many approved orders, all or none (warehouse)")
def create_shipments(env, data):
    found = records_of(env, "sale.order", data["ids"])
    done = shipments.record_shipments(env, found, date=data.get("date"),
                                      reference=data.get("reference"))
    Order = env["sale.order"]  # the orders' states after it, in one SELECT
    states = dict(env.session.execute(select(Order.id, Order.state).where(
        Order.id.in_([s.order_id for s in done]))).all())
    return {"shipments": [{"id": s.id, "order_id": s.order_id, "kind": s.kind, "date": s.date,
                           "reference": s.reference, "order_state": states[s.order_id]}
                          for s in done]}


@bp.endpoint("/orders/<int:order_id>", summary="Get an order with its lines and triggers",
             tag=TAG, response=OrderDetailSchema)
def get_order(env, order_id):
    return _detail(env, order_id)


@bp.endpoint("/orders/<int:order_id>", methods=["PATCH"], body=OrderChangesSchema,
             response=OrderDetailSchema, summary="Change a draft order (If-Match honoured)",
             tag=TAG)
def patch_order(env, data, order_id):
    order = _detail(env, order_id)
    check_if_match(order)
    return orders.update_order(env, order, **data)


@bp.endpoint("/orders/<int:order_id>/lines", summary="The order's lines with their ledger",
             tag=TAG, response=LineSchema, many=True)
def order_lines(env, order_id):
    return _detail(env, order_id).lines


@bp.endpoint("/orders/<int:order_id>/triggers/<trigger>", methods=["POST"], body=TriggerSchema,
             summary="Fire a workflow trigger (approve, cancel, amend...): 200 done, 202 when an "
                     "approval level was recorded and more are needed, 409 refused", tag=TAG)
def fire_trigger(env, data, order_id, trigger):
    order = _detail(env, order_id)
    check_if_match(order)
    outcome = orders.fire_order_trigger(env, order, trigger, data.get("comment"))
    body = outcome.as_dict()
    body["order"] = _ORDER_DETAIL.dump(order)
    resp = jsonify(body)
    resp.status_code = 200 if outcome.done else 202
    return resp


@bp.endpoint("/orders/<int:order_id>/copy", methods=["POST"], response=OrderDetailSchema,
             status=201, idempotent=True, summary="Copy an order into a new draft", tag=TAG)
def copy_order(env, order_id):
    return orders.copy_order(env, _detail(env, order_id))


@bp.endpoint("/orders/<int:order_id>/amend", methods=["POST"], body=AmendSchema,
             response=OrderDetailSchema, idempotent=True,
             summary="Amend an approved order (new revision, back to draft)", tag=TAG)
def amend_order(env, data, order_id):
    order = _detail(env, order_id)
    check_if_match(order)
    return orders.amend_order(env, order, reason=data["reason"], changes=data.get("changes") or {})


@bp.endpoint("/orders/<int:order_id>/revisions", summary="Previous revisions with their diffs",
             tag=TAG, response=RevisionSchema, many=True)
def order_revisions(env, order_id):
    order = env.get("sale.order", order_id)
    Revision = env["sale.order.revision"]
    return env.search("sale.order.revision", Revision.order_id == order.id,
                      order_by=Revision.revision)


@bp.endpoint("/orders/<int:order_id>/log", summary="The order's workflow transitions", tag=TAG,
             response=LogSchema, many=True)
def order_log(env, order_id):
    order = env.get("sale.order", order_id)
    Log = env["workflow.log"]
    return list(env.session.scalars(
        select(Log).where(Log.record == "sale.order", Log.record_id == order.id).order_by(Log.id)))


# -- shipments -------------------------------------------------------------------------------


@bp.endpoint("/orders/<int:order_id>/shipments", summary="The order's shipments", tag=TAG,
             response=ShipmentSchema, many=True)
def order_shipments(env, order_id):
    order = env.get("sale.order", order_id)
    Shipment = env["sale.shipment"]
    return env.search("sale.shipment", Shipment.order_id == order.id)


@bp.endpoint("/orders/<int:order_id>/shipments", methods=["POST"], body=ShipmentInSchema,
             response=ShipmentSchema, status=201, idempotent=True,
             summary="Record a shipment (warehouse; partial allowed; If-Match honoured)", tag=TAG)
def create_shipment(env, data, order_id):
    order = orders.get_order(env, order_id)  # with its lines; record_shipment locks it
    check_if_match(order)
    quantities = data.get("quantities")
    if quantities is not None and not quantities:
        raise ValidationError({"quantities": ["give at least one line, or leave it out to ship "
                                              "everything left"]})
    return shipments.record_shipment(env, order, quantities, date=data.get("date"),
                                     reference=data.get("reference"), note=data.get("note"))


@bp.endpoint("/orders/<int:order_id>/returns", methods=["POST"], body=ReturnInSchema,
             response=ShipmentSchema, status=201, idempotent=True,
             summary="Record goods that came back (warehouse; If-Match honoured)", tag=TAG)
def create_return(env, data, order_id):
    order = env.get("sale.order", order_id)
    check_if_match(order)
    return shipments.record_return(env, order, data["quantities"], date=data.get("date"),
                                   reference=data.get("reference"), note=data.get("note"))
