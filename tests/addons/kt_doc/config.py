"""``[addon.kt_doc]`` settings."""

from marshmallow import Schema, fields, validate


class KtDocConfig(Schema):
    #: prefix of the names demo documents get
    prefix = fields.String(load_default="KT-", validate=validate.Length(min=1, max=8))
    #: how many documents ``salesflow demo`` creates
    demo_count = fields.Integer(load_default=3, validate=validate.Range(min=0, max=100))
