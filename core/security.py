"""Roles, model access and passwords.

Each addon may ship a security file (``[provides].security``, TOML):

    [roles.salesperson]
    label = "Salesperson"
    label_zh = "销售员"

    [access."sale.order"]
    salesperson = "rcw"        # r read, c create, w write, d delete
    sales_manager = "rcwd"

Grants from all enabled addons are unioned. ``authenticated`` is a role every logged-in user
has; ``admin`` passes every model access check and record rule (not workflow roles or approval
levels: those name real responsibilities). Record rules (which rows) are code, through the
``record_rule_filters`` hook.
"""

from __future__ import annotations

import hashlib
import secrets
import tomllib
from dataclasses import dataclass, field

from werkzeug.security import check_password_hash, generate_password_hash

from core.errors import AddonError

AUTHENTICATED = "authenticated"
OPERATIONS = {"r": "read", "c": "create", "w": "write", "d": "delete"}


@dataclass
class Security:
    roles: dict[str, dict[str, str]] = field(default_factory=dict)  # code -> labels
    grants: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (record, op) -> roles

    def load(self, addon: str, text: str, known_records: set[str]) -> None:
        where = f"addon {addon!r} security file"
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise AddonError(f"{where}: not valid TOML: {exc}") from exc
        for code, info in data.get("roles", {}).items():
            self.roles.setdefault(code, {}).update(info)
        for record, by_role in data.get("access", {}).items():
            if record not in known_records:
                raise AddonError(f"{where}: access for unknown record {record!r}")
            for role, letters in by_role.items():
                bad = set(letters) - set(OPERATIONS)
                if bad:
                    raise AddonError(f"{where}: [access.{record!r}].{role}: unknown letters {sorted(bad)}")
                for letter in letters:
                    self.grants.setdefault((record, OPERATIONS[letter]), set()).add(role)

    def check_roles_declared(self) -> None:
        declared = set(self.roles) | {AUTHENTICATED, "admin"}
        for (record, op), roles in self.grants.items():
            unknown = roles - declared
            if unknown:
                raise AddonError(f"access on {record} ({op}) names undeclared roles {sorted(unknown)}")

    def allows(self, roles: frozenset[str], record: str, operation: str) -> bool:
        granted = self.grants.get((record, operation))
        if not granted:
            return False
        return AUTHENTICATED in granted or not granted.isdisjoint(roles)


def hash_password(password: str) -> str:
    # werkzeug's scrypt hashing: salted, slow by design, maintained with Flask.
    return generate_password_hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    return bool(password_hash) and check_password_hash(password_hash, password)


def new_token() -> tuple[str, str]:
    """A fresh API token and the hash we store (only the hash is kept)."""
    token = "sf_" + secrets.token_urlsafe(32)
    return token, token_digest(token)


@dataclass(frozen=True)
class ApiToken:
    """A credential to open a transaction with: the SHA-256 digest of a bearer token."""

    digest: str


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
