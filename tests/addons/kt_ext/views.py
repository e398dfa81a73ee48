"""kt_ext's REST endpoints (an ``ApiBlueprint``)."""

from __future__ import annotations

from marshmallow import Schema, fields

from core.api import ApiBlueprint

bp = ApiBlueprint("kt_ext", __name__, url_prefix="/api/v1/kt")


class DocSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True)
    amount = fields.Decimal(as_string=True, required=True)
    discount = fields.Decimal(as_string=True, load_default=None)
    reference = fields.String(load_default=None)
    state = fields.String(dump_only=True)
    total = fields.Method("_total", dump_only=True)

    def _total(self, doc) -> str:
        return str(doc.total())


class FireSchema(Schema):
    comment = fields.String(load_default=None)


@bp.endpoint("/docs", methods=["POST"], body=DocSchema, response=DocSchema, status=201,
             summary="Create a kt.doc", tag="kt")
def create_doc(env, data):
    values = {k: v for k, v in data.items() if v is not None}
    return env.create("kt.doc", owner_id=env.user_id, **values)


@bp.endpoint("/docs/<int:doc_id>", response=DocSchema, summary="Read a kt.doc", tag="kt")
def get_doc(env, doc_id):
    return env.get("kt.doc", doc_id)


@bp.endpoint("/docs/<int:doc_id>/<trigger>", methods=["POST"], body=FireSchema,
             summary="Fire a workflow trigger", tag="kt")
def fire(env, data, doc_id, trigger):
    doc = env.get("kt.doc", doc_id)
    return doc.fire(trigger, comment=data["comment"]).as_dict()
