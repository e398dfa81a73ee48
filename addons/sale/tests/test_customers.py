"""Customers as services: validation, duplicates, salesperson rules, merge, history, balance."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select, update

from core.errors import AccessDenied, ConflictError, ValidationError

pytestmark = pytest.mark.usefixtures("fast_passwords")

TODAY = dt.date(2026, 3, 1)


def _count(env, record: str, *criteria) -> int:
    cls = env[record]
    with env.sudo():
        return env.session.scalar(select(func.count()).select_from(cls).where(*criteria))


def _set_state(env, obj, state: str) -> None:
    """Test set-up only: put a document in ``state`` without running its workflow."""
    table = type(obj).__table__
    env.session.connection().execute(update(table).where(table.c.id == obj.id).values(state=state))
    env.session.refresh(obj)


def _module(name: str):
    """Import an addon module without building an app (pure functions need no database)."""
    import importlib

    from core.plugins.addons import AddonCatalog

    AddonCatalog.discover()  # puts the addons folder on sys.path
    return importlib.import_module(name)


def test_normalisation_keys():
    models = _module("sale.models.partner")
    name_key, phone_key = models.name_key, models.phone_key
    assert name_key("上海华东贸易有限公司") == name_key("上海 华东贸易 股份有限公司") == "上海华东贸易"
    assert name_key("ＡＣＭＥ Co., Ltd.") == name_key("acme inc") == name_key("A.C.M.E. Corp") == "acme"
    assert name_key("Northwind  Traders") == "northwindtraders"
    assert name_key("") == ""
    assert phone_key("+86 138-0013-8000") == phone_key("0086 13800138000") == "13800138000"
    assert phone_key("１３８００１３８０００") == "13800138000"  # full-width digits
    assert phone_key("86123456") == "86123456"  # a short local number keeps its 86
    # a landline written internationally and at home (was: "2155551234" vs "02155551234")
    assert phone_key("+86 21 5555 1234") == phone_key("021-5555 1234") == "02155551234"
    assert phone_key("+86 (0)21 5555 1234") == phone_key("(021) 55551234") == "02155551234"
    assert phone_key("+86 10 8888 6666") == "01088886666"  # Beijing's area code starts with 1
    assert phone_key("n/a") is None


def test_create_customer_with_contacts_and_validation(sf, users, master, mdsvc):
    svc = mdsvc.partner
    with sf.transaction("manager") as env:
        c = svc.create_customer(env, {
            "name": " 杭州新材料有限公司 ", "tax_id": "9133 0100 mA2B0003Z", "region": "East",
            "tier": "key", "salesperson_id": users.sp["sp2"], "payment_term_id": master.term_id,
            "contacts": [{"name": "王经理", "phone": "+86 139 0000 1111", "email": "wang@hz.cn"}],
            "addresses": [{"street": "文一路 1 号", "city": "杭州", "kind": "shipping"}],
        })
        assert c.code.startswith("C") and c.name == "杭州新材料有限公司"
        assert c.tax_id == "91330100MA2B0003Z" and c.name_key == "杭州新材料"
        assert c.contacts[0].phone_key == "13900001111" and c.addresses[0].kind == "shipping"
        assert c.currency == "CNY" and c.lang == "zh_CN" and c.active

    with pytest.raises(ValidationError) as err, sf.transaction("manager") as env:
        svc.create_customer(env, {
            "name": "", "tier": "vip", "currency": "XXX", "lang": "chinese",
            "salesperson_id": 9999, "payment_term_id": 9999, "tax_id": "91#1",
            "contacts": [{"name": "", "email": "not-an-email"}],
            "addresses": [{"street": "x", "country": "china"}],
        })
    errors = err.value.errors
    assert errors["name"] == ["is required"]
    assert "must be one of key, normal" in errors["tier"][0]
    assert "unknown currency 'XXX'" in errors["currency"][0]
    assert "language code" in errors["lang"][0]
    assert errors["salesperson_id"] == ["no active salesperson 9999"]
    assert errors["payment_term_id"] == ["no active payment term 9999"]
    assert "letters, digits" in errors["tax_id"][0]
    assert errors["contacts.0.name"] == ["is required"]
    assert "not an e-mail address" in errors["contacts.0.email"][0]
    assert "2-letter ISO code" in " ".join(errors["addresses.0.country"])

    with pytest.raises(ValidationError) as err, sf.transaction("manager") as env:
        svc.create_customer(env, {"name": "X", "colour": "red"})
    assert err.value.errors == {"colour": ["unknown field"]}
    with sf.transaction("manager") as env:
        assert _count(env, "sale.customer") == 3  # c1, c2 and the one above

    # a salesperson assigns customers to themselves only
    with sf.transaction("sp1") as env:
        mine = svc.create_customer(env, {"name": "Own Customer"})
        assert mine.salesperson_id == users.sp["sp1"]
        with pytest.raises(ValidationError) as err:
            svc.create_customer(env, {"name": "Other", "salesperson_id": users.sp["sp2"]})
        assert "to themselves only" in err.value.errors["salesperson_id"][0]
        with pytest.raises(ValidationError):
            svc.update_customer(env, mine, {"salesperson_id": users.sp["sp2"]})
    with pytest.raises(AccessDenied), sf.transaction("warehouse") as env:
        svc.create_customer(env, {"name": "Nope"})


def test_duplicate_by_tax_id_refused_unless_forced(sf, users, master, mdsvc):
    svc = mdsvc.partner
    # sp2 cannot see C001 (sp1's): told that a customer with that tax id exists, not which
    with pytest.raises(svc.DuplicateCustomer) as err, sf.transaction("sp2") as env:
        svc.create_customer(env, {"name": "Another name", "tax_id": " 91310000ma1fl0001x "})
    assert "C001" not in str(err.value) and "上海华东贸易有限公司" not in str(err.value)
    assert err.value.field == "tax_id"
    assert err.value.existing == [{"code": None, "name": "a customer you cannot see (ask a sales manager)",
                                   "reason": "same tax id 91310000MA1FL0001X"}]
    with pytest.raises(svc.DuplicateCustomer) as err, sf.transaction("manager") as env:
        svc.create_customer(env, {"name": "Another name", "tax_id": "91310000MA1FL0001X"})
    assert "C001 上海华东贸易有限公司" in str(err.value)  # who may see it is told which
    with sf.transaction("sp2") as env:
        assert _count(env, "sale.customer") == 2  # nothing written
        forced = svc.create_customer(env, {"name": "Another name", "tax_id": "91310000MA1FL0001X"},
                                     force=True)
        assert forced.tax_id == "91310000MA1FL0001X"
    with sf.transaction("sp2") as env:
        assert _count(env, "sale.customer") == 3


def test_a_tax_id_written_outside_the_service_is_normalised_and_found(sf, users, master, mdsvc):
    """The model keeps the tax id in the form duplicates are searched by, whoever writes it
    (demo data, another addon, ``salesflow shell``)."""
    svc = mdsvc.partner
    with sf.transaction() as env:
        outside = env.create("sale.customer", code="X1", name="Outside Co",
                             tax_id="9144 0000 ma1fl0009z").id
        env.create("sale.customer", code="X2", name="Blank Co", tax_id="  ")
    with sf.transaction() as env:
        assert env.get("sale.customer", outside).tax_id == "91440000MA1FL0009Z"
        blank = env.search("sale.customer", env["sale.customer"].code == "X2")[0]
        assert blank.tax_id is None
    with pytest.raises(svc.DuplicateCustomer) as err, sf.transaction("manager") as env:
        svc.create_customer(env, {"name": "Other name", "tax_id": "91440000MA1FL0009Z"})
    assert err.value.existing == [{"code": "X1", "name": "Outside Co",
                                   "reason": "same tax id 91440000MA1FL0009Z"}]
    with sf.transaction() as env:  # a change too
        env.write(env.get("sale.customer", outside), tax_id="９１４４００００ＭＡ１ＦＬ０００８Ｙ")
    with sf.transaction() as env:
        assert env.get("sale.customer", outside).tax_id == "91440000MA1FL0008Y"


def test_duplicate_by_normalised_name_and_phone(sf, users, master, mdsvc):
    svc = mdsvc.partner
    with sf.transaction("manager") as env:
        c1 = env.get("sale.customer", master.c1)
        svc.update_customer(env, c1, {"contacts": [{"name": "李", "phone": "+86 138-0013-8000"}]})
    new = {"name": "上海华东贸易 股份有限公司", "contacts": [{"name": "Li", "phone": "13800138000"}]}
    with pytest.raises(svc.DuplicateCustomer) as err, sf.transaction("sp2") as env:
        svc.create_customer(env, dict(new))
    assert err.value.existing == [{"code": None, "name": "a customer you cannot see (ask a sales manager)",
                                   "reason": "same name and phone"}]
    assert "force=true" in str(err.value)
    with sf.transaction("sp2") as env:
        # same name, other phone: not a duplicate; the check endpoint's service agrees
        assert svc.find_duplicates(env, name=new["name"], phones=["13900000000"]) == []
        assert svc.find_duplicates(env, name="上海华东贸易", phones=["8613800138000"])[0]["reason"] == (
            "same name and phone")
        assert svc.create_customer(env, dict(new), force=True).code
        # a rename onto an existing tax id is refused too (other customers only)
        other = svc.create_customer(env, {"name": "Zeta"})
        with pytest.raises(svc.DuplicateCustomer):
            svc.update_customer(env, other, {"tax_id": "91110000MA1FL0002Y"})
        same = env.get("sale.customer", master.c2)
        svc.update_customer(env, same, {"tax_id": "91110000MA1FL0002Y", "notes": "ok"})


def test_update_children_version_and_delete(sf, users, master, mdsvc):
    svc = mdsvc.partner
    with sf.transaction("sp1") as env:
        c = env.get("sale.customer", master.c1)
        svc.update_customer(env, c, {"contacts": [{"name": "A", "phone": "1"}, {"name": "B"}]})
        version = c.version
        a, b = c.contacts
        svc.update_customer(env, c, {"contacts": [{"id": a.id, "email": "a@x.cn"},
                                                  {"name": "C"}]})
        assert [x.name for x in c.contacts] == ["A", "C"] and c.contacts[0].email == "a@x.cn"
        assert c.version > version  # the ETag follows the children
        with pytest.raises(ValidationError) as err:
            svc.update_customer(env, c, {"contacts": [{"id": 99999, "name": "?"}]})
        assert "contacts.0.id" in err.value.errors
    with sf.transaction("sp1") as env:
        assert _count(env, "sale.customer.contact", env["sale.customer.contact"].name == "B") == 0

    # delete: only without documents
    with sf.transaction() as env:
        env.create("sale.order", customer_id=master.c1, date_order=TODAY, validity_date=TODAY)
    with sf.transaction("manager") as env:
        c1 = env.get("sale.customer", master.c1)
        with pytest.raises(ConflictError) as err:
            svc.delete_customer(env, c1)
        assert "sale_order.customer_id" in str(err.value) and "archive" in str(err.value)
        fresh = svc.create_customer(env, {"name": "Short-lived",
                                          "contacts": [{"name": "x", "phone": "123"}]})
        svc.delete_customer(env, fresh)
        assert _count(env, "sale.customer.contact") == 2  # C001's two


def _documents(env, customer_id: int, *, invoice_residual: str = "113.00",
               credit_residual: str | None = None, unallocated: str = "20.00"):
    """An order, a posted invoice, a payment and a journal line of ``customer_id``."""
    order = env.create("sale.order", customer_id=customer_id, date_order=TODAY,
                       validity_date=TODAY)
    inv = env.create("sale.invoice", customer_id=customer_id, order_id=order.id, date=TODAY,
                     kind="invoice",
                     amount_untaxed=D("100.00"), amount_tax=D("13.00"), amount_total=D("113.00"),
                     amount_residual=D(invoice_residual))
    _set_state(env, inv, "posted")
    if credit_residual is not None:
        cn = env.create("sale.invoice", customer_id=customer_id, kind="credit_note",
                        reversed_invoice_id=inv.id, date=TODAY, amount_total=D(credit_residual),
                        amount_residual=D(credit_residual))
        _set_state(env, cn, "posted")
    pay = env.create("sale.payment", customer_id=customer_id, method="bank_transfer", date=TODAY,
                     amount=D("50.00"), amount_unallocated=D(unallocated))
    account = env.create("sale.account", code=f"1122-{customer_id}", name="AR", kind="asset")
    # an entry goes in with its lines, balanced (the other side on no customer)
    Line = env["sale.journal.line"]
    line = Line(account_id=account.id, customer_id=customer_id, debit=D("113.00"))
    env.session.add(env["sale.journal.entry"](
        number=f"JE-{customer_id}-{order.id}", date=TODAY, source_record="sale.invoice",
        source_id=inv.id, label="test",
        lines=[line, Line(account_id=account.id, credit=D("113.00"))]))
    env.session.flush()
    return order, inv, pay, line


def test_merge_repoints_every_document_and_keeps_history(sf, users, master, mdsvc):
    svc = mdsvc.partner
    with sf.transaction() as env:
        order, inv, pay, line = _documents(env, master.c1)
        env.create("sale.customer.contact", customer_id=master.c1, name="Contact of C001")
        ids = order.id, inv.id, pay.id, line.id
    with pytest.raises(AccessDenied), sf.transaction("sp1") as env:
        svc.merge_customers(env, env.get("sale.customer", master.c1),
                            env.get("sale.customer", master.c1))
    with sf.transaction("manager") as env:
        source, target = env.get("sale.customer", master.c1), env.get("sale.customer", master.c2)
        svc.merge_customers(env, source, target)
    with sf.transaction("manager") as env:
        source, target = env.get("sale.customer", master.c1), env.get("sale.customer", master.c2)
        assert not source.active and source.merged_into_id == target.id
        records = ("sale.order", "sale.invoice", "sale.payment", "sale.journal.line")
        with env.sudo():  # a manager may not read journal lines
            for record, ident in zip(records, ids, strict=True):
                assert env.get(record, ident).customer_id == target.id, record
        assert env.get("sale.invoice", ids[1]).state == "posted"  # the document is as posted
        assert [c.name for c in target.contacts] == ["Contact of C001"]
        assert "merged into customer C002" in source.notes and "C001" in target.notes
        Log = env["audit.log"]
        source_log = env.session.scalars(select(Log).where(
            Log.record == "sale.customer", Log.record_id == source.id).order_by(Log.id)).all()
        assert source_log[0].action == "create"  # the source's own history is still there
        merge_row = next(r for r in source_log if r.action == "merge")
        assert merge_row.changes["moved"]["sale_order.customer_id"] == 1
        assert any(r.action == "merge" for r in env.session.scalars(select(Log).where(
            Log.record == "sale.customer", Log.record_id == target.id)))
        moved = env.session.scalars(select(Log).where(Log.record == "sale.invoice",
                                                      Log.record_id == ids[1])).all()
        assert moved[-1].changes == {"customer_id": [source.id, target.id]}
        # nothing refers to the source any more but its merge link
        assert svc.document_counts(env, source.id) == {}
        assert svc.document_counts(env, target.id)["sale_customer.merged_into_id"] == 1
        with pytest.raises(ConflictError):
            svc.merge_customers(env, source, target)
        with pytest.raises(ValidationError):
            svc.merge_customers(env, target, target)
    with sf.transaction() as env:  # a customer merged into the target earlier: into the new one
        earlier = env.create("sale.customer", code="C009", name="Earlier", name_key="earlier").id
    with sf.transaction("manager") as env:
        svc.merge_customers(env, env.get("sale.customer", earlier), env.get("sale.customer", master.c2))
    with sf.transaction() as env:
        c3 = env.create("sale.customer", code="C003", name="Third", name_key="third").id
    with sf.transaction("manager") as env:
        svc.merge_customers(env, env.get("sale.customer", master.c2), env.get("sale.customer", c3))
    with sf.transaction("manager") as env:
        # was: C001 and C009 still merged into C002, itself merged away
        assert [env.get("sale.customer", i).merged_into_id for i in (master.c1, earlier)] == [c3, c3]
        assert svc.document_counts(env, master.c2) == {}
    with sf.transaction("sp1") as env:  # sp1 keeps the archived source; its orders moved to sp2's
        assert [(c.code, c.active) for c in env.search("sale.customer")] == [("C001", False)]
        assert env.search("sale.order") == []


def test_history_and_open_balance(sf, users, master, mdsvc):
    svc = mdsvc.partner
    with sf.transaction() as env:
        _documents(env, master.c1, invoice_residual="113.00", credit_residual="10.00",
                   unallocated="20.00")
        # a draft invoice and another customer's documents do not count
        env.create("sale.invoice", customer_id=master.c1, kind="invoice", amount_total=D("999"),
                   amount_residual=D("999"))
        _documents(env, master.c2, invoice_residual="500.00", unallocated="0.00")
    with sf.transaction("sp1") as env:
        c1 = env.get("sale.customer", master.c1)
        h = svc.customer_history(env, c1, limit=1)
        assert h["orders_count"] == 1 and h["invoices_count"] == 3 and h["payments_count"] == 1
        assert len(h["invoices"]) == 1 and h["invoices"][0].state == "draft"  # newest first
        assert h["receivable"] == D("103.00") and h["unallocated"] == D("20.00")
        assert h["open_balance"] == D("83.00")
    with sf.transaction("warehouse") as env:  # may not read invoices or payments
        h = svc.customer_history(env, env.get("sale.customer", master.c1))
        assert h["orders_count"] == 1 and h["invoices"] is None and h["open_balance"] is None


def test_import_all_or_nothing(sf, users, master, mdsvc):
    svc = mdsvc.partner
    rows = [
        {"code": "N1", "name": "New One", "tax_id": "T-1"},
        {"code": "N2", "name": "New One Co., Ltd.", "contacts": [{"name": "a", "phone": "13800000001"}]},
        {"code": "N3", "name": "new one", "contacts": [{"name": "b", "phone": "+86 138 0000 0001"}],
         "tax_id": "t-1"},
        {"code": "N4", "name": "Dup of C002", "tax_id": "91110000MA1FL0002Y"},
    ]
    with pytest.raises(svc.DuplicateCustomer) as err, sf.transaction("manager") as env:
        svc.import_customers(env, rows)
    found = {(p["row"], p["code"]) for p in err.value.existing}
    assert found == {(2, "N1"), (2, "N2"), (3, "C002")}
    with pytest.raises(ValidationError) as err, sf.transaction("manager") as env:
        svc.import_customers(env, rows[:1] + [{"name": "Bad", "tier": "gold"}], force=True)
    assert list(err.value.errors) == ["rows.1.tier"]
    with sf.transaction("manager") as env:
        assert _count(env, "sale.customer") == 2  # all or nothing
        created = svc.import_customers(env, rows, force=True)
        assert [c.code for c in created] == ["N1", "N2", "N3", "N4"]
