"""Customers, salespersons and sales teams: validation, duplicate detection, merge, history.

Every function takes the caller's ``env`` first and runs inside its transaction (nothing here
commits). Access rights and record rules are the caller's: a salesperson reads and writes only
the customers assigned to them, and may assign a customer to themselves only.

Duplicates. A new (or imported, or renamed) customer is refused with 409 (``DuplicateCustomer``)
when an existing customer that was not merged away has

* the same tax id (spaces removed, capitals), or
* the same ``name_key`` (see ``models.partner.name_key``: full-width folded, lower-cased,
  punctuation, spaces and company suffixes removed) and a contact with the same ``phone_key``
  (digits only, without a leading 86 country code),

unless the caller forces it. The search looks at every customer (``env.sudo()``) so a
salesperson learns that the customer exists even when it belongs to a colleague; such a match
is named by code and name only.

Merge. ``merge_customers`` re-points every foreign key to ``sale_customer.id`` found in the
app's metadata (so tables of addons added later are covered, and customers merged into the
source before) from the source customer to the target, archives the source with
``merged_into_id`` and writes the audit trail.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from core.errors import AccessDenied, ConflictError, ValidationError
from core.money import round_money

from ..hooks import SEES_ALL
from ..models.partner import name_key, normalize_tax_id, phone_key
from .masterdata import (
    DuplicateRecord,
    clean,
    company_currency,
    create_checked,
    ensure_unique,
    write_checked,
)

CUSTOMER_FIELDS = frozenset({
    "code", "name", "tax_id", "category", "industry", "region", "tier", "salesperson_id",
    "payment_term_id", "currency", "lang", "notes", "active", "contacts", "addresses",
})
CONTACT_FIELDS = frozenset({"id", "name", "phone", "email"})
ADDRESS_FIELDS = frozenset({"id", "kind", "street", "city", "region", "postcode", "country"})
#: non-null columns with a default: None means "the default" on create
_DEFAULTED = ("tier", "currency", "lang", "active")
#: who may merge customers (besides the system itself)
MERGE_ROLES = ("sales_manager", "director", "admin")
HISTORY_LIMIT = 20
MAX_HISTORY_LIMIT = 100
#: invoice states whose residual is owed (or, for a credit note, owed back)
POSTED_INVOICE_STATES = ("posted", "paid")
_TAX_ID = re.compile(r"^[0-9A-Z-]+$")


class DuplicateCustomer(DuplicateRecord):
    """The customer looks like existing one(s): ``existing`` = [{code, name, reason}]."""


# -- helpers ---------------------------------------------------------------------------------


def _restricted(env) -> bool:
    """A plain salesperson: sees (and may assign) only their own customers."""
    return not env.unrestricted and env.has_role("salesperson") and not env.has_role(*SEES_ALL)


def own_salesperson_id(env) -> int | None:
    if env.user_id is None:
        return None
    Salesperson = env["sale.salesperson"]
    with env.sudo():
        return env.session.scalar(select(Salesperson.id).where(Salesperson.user_id == env.user_id))


def _get_sudo(env, record: str, ident: Any):
    if ident is None:
        return None
    with env.sudo():
        return env.session.get(env[record], ident)


def _add(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _merge_errors(errors: dict[str, list[str]], found: dict[str, list[str]] | None,
                  prefix: str = "") -> None:
    for field, messages in (found or {}).items():
        errors.setdefault(prefix + field, []).extend(messages)


def _columns(cls) -> set[str]:
    return {c.key for c in cls.__mapper__.column_attrs}


# -- customers: create, update, delete -------------------------------------------------------


def _prepare(env, values: dict[str, Any], errors: dict[str, list[str]], customer=None) -> None:
    """Normalise ``values`` in place and check what needs other rows."""
    creating = customer is None
    for key in _DEFAULTED:
        if key in values and values[key] is None:
            if creating:
                values.pop(key)
            else:
                _add(errors, key, "must not be empty")
    for key in ("tax_id", "category", "industry", "region", "notes"):
        if key in values and values[key] == "":
            values[key] = None
    if "tax_id" in values:
        values["tax_id"] = normalize_tax_id(values["tax_id"])
        if values["tax_id"] and not _TAX_ID.match(values["tax_id"]):
            _add(errors, "tax_id", "may contain only letters, digits and '-'")
    if "code" in values and values["code"] is not None:
        values["code"] = values["code"].upper()
    if isinstance(values.get("currency"), str):
        values["currency"] = values["currency"].upper()
        code = values["currency"]
        Currency = env["sale.currency"]
        with env.sudo():
            known = env.session.scalar(select(Currency.id).where(Currency.code == code))
        if known is None and code != company_currency(env):
            _add(errors, "currency", f"unknown currency {code!r} (create it first)")

    if _restricted(env):
        own = own_salesperson_id(env)
        if own is None:
            _add(errors, "salesperson_id", "you are not registered as a salesperson; ask a sales "
                 "manager to assign the customer")
        elif creating and values.get("salesperson_id") is None:
            values["salesperson_id"] = own
        elif "salesperson_id" in values and values["salesperson_id"] != own:
            _add(errors, "salesperson_id", "a salesperson may assign customers to themselves only")
    if values.get("salesperson_id") is not None:
        salesperson = _get_sudo(env, "sale.salesperson", values["salesperson_id"])
        if salesperson is None or not salesperson.active:
            _add(errors, "salesperson_id", f"no active salesperson {values['salesperson_id']}")
    if values.get("payment_term_id") is not None:
        term = _get_sudo(env, "sale.payment_term", values["payment_term_id"])
        if term is None or not term.active:
            _add(errors, "payment_term_id", f"no active payment term {values['payment_term_id']}")


def _children(env, customer, record: str, rows: list[dict] | None, allowed: frozenset[str],
              prefix: str, errors: dict[str, list[str]]) -> tuple[list, list]:
    """``(objects in order, objects to update with their new values)`` for a contacts or
    addresses list; rows with an ``id`` update that child of ``customer``, others are new."""
    cls = env[record]
    existing = {c.id: c for c in getattr(customer, prefix)} if customer is not None else {}
    columns = _columns(cls) - {"id", "customer_id", "version", "created_at", "updated_at"}
    result, updates = [], []
    for i, raw in enumerate(rows or []):
        where = f"{prefix}.{i}."
        if not isinstance(raw, dict):
            _add(errors, f"{prefix}.{i}", "must be an object")
            continue
        row = clean(raw, allowed, where=where)
        ident = row.pop("id", None)
        for key in ("phone", "email", "city", "region", "postcode"):
            if row.get(key) == "":
                row[key] = None
        if ident is not None:
            current = existing.get(ident)
            if current is None:
                _add(errors, f"{where}id", f"no {record} {ident} on this customer")
                continue
            merged = {c: getattr(current, c) for c in columns}
            merged.update(row)
            probe = cls(**merged)
            _merge_errors(errors, probe.validate(), where)
            result.append(current)
            updates.append((current, row))
        else:
            obj = cls(**row)
            _merge_errors(errors, obj.validate(), where)
            result.append(obj)
    return result, updates


def _next_code(env) -> str:
    Customer = env["sale.customer"]
    for _ in range(1000):
        code = f"C{env.next_number('sale.customer'):05d}"
        with env.sudo():
            if env.session.scalar(select(Customer.id).where(Customer.code == code)) is None:
                return code
    raise ConflictError("could not find a free customer code; give one explicitly")


def create_customer(env, values: dict[str, Any], *, force: bool = False):
    """A new customer with its contacts and addresses (lists of dicts).

    Without ``code`` the next free ``Cnnnnn`` is used. 422 naming each field at fault
    (``contacts.0.email`` for a child), 409 ``DuplicateCustomer`` unless ``force``.
    """
    env.check_access("sale.customer", "create")
    values = clean(dict(values), CUSTOMER_FIELDS)
    contacts = values.pop("contacts", None) or []
    addresses = values.pop("addresses", None) or []
    if contacts:
        env.check_access("sale.customer.contact", "create")
    if addresses:
        env.check_access("sale.customer.address", "create")
    errors: dict[str, list[str]] = {}
    _prepare(env, values, errors)
    contact_objs, _ = _children(env, None, "sale.customer.contact", contacts, CONTACT_FIELDS,
                                "contacts", errors)
    address_objs, _ = _children(env, None, "sale.customer.address", addresses, ADDRESS_FIELDS,
                                "addresses", errors)
    probe = env["sale.customer"](**{**values, "code": values.get("code") or "-"})
    _merge_errors(errors, probe.validate())
    if errors:
        raise ValidationError(errors)
    if not values.get("code"):
        values["code"] = _next_code(env)
    ensure_unique(env, "sale.customer", "code", values["code"], show_id=False)
    if not force:
        check_duplicates(env, tax_id=values.get("tax_id"), name=values.get("name"),
                         phones=[c.phone for c in contact_objs])
    customer = env["sale.customer"](**values)
    customer.contacts = contact_objs
    customer.addresses = address_objs
    env.session.add(customer)
    env.session.flush()
    return customer


def update_customer(env, customer, values: dict[str, Any], *, force: bool = False):
    """Change fields of ``customer``. ``contacts`` / ``addresses``, when given, are the complete
    new lists: rows with an ``id`` update that child, rows without are added, children not
    listed are removed. A new tax id, name or contact phone is checked for duplicates (other
    customers only) unless ``force``."""
    env.check_access("sale.customer", "write")
    values = clean(dict(values), CUSTOMER_FIELDS)
    contacts = values.pop("contacts", None)
    addresses = values.pop("addresses", None)
    errors: dict[str, list[str]] = {}
    _prepare(env, values, errors, customer=customer)
    if "code" in values and not values["code"]:
        _add(errors, "code", "is required")
    contact_objs = address_objs = None
    contact_updates: list = []
    address_updates: list = []
    if contacts is not None:
        contact_objs, contact_updates = _children(env, customer, "sale.customer.contact", contacts,
                                                  CONTACT_FIELDS, "contacts", errors)
    if addresses is not None:
        address_objs, address_updates = _children(env, customer, "sale.customer.address",
                                                  addresses, ADDRESS_FIELDS, "addresses", errors)
    columns = _columns(type(customer)) - {"id", "version", "created_at", "updated_at",
                                          "merged_into_id", "name_key"}
    probe = type(customer)(**{**{c: getattr(customer, c) for c in columns}, **values})
    _merge_errors(errors, probe.validate())
    if errors:
        raise ValidationError(errors)
    if "code" in values and values["code"] != customer.code:
        ensure_unique(env, "sale.customer", "code", values["code"], exclude_id=customer.id,
                      show_id=False)
    if not force:
        tax_changed = "tax_id" in values and values["tax_id"] != customer.tax_id
        name_changed = "name" in values and name_key(values["name"]) != customer.name_key
        if tax_changed or name_changed or contacts is not None:
            if contact_objs is not None:
                changed = {id(obj): row for obj, row in contact_updates}
                phones = [changed.get(id(c), {}).get("phone", c.phone) for c in contact_objs]
            else:
                phones = [c.phone for c in customer.contacts]
            check_duplicates(env, tax_id=values.get("tax_id", customer.tax_id) if tax_changed else None,
                             name=values.get("name", customer.name), phones=phones,
                             exclude_ids=(customer.id,))
    moved = "salesperson_id" in values and values["salesperson_id"] != customer.salesperson_id
    if values:
        env.write(customer, **values)
    if moved:
        _hand_over_open_orders(env, customer, customer.salesperson_id)
    children_changed = False
    for relation, objs, updates, record in (
        ("contacts", contact_objs, contact_updates, "sale.customer.contact"),
        ("addresses", address_objs, address_updates, "sale.customer.address"),
    ):
        if objs is None:
            continue
        current = getattr(customer, relation)
        kept = {id(o) for o in objs}
        if any(id(o) not in kept for o in current):
            env.check_access(record, "delete")
        if any(o.id is None for o in objs):
            env.check_access(record, "create")
        for obj, row in updates:
            for key, value in row.items():
                setattr(obj, key, value)
        if [id(o) for o in current] != [id(o) for o in objs] or updates:
            children_changed = True
        setattr(customer, relation, objs)
    if children_changed:
        customer.updated_at = env.now  # the customer's version (ETag) follows its children
    env.session.flush()
    return customer


def customer_references(env, *, include_merged: bool = False) -> list[tuple[Any, Any]]:
    """Every ``(table, column)`` of the app whose foreign key points at ``sale_customer.id``;
    ``sale_customer.merged_into_id`` only when ``include_merged``."""
    customers = env["sale.customer"].__table__
    refs = []
    for table in env.sf.registry.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column is not customers.c.id:
                continue
            if table is customers and fk.parent.name == "merged_into_id" and not include_merged:
                continue
            refs.append((table, fk.parent))
    return refs


def document_counts(env, customer_id: int) -> dict[str, int]:
    """``{"table.column": rows}`` referencing the customer, apart from its own contacts and
    addresses (rows deleted with it); counts every row whoever may see it."""
    conn = env.session.connection()
    counts = {}
    for table, column in customer_references(env, include_merged=True):
        if any(fk.ondelete and fk.ondelete.upper() == "CASCADE" for fk in column.foreign_keys):
            continue
        n = conn.execute(select(func.count()).select_from(table).where(column == customer_id)).scalar()
        if n:
            counts[f"{table.name}.{column.name}"] = n
    return counts


def delete_customer(env, customer) -> None:
    """Delete a customer that no document refers to (409 otherwise: archive it instead)."""
    env.check_access("sale.customer", "delete")
    env.session.flush()
    counts = document_counts(env, customer.id)
    if counts:
        listed = ", ".join(f"{n} in {ref}" for ref, n in counts.items())
        raise ConflictError(f"customer {customer.code} is referenced by documents ({listed}); "
                            "archive it (active=false) or merge it instead")
    env.delete(customer)


def _hand_over_open_orders(env, customer, salesperson_id) -> None:
    """The customer's open orders follow it to its new salesperson (a salesperson sees an
    order only when it is both for their customer and theirs): each order is written, so it is
    audited. Paid and cancelled orders keep their salesperson (reports credit the sale)."""
    if salesperson_id is None:
        return
    Order = env["sale.order"]
    # open: not in a final state of the workflow as the enabled addons merged it
    finished = list(env.sf.workflows.get("sale.order").merged.final)
    with env.sudo():
        orders = env.session.scalars(select(Order).where(
            Order.customer_id == customer.id, Order.state.not_in(finished),
            Order.salesperson_id.is_distinct_from(salesperson_id))).all()
    for order in orders:
        order.salesperson_id = salesperson_id


# -- duplicates ------------------------------------------------------------------------------


def find_duplicates(env, *, tax_id: str | None = None, name: str | None = None,
                    phones: list[str | None] | tuple = (), exclude_ids: tuple = ()) -> list[dict]:
    """Existing customers (not merged away) this one would duplicate, as
    ``[{"code", "name", "reason"}]``, looking at every customer whoever owns it; one the user
    may not see is reported without its code and name."""
    Customer, Contact = env["sale.customer"], env["sale.customer.contact"]
    base = [Customer.merged_into_id.is_(None)]
    if exclude_ids:
        base.append(Customer.id.not_in(list(exclude_ids)))
    found: dict[int, dict[str, Any]] = {}
    columns = (Customer.id, Customer.code, Customer.name)
    with env.sudo():
        tid = normalize_tax_id(tax_id)
        if tid:
            rows = env.session.execute(
                select(*columns).where(Customer.tax_id == tid, *base).order_by(Customer.id).limit(10)
            )
            for ident, code, cname in rows:
                found[ident] = {"code": code, "name": cname, "reason": f"same tax id {tid}"}
        key = name_key(name)
        keys = sorted({k for k in (phone_key(p) for p in phones) if k})
        if key and keys:
            with_phone = select(Contact.customer_id).where(Contact.phone_key.in_(keys))
            rows = env.session.execute(
                select(*columns).where(Customer.name_key == key, Customer.id.in_(with_phone), *base)
                .order_by(Customer.id).limit(10)
            )
            for ident, code, cname in rows:
                found.setdefault(ident, {"code": code, "name": cname,
                                         "reason": "same name and phone"})
    if found and not env.unrestricted:
        # named only to who may see it: another salesperson's customer is said to exist, no
        # more (its code and name would tell a salesperson whose it is and who buys)
        visible = set(env.session.scalars(select(Customer.id).where(Customer.id.in_(list(found)))))
        for ident in set(found) - visible:
            found[ident].update(code=None, name="a customer you cannot see (ask a sales manager)")
    return list(found.values())


def _describe(matches: list[dict]) -> str:
    parts = []
    for match in matches:
        where = f"row {match['row']}: " if match.get("row") is not None else ""
        named = f"{match['code']} {match['name']}" if match.get("code") else match["name"]
        parts.append(f"{where}{named} ({match['reason']})")
    return "; ".join(parts)


def check_duplicates(env, **criteria) -> None:
    """409 ``DuplicateCustomer`` naming the existing customer(s) when ``find_duplicates``
    finds any."""
    matches = find_duplicates(env, **criteria)
    if matches:
        field = "tax_id" if matches[0]["reason"].startswith("same tax id") else "name"
        raise DuplicateCustomer(
            "sale.customer", field, matches,
            f"possible duplicate of existing customer {_describe(matches)}; "
            "send force=true to create it anyway",
        )


def import_customers(env, rows: list[dict[str, Any]], *, force: bool = False) -> list:
    """Create customers from ``rows`` (dicts as for ``create_customer``), all or nothing.

    Unless ``force``, every row is first checked against the existing customers and against
    the rows before it; one 409 lists every duplicate (``row`` = index). Errors of a row are
    named ``rows.N.field``."""
    env.check_access("sale.customer", "create")
    if not rows:
        raise ValidationError({"rows": ["nothing to import"]})
    if not force:
        problems: list[dict] = []
        seen_tax: dict[str, int] = {}
        seen_name_phone: dict[tuple[str, str], int] = {}
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                raise ValidationError({f"rows.{i}": ["must be an object"]})
            phones = [c.get("phone") for c in row.get("contacts") or [] if isinstance(c, dict)]
            for match in find_duplicates(env, tax_id=row.get("tax_id"), name=row.get("name"),
                                         phones=phones):
                problems.append({"row": i, **match})
            tid = normalize_tax_id(row.get("tax_id"))
            if tid:
                if tid in seen_tax:
                    problems.append({"row": i, **{"code": rows[seen_tax[tid]].get("code") or
                                                  f"row {seen_tax[tid]}",
                                                  "name": rows[seen_tax[tid]].get("name")},
                                     "reason": f"same tax id as row {seen_tax[tid]}"})
                seen_tax.setdefault(tid, i)
            key = name_key(row.get("name"))
            for phone in {k for k in (phone_key(p) for p in phones) if k}:
                if key and (key, phone) in seen_name_phone:
                    j = seen_name_phone[(key, phone)]
                    problems.append({"row": i, "code": rows[j].get("code") or f"row {j}",
                                     "name": rows[j].get("name"),
                                     "reason": f"same name and phone as row {j}"})
                    break
                if key:
                    seen_name_phone.setdefault((key, phone), i)
        if problems:
            raise DuplicateCustomer("sale.customer", "rows", problems,
                                    f"{len(problems)} possible duplicate(s): {_describe(problems)}; "
                                    "send force=true to import anyway")
    created = []
    for i, row in enumerate(rows):
        try:
            created.append(create_customer(env, row, force=True))
        except ValidationError as exc:
            raise ValidationError({f"rows.{i}.{k}": v for k, v in exc.errors.items()}) from exc
        except DuplicateRecord as exc:
            raise DuplicateRecord(exc.record, f"rows.{i}.{exc.field}",
                                  [{"row": i, **e} for e in exc.existing],
                                  f"row {i}: {exc}") from exc
    return created


# -- merge -----------------------------------------------------------------------------------


def check_merge_allowed(env) -> None:
    """``AccessDenied`` unless the user may merge customers (roles ``MERGE_ROLES``)."""
    if env.user_id is not None and not env.has_role(*MERGE_ROLES):
        raise AccessDenied("merging customers needs the role sales_manager or director")
    env.check_access("sale.customer", "write")


def merge_customers(env, source, target):
    """Move everything of ``source`` to ``target`` and archive ``source``.

    Every foreign key to ``sale_customer.id`` in the app's metadata (orders, invoices, payments,
    journal lines, contacts, addresses, and the tables of any addon enabled later) is re-pointed
    with one Core ``UPDATE`` per column, bumping each row's ``version`` (its ETag changes).
    Core statements are deliberate: the kernel refuses ORM bulk updates on append-only and
    posted records, and rightly so for their content; here nothing of a document changes but
    which customer record it belongs to, the amounts, dates, numbers and states stay as
    posted, and each moved document gets an audit row ``customer_id: [source, target]``, so
    its history stays complete. ``source`` keeps its own audit history, becomes inactive with
    ``merged_into_id``; both customers get a ``merge`` audit row and a dated note.

    Roles: sales_manager, director (or admin, or the system). 409 when a table allows one row
    per customer and both customers have one.
    """
    check_merge_allowed(env)
    if source.id == target.id:
        raise ValidationError({"into": ["a customer cannot be merged into itself"]})
    source, target = env.lock(source), env.lock(target)
    if source.merged_into_id is not None:
        raise ConflictError(f"customer {source.code} was already merged (into customer id "
                            f"{source.merged_into_id})")
    if target.merged_into_id is not None:
        raise ValidationError({"into": [f"customer {target.code} was itself merged into another "
                                        "customer; merge into that one"]})
    if not target.active:
        raise ValidationError({"into": [f"customer {target.code} is archived"]})

    session = env.session
    session.flush()
    conn = session.connection()
    now = env.now
    moved: dict[str, int] = {}
    audit_rows: list[dict[str, Any]] = []
    touched: dict[str, list[str]] = {}
    # include_merged: customers merged into the source before now point at the target, not
    # at a merged (archived) customer
    for table, column in customer_references(env, include_merged=True):
        ids = []
        if "id" in table.c:
            ids = list(conn.execute(select(table.c.id).where(column == source.id)).scalars())
            if not ids:
                continue
        values: dict[str, Any] = {column.name: target.id}
        if "version" in table.c:
            values["version"] = table.c.version + 1
        try:
            result = conn.execute(table.update().where(column == source.id).values(values))
        except IntegrityError as exc:
            raise ConflictError(
                f"cannot merge customer {source.code} into {target.code}: {table.name} allows one "
                f"row per customer ({column.name}) and both have one; resolve it first"
            ) from exc
        if not result.rowcount:
            continue
        moved[f"{table.name}.{column.name}"] = result.rowcount
        touched.setdefault(table.name, []).append(column.name)
        info = env.sf.registry.by_table(table.name)
        if info is not None and info.cls.__audit__:
            audit_rows += [_audit_row(info.name, ident, "write", env, now,
                                      {column.name: [source.id, target.id]}) for ident in ids]
    audit_rows.append(_audit_row("sale.customer", source.id, "merge", env, now,
                                 {"merged_into": [None, target.id], "moved": moved}))
    audit_rows.append(_audit_row("sale.customer", target.id, "merge", env, now,
                                 {"merged_from": [None, source.id], "moved": moved}))
    conn.execute(insert(env["audit.log"].__table__), audit_rows)

    # what the session holds of the moved rows is stale now: expire just the re-pointed
    # column, the version and the relationships (ids and the rest stay loaded)
    for obj in list(session.identity_map.values()):
        columns = touched.get(getattr(type(obj), "__tablename__", None))
        if columns:
            _expire(session, obj, columns)
    _expire(session, source, ())
    _expire(session, target, ())

    today = now.date().isoformat()
    summary = ", ".join(f"{n} {ref.split('.')[0]}" for ref, n in moved.items()) or "no documents"
    source.active = False
    source.merged_into_id = target.id
    source.notes = _append(source.notes, f"[{today}] merged into customer {target.code} "
                                         f"({target.name}); documents moved: {summary}")
    target.notes = _append(target.notes, f"[{today}] customer {source.code} ({source.name}) "
                                         f"merged into this one; documents moved: {summary}")
    session.flush()
    return target


def _expire(session, obj, columns) -> None:
    mapper = type(obj).__mapper__
    keys = [mapper.get_property_by_column(mapper.local_table.c[name]).key for name in columns]
    keys += [rel.key for rel in mapper.relationships]
    if "version" in mapper.column_attrs:
        keys.append("version")
    session.expire(obj, keys)


def _append(notes: str | None, line: str) -> str:
    return f"{notes}\n{line}" if notes else line


def _audit_row(record: str, ident: int, action: str, env, now, changes: dict) -> dict[str, Any]:
    return {"record": record, "record_id": ident, "action": action, "user_id": env.user_id,
            "at": now, "changes": changes, "created_at": now, "updated_at": now, "version": 1}


# -- history ---------------------------------------------------------------------------------


def open_balance(env, customer_id: int) -> dict[str, Any]:
    """What the customer owes, in the company currency (``balance_currency``), each document
    at the rate it was booked at, as the aging counts it:

    ``receivable`` = residual of posted invoices - residual (unused credit) of posted credit
    notes; ``unallocated`` = payments received but not allocated yet;
    ``open_balance`` = receivable - unallocated."""
    Invoice, Payment = env["sale.invoice"], env["sale.payment"]
    with env.sudo():
        invoices = env.session.execute(
            select(Invoice.kind, Invoice.amount_residual, Invoice.currency_rate)
            .where(Invoice.customer_id == customer_id, Invoice.state.in_(POSTED_INVOICE_STATES),
                   Invoice.amount_residual != 0)).all()
        payments = env.session.execute(
            select(Payment.amount_unallocated, Payment.currency_rate)
            .where(Payment.customer_id == customer_id, Payment.state == "posted",
                   Payment.amount_unallocated != 0)).all()

    def company(amount, rate) -> Decimal:  # one document's open amount, rounded on its own
        return round_money(Decimal(str(amount)) * Decimal(str(rate or 1)))

    receivable = sum((company(left, rate) * (-1 if kind == "credit_note" else 1)
                      for kind, left, rate in invoices), Decimal("0.00"))
    unallocated = sum((company(left, rate) for left, rate in payments), Decimal("0.00"))
    return {"receivable": receivable, "unallocated": unallocated,
            "open_balance": receivable - unallocated, "balance_currency": company_currency(env)}


def customer_history(env, customer, limit: int = HISTORY_LIMIT) -> dict[str, Any]:
    """The customer's orders, invoices and payments (newest first, at most ``limit`` of each,
    with their total counts) and open balance. Documents the user may not read are left out
    (``None``)."""
    limit = max(1, min(int(limit), MAX_HISTORY_LIMIT))
    out: dict[str, Any] = {"customer": customer, "currency": customer.currency}
    specs = (
        ("orders", "sale.order", lambda c: [c.date_order.desc(), c.id.desc()]),
        ("invoices", "sale.invoice", lambda c: [c.date.desc().nulls_first(), c.id.desc()]),
        ("payments", "sale.payment", lambda c: [c.date.desc(), c.id.desc()]),
    )
    for key, record, order in specs:
        if not env.can(record, "read"):
            out[key] = out[f"{key}_count"] = None
            continue
        cls = env[record]
        where = cls.customer_id == customer.id
        out[key] = env.search(record, where, order_by=order(cls), limit=limit)
        out[f"{key}_count"] = env.session.scalar(select(func.count()).select_from(cls).where(where))
    if env.can("sale.invoice", "read"):
        out.update(open_balance(env, customer.id))
    else:
        out.update({"receivable": None, "unallocated": None, "open_balance": None,
                    "balance_currency": None})
    return out


# -- sales teams and salespersons ------------------------------------------------------------

TEAM_FIELDS = frozenset({"code", "name", "manager_user_id", "active"})
SALESPERSON_FIELDS = frozenset({"user_id", "name", "team_id", "active"})


def _check_user(env, errors, field: str, user_id: Any) -> Any:
    if user_id is None:
        return None
    user = _get_sudo(env, "res.user", user_id)
    if user is None or not user.active:
        _add(errors, field, f"no active user {user_id}")
    return user


def create_team(env, **values):
    env.check_access("sale.team", "create")
    values = clean(values, TEAM_FIELDS)
    errors: dict[str, list[str]] = {}
    _check_user(env, errors, "manager_user_id", values.get("manager_user_id"))
    if errors:
        raise ValidationError(errors)
    ensure_unique(env, "sale.team", "code", values.get("code"))
    return create_checked(env, "sale.team", **values)


def update_team(env, team, **values):
    env.check_access("sale.team", "write")
    values = clean(values, TEAM_FIELDS)
    errors: dict[str, list[str]] = {}
    _check_user(env, errors, "manager_user_id", values.get("manager_user_id"))
    if errors:
        raise ValidationError(errors)
    if "code" in values:
        ensure_unique(env, "sale.team", "code", values["code"], exclude_id=team.id)
    return write_checked(env, team, **values)


def _salesperson_values(env, values: dict[str, Any], errors) -> None:
    if "user_id" in values:
        if values["user_id"] is None:
            _add(errors, "user_id", "is required")
        user = _check_user(env, errors, "user_id", values["user_id"])
        if user is not None and not values.get("name"):
            values["name"] = user.name
    if values.get("team_id") is not None:
        team = _get_sudo(env, "sale.team", values["team_id"])
        if team is None or not team.active:
            _add(errors, "team_id", f"no active sales team {values['team_id']}")


def create_salesperson(env, **values):
    """A salesperson linked to a user (one per user); ``name`` defaults to the user's."""
    env.check_access("sale.salesperson", "create")
    values = clean(values, SALESPERSON_FIELDS)
    errors: dict[str, list[str]] = {}
    if values.get("user_id") is None:
        _add(errors, "user_id", "is required")
    _salesperson_values(env, values, errors)
    if errors:
        raise ValidationError(errors)
    ensure_unique(env, "sale.salesperson", "user_id", values["user_id"])
    return create_checked(env, "sale.salesperson", **values)


def update_salesperson(env, salesperson, **values):
    env.check_access("sale.salesperson", "write")
    values = clean(values, SALESPERSON_FIELDS)
    errors: dict[str, list[str]] = {}
    _salesperson_values(env, values, errors)
    if errors:
        raise ValidationError(errors)
    if "user_id" in values:
        ensure_unique(env, "sale.salesperson", "user_id", values["user_id"],
                      exclude_id=salesperson.id)
    return write_checked(env, salesperson, **values)
