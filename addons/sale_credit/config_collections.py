"""Settings of the collections part of sale_credit, nested in ``[addon.sale_credit]``:

```toml
[addon.sale_credit.dunning]
min_amount = "0.01"            # less open than this (company currency) gets no letter
[[addon.sale_credit.dunning.levels]]
code = "friendly"              # stored on the dunning row; unique
days = -3                      # relative to the due date (negative: before it)
template = "friendly"          # a key of services.letters.TEMPLATES
auto_hold = false              # a letter of this level puts the customer on credit hold
# ... levels in ascending days (defaults: friendly -3, reminder 1, warning 15, final 30 + hold)

[addon.sale_credit.smtp]
host = "smtp.example.com"
port = 587
username = "dunning@example.com"
password_env = "SALESFLOW_SMTP_PASSWORD"   # or password = "..." (prefer the variable)
sender = "Accounts receivable <ar@example.com>"
starttls = true

[addon.sale_credit.outbox]
max_attempts = 8               # then "failed" (kept, requeued by hand)
backoff_seconds = 60           # 60 s, 120 s, 240 s ... after each failure
backoff_max_seconds = 21600    # at most 6 h between attempts
lease_seconds = 300            # a claimed row is free again after this (a crashed worker)
batch_size = 50
```
"""

from __future__ import annotations

from decimal import Decimal

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from core.config import DecimalString

DEFAULT_LEVELS = [
    {"code": "friendly", "days": -3, "template": "friendly", "auto_hold": False},
    {"code": "reminder", "days": 1, "template": "reminder", "auto_hold": False},
    {"code": "warning", "days": 15, "template": "warning", "auto_hold": False},
    {"code": "final", "days": 30, "template": "final", "auto_hold": True},
]


class DunningLevelConfig(Schema):
    class Meta:
        unknown = RAISE

    code = fields.String(required=True, validate=validate.Regexp(
        r"^[a-z][a-z0-9_]{0,31}$", error="lower-case letters, digits and _ (at most 32)"))
    days = fields.Integer(required=True, validate=validate.Range(min=-365, max=3650))
    template = fields.String(required=True)
    auto_hold = fields.Boolean(load_default=False)

    @validates_schema
    def _known_template(self, data, **kwargs):
        from .services.letters import TEMPLATES

        if data.get("template") not in TEMPLATES:
            raise ValidationError(f"unknown template; known: {sorted(TEMPLATES)}", "template")


class DunningConfig(Schema):
    class Meta:
        unknown = RAISE

    levels = fields.List(fields.Nested(DunningLevelConfig), load_default=lambda: [
        dict(level) for level in DEFAULT_LEVELS])
    #: an invoice with less than this open (in the company currency, at its booked rate) gets
    #: no letter
    min_amount = DecimalString(load_default=Decimal("0.01"), validate=validate.Range(min=0))

    @validates_schema
    def _levels(self, data, **kwargs):
        levels = data.get("levels") or []
        if not levels:
            raise ValidationError("at least one level", "levels")
        codes = [level["code"] for level in levels]
        if len(set(codes)) != len(codes):
            raise ValidationError("level codes must be unique", "levels")
        days = [level["days"] for level in levels]
        if any(b <= a for a, b in zip(days, days[1:], strict=False)):
            raise ValidationError("levels must be in strictly ascending days", "levels")


class SmtpConfig(Schema):
    class Meta:
        unknown = RAISE

    host = fields.String(load_default="localhost")
    port = fields.Integer(load_default=25, validate=validate.Range(min=1, max=65535))
    username = fields.String(load_default=None, allow_none=True)
    password = fields.String(load_default=None, allow_none=True)
    #: name of an environment variable holding the password (kept out of the config file)
    password_env = fields.String(load_default=None, allow_none=True)
    sender = fields.String(load_default="noreply@localhost")
    starttls = fields.Boolean(load_default=False)
    ssl = fields.Boolean(load_default=False)
    timeout = fields.Integer(load_default=30, validate=validate.Range(min=1, max=600))

    @validates_schema
    def _tls(self, data, **kwargs):
        if data.get("ssl") and data.get("starttls"):
            raise ValidationError("ssl and starttls exclude each other", "starttls")


class OutboxConfig(Schema):
    class Meta:
        unknown = RAISE

    max_attempts = fields.Integer(load_default=8, validate=validate.Range(min=1, max=100))
    backoff_seconds = fields.Integer(load_default=60, validate=validate.Range(min=1))
    backoff_max_seconds = fields.Integer(load_default=21600, validate=validate.Range(min=1))
    lease_seconds = fields.Integer(load_default=300, validate=validate.Range(min=10))
    batch_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=1000))


def default_dunning() -> dict:
    return DunningConfig().load({})


def default_smtp() -> dict:
    return SmtpConfig().load({})


def default_outbox() -> dict:
    return OutboxConfig().load({})
