"""Per-client configuration: one TOML file per client (``config/<client>.toml``).

The kernel validates ``[client]`` and ``[[approvals]]``; each addon validates its own
``[addon.<name>]`` table with the marshmallow schema it names in its manifest. Unknown keys and
wrong types are errors naming the file, the key and what was expected. ``SALESFLOW_DATABASE_URL``
overrides the database URL. See docs/configuration.md.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from core.errors import ConfigError

DATABASE_URL_ENV = "SALESFLOW_DATABASE_URL"
CONFIG_ENV = "SALESFLOW_CONFIG"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "default.toml"
DEFAULT_TIMEZONE = "Asia/Shanghai"


def _known_zone(name: str) -> None:
    """The client's time zone must be an IANA name the machine knows ("Asia/Shanghai")."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"unknown time zone {name!r} (an IANA name, e.g. Asia/Shanghai)") from exc


class DecimalString(fields.Decimal):
    """A decimal given as a TOML string ("100000.00") or integer; floats are refused."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, float):
            raise ValidationError("expected a decimal as a string (e.g. \"100000.00\"), not a float")
        return super()._deserialize(str(value) if isinstance(value, int) else value, attr, data, **kwargs)


class ClientSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True)
    addons = fields.List(fields.String(), required=True)
    addons_path = fields.List(fields.String(), load_default=list)
    database_url = fields.String(load_default="sqlite:///../instance/default.db")
    locale = fields.String(load_default="en", validate=validate.OneOf(["en", "zh_CN"]))
    currency = fields.String(load_default="CNY", validate=validate.Regexp(r"^[A-Z]{3}$"))
    timezone = fields.String(load_default=DEFAULT_TIMEZONE, validate=_known_zone)
    secret_key = fields.String(load_default=None, allow_none=True)
    https = fields.Boolean(load_default=False)


class ApprovalLevelSchema(Schema):
    class Meta:
        unknown = RAISE

    over = DecimalString(required=True, validate=validate.Range(min=0))
    role = fields.String(required=True, validate=validate.Length(min=1))


class ApprovalRuleSchema(Schema):
    """``[[approvals]]``: levels of approval a trigger needs, by amount."""

    class Meta:
        unknown = RAISE

    record = fields.String(required=True)
    trigger = fields.String(required=True)
    amount_field = fields.String(load_default="amount_total")
    levels = fields.List(fields.Nested(ApprovalLevelSchema), required=True,
                         validate=validate.Length(min=1))

    @validates_schema
    def _ascending(self, data, **kwargs):
        amounts = [lvl["over"] for lvl in data.get("levels", [])]
        if amounts != sorted(amounts) or len(set(amounts)) != len(amounts):
            raise ValidationError("levels must have strictly ascending 'over' amounts", "levels")
        roles = [lvl["role"] for lvl in data.get("levels", [])]
        if len(set(roles)) != len(roles):
            raise ValidationError("each level needs a different role", "levels")


@dataclass(frozen=True)
class ApprovalLevel:
    over: Decimal
    role: str


@dataclass(frozen=True)
class ApprovalRule:
    record: str
    trigger: str
    amount_field: str
    levels: tuple[ApprovalLevel, ...]


@dataclass
class ClientConfig:
    name: str
    addons: list[str]
    database_url: str
    path: Path | None = None
    addons_path: list[Path] = field(default_factory=list)
    locale: str = "en"
    currency: str = "CNY"
    timezone: str = DEFAULT_TIMEZONE
    secret_key: str | None = None
    #: served over HTTPS only: session cookies are marked Secure, HSTS is sent
    https: bool = False
    approvals: list[ApprovalRule] = field(default_factory=list)
    addon_settings: dict[str, dict[str, Any]] = field(default_factory=dict)  # raw, per addon

    @property
    def label(self) -> str:
        return str(self.path) if self.path else f"<config {self.name}>"

    @classmethod
    def load(cls, path: str | Path | None = None) -> ClientConfig:
        """Read a client's TOML file (default: ``$SALESFLOW_CONFIG`` or config/default.toml)."""
        path = Path(path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        return cls.from_dict(data, path=path.resolve())

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: Path | None = None) -> ClientConfig:
        label = str(path) if path else "<config>"
        known = {"client", "approvals", "addon"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{label}: unknown table(s) {unknown}; expected {sorted(known)}")
        client = _load(ClientSchema(), data.get("client"), label, "[client]")
        rules = []
        for i, raw in enumerate(data.get("approvals", [])):
            rule = _load(ApprovalRuleSchema(), raw, label, f"[[approvals]] #{i + 1}")
            rules.append(
                ApprovalRule(
                    record=rule["record"],
                    trigger=rule["trigger"],
                    amount_field=rule["amount_field"],
                    levels=tuple(ApprovalLevel(lv["over"], lv["role"]) for lv in rule["levels"]),
                )
            )
        keys = [(r.record, r.trigger) for r in rules]
        if len(set(keys)) != len(keys):
            raise ConfigError(f"{label}: [[approvals]]: one rule per record and trigger")
        addon_settings = data.get("addon", {})
        if not isinstance(addon_settings, dict):
            raise ConfigError(f"{label}: [addon] must be a table of tables")
        base = path.parent if path else Path.cwd()
        database_url = os.environ.get(DATABASE_URL_ENV) or client["database_url"]
        check_database_url(database_url, f"${DATABASE_URL_ENV}" if os.environ.get(DATABASE_URL_ENV)
                           else f"{label}: [client]: database_url")
        return cls(
            name=client["name"],
            addons=client["addons"],
            database_url=resolve_sqlite_path(database_url, base),
            path=path,
            addons_path=[(base / p).resolve() for p in client["addons_path"]],
            locale=client["locale"],
            currency=client["currency"],
            timezone=client["timezone"],
            secret_key=client["secret_key"],
            https=client["https"],
            approvals=rules,
            addon_settings=addon_settings,
        )


def check_database_url(url: str, where: str) -> None:
    """A URL salesflow can open: SQLite, or PostgreSQL through psycopg (the driver it installs).
    ``postgres://`` (as hosting services print it) and a driver that is not installed are named
    here, not as a traceback at the first connection."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    expected = "sqlite:///path/to/file.db or postgresql+psycopg://user:password@host/database"
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"{where}: {url!r} is not a database URL; expected {expected}") from None
    shown = parsed.render_as_string(hide_password=True)
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgres", "postgresql") and driver != "psycopg":
        raise ConfigError(f"{where}: {shown}: write postgresql+psycopg://... (the PostgreSQL "
                          f"driver salesflow installs is psycopg)")
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(f"{where}: {shown}: salesflow runs on SQLite and PostgreSQL; expected {expected}")


def resolve_sqlite_path(url: str, base: Path) -> str:
    """Relative SQLite paths in a config are relative to the config file's folder."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        rest = url[len(prefix):]
        path, sep, query = rest.partition("?")
        return prefix + str((base / path).resolve()) + sep + query
    return url


def _load(schema: Schema, raw: Any, label: str, section: str) -> dict[str, Any]:
    if raw is None:
        raw = {}
        if section == "[client]":
            raise ConfigError(f"{label}: the [client] table is required")
    if not isinstance(raw, dict):
        raise ConfigError(f"{label}: {section} must be a table")
    try:
        return schema.load(raw)
    except ValidationError as exc:
        raise ConfigError(f"{label}: {section}: " + "; ".join(flatten_errors(exc.messages))) from exc


def flatten_errors(messages: Any, prefix: str = "") -> list[str]:
    """marshmallow's nested messages as ``key.sub: message`` lines."""
    if isinstance(messages, dict):
        out: list[str] = []
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.extend(flatten_errors(value, name))
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [f"{prefix}: {m}" if prefix else m for m in messages]
    if isinstance(messages, list):
        return [line for m in messages for line in flatten_errors(m, prefix)]
    return [f"{prefix}: {messages}"]


def load_addon_settings(schema: Schema, raw: dict[str, Any] | None, config: ClientConfig,
                        addon: str) -> dict[str, Any]:
    """Validate ``[addon.<addon>]`` with the addon's schema (unknown keys are errors)."""
    schema.unknown = RAISE
    return _load(schema, raw or {}, config.label, f"[addon.{addon}]")
