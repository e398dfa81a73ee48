"""``[addon.kt_ext]`` settings."""

from decimal import Decimal

from marshmallow import Schema, fields, validate

from core.config import DecimalString


class KtExtConfig(Schema):
    #: documents above this amount cannot be confirmed (a blocker, not an approval)
    max_amount = DecimalString(load_default=Decimal("1000000"), validate=validate.Range(min=0))
    #: write a kt.stamp row on every transition
    stamp = fields.Boolean(load_default=True)
