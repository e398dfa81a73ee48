"""Master data services: defaults, taxes, products, currencies and rates, payment terms."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from types import SimpleNamespace

import pytest

from core.errors import AccessDenied, ValidationError

pytestmark = pytest.mark.usefixtures("fast_passwords")


def test_ensure_defaults_is_idempotent(sf, mdsvc):
    md = mdsvc.masterdata
    with sf.transaction() as env:
        first = md.ensure_defaults(env)
        vat = first["taxes"]["VAT13"]
        assert (vat.rate, vat.price_include) == (D("0.13"), False)
        assert first["taxes"]["VAT0"].rate == D("0")
        assert first["currencies"]["CNY"].digits == 2
        assert [(ln.percent, ln.days) for ln in first["terms"]["NET30"].lines] == [(D("100"), 30)]
        assert [ln.days for ln in first["terms"]["NET60"].lines] == [60]
        assert [(ln.percent, ln.days) for ln in first["terms"]["INST2"].lines] == [
            (D("50"), 30), (D("50"), 60)]
    with sf.transaction() as env:
        again = md.ensure_defaults(env)
        assert again["taxes"]["VAT13"].id == vat.id
        assert len(env.search("sale.tax")) == 2 and len(env.search("sale.payment_term")) == 3


def test_rate_at_uses_the_latest_rate_on_or_before_the_date(sf, users, mdsvc):
    md = mdsvc.masterdata
    with sf.transaction("finance") as env:
        md.ensure_defaults(env)
        md.create_currency(env, code="usd", name="US Dollar")
        md.add_rate(env, "USD", dt.date(2026, 1, 1), "7.10")
        md.add_rate(env, "USD", dt.date(2026, 2, 1), D("7.25"))
        with pytest.raises(md.DuplicateRecord) as err:
            md.add_rate(env, "USD", dt.date(2026, 2, 1), "7.30")
        assert err.value.field == "date" and "7.25" in str(err.value)
        with pytest.raises(ValidationError) as err:
            md.add_rate(env, "USD", dt.date(2026, 3, 1), "-1")
        assert "rate" in err.value.errors
    with sf.transaction("sp1") as env:
        assert md.rate_at(env, "USD", dt.date(2026, 1, 31)) == D("7.10")
        assert md.rate_at(env, "usd", dt.date(2026, 2, 1)) == D("7.25")
        assert md.rate_at(env, "USD", dt.date(2030, 1, 1)) == D("7.25")
        assert md.rate_at(env, "CNY", dt.date(1990, 1, 1)) == D("1")  # company currency
        with pytest.raises(ValidationError) as err:
            md.rate_at(env, "USD", dt.date(2025, 12, 31))
        assert err.value.errors == {"currency": ["no exchange rate for USD on or before 2025-12-31"]}
        with pytest.raises(ValidationError):
            md.rate_at(env, "EUR", dt.date(2026, 1, 1))
        assert md.convert(env, D("100.00"), "USD", dt.date(2026, 2, 2)) == D("725.00")
        assert md.convert(env, D("725.00"), "CNY", dt.date(2026, 2, 2), to="USD") == D("100.00")
        with pytest.raises(AccessDenied):
            md.add_rate(env, "USD", dt.date(2026, 4, 1), "7")


def _term(*lines):
    return SimpleNamespace(lines=[SimpleNamespace(sequence=i, percent=D(p), days=d, id=i)
                                  for i, (p, d) in enumerate(lines)])


def test_due_dates_sum_exactly_to_the_total():
    import importlib

    from core.plugins.addons import AddonCatalog

    AddonCatalog.discover()  # puts the addons folder on sys.path: no app, no database needed
    due_dates = importlib.import_module("sale.services.masterdata").due_dates
    day = dt.date(2026, 1, 31)
    thirds = _term(("33.33", 0), ("33.33", 30), ("33.34", 60))
    parts = due_dates(thirds, day, D("100.00"))
    assert parts == [(day, D("33.33")), (dt.date(2026, 3, 2), D("33.33")),
                     (dt.date(2026, 4, 1), D("33.34"))]
    for total in ("0.01", "0.05", "99.99", "1000000.01", "-10.01"):
        parts = due_dates(_term(("50", 30), ("50", 60)), day, D(total))
        assert sum(a for _, a in parts) == D(total)
        assert all(a == a.quantize(D("0.01")) for _, a in parts)
    parts = due_dates(_term(("30", 10), ("30", 20), ("40", 30)), day, D("10.01"))
    # rounded cumulative shares: 3.003 -> 3.00, 6.006 -> 6.01, 10.01
    assert [a for _, a in parts] == [D("3.00"), D("3.01"), D("4.00")]
    assert due_dates(None, day, D("5")) == [(day, D("5"))]
    assert due_dates(_term(("50", 0), ("50", 1)), day, D("101"), currency="JPY") == [
        (day, D("51")), (dt.date(2026, 2, 1), D("50"))]


def test_instalments_are_never_negative():
    import importlib

    from core.plugins.addons import AddonCatalog

    AddonCatalog.discover()
    due_dates = importlib.import_module("sale.services.masterdata").due_dates
    day = dt.date(2026, 1, 5)
    quarters = SimpleNamespace(lines=[SimpleNamespace(sequence=i, days=30 * i, percent=D("25"), id=i)
                                      for i in range(1, 5)])
    # rounded cumulative shares 0.005 -> 0.01, 0.01, 0.015 -> 0.02, 0.02: never 0.01 x 3 - 0.01
    assert [a for _d, a in due_dates(quarters, day, D("0.02"))] == [
        D("0.01"), D("0.00"), D("0.01"), D("0.00")]


def test_tax_split_follows_the_order_lines_formula():
    import importlib

    from core.plugins.addons import AddonCatalog

    AddonCatalog.discover()
    tax_split = importlib.import_module("sale.services.masterdata").tax_split
    vat20 = SimpleNamespace(rate=D("0.20"), price_include=True)
    # tax = round(74.07 x 0.2 / 1.2 = 12.345) = 12.35, untaxed = total - tax (not round(61.725))
    assert tax_split(vat20, D("74.07"), "CNY") == (D("61.72"), D("12.35"), D("74.07"))
    vat13 = SimpleNamespace(rate=D("0.13"), price_include=False)
    assert tax_split(vat13, D("10.5"), "IDR", 0) == (D("11"), D("1"), D("12"))  # declared digits


def test_payment_term_lines_must_sum_to_100(sf, users, mdsvc):
    md = mdsvc.masterdata
    with sf.transaction("finance") as env:
        with pytest.raises(ValidationError) as err:
            md.create_payment_term(env, code="BAD", name="Bad",
                                   lines=[{"percent": "50", "days": 30}, {"percent": "40", "days": 60}])
        assert err.value.errors == {"lines": ["instalment percentages sum to 90, they must sum to 100"]}
        with pytest.raises(ValidationError) as err:
            md.create_payment_term(env, code="BAD", name="Bad", lines=[{"percent": "0", "days": -1}])
        assert set(err.value.errors) == {"lines.0.percent", "lines.0.days"}
        with pytest.raises(ValidationError):
            md.create_payment_term(env, code="BAD", name="Bad", lines=[])
        term = md.create_payment_term(env, code="3X", name="Thirds", lines=[
            {"percent": "33.33", "days": 0}, {"percent": "33.33", "days": 30},
            {"percent": "33.34", "days": 60}])
        assert [ln.sequence for ln in term.lines] == [10, 20, 30]
        parts = md.due_dates(term, dt.date(2026, 1, 1), D("1000.00"))
        assert sum(a for _, a in parts) == D("1000.00")
        md.update_payment_term(env, term, lines=[{"percent": "100", "days": 45}])
        assert [(ln.percent, ln.days) for ln in term.lines] == [(D("100"), 45)]
    with sf.transaction("finance") as env:
        assert len(env.search("sale.payment_term.line")) == 1


def test_products_taxes_and_unique_codes(sf, users, master, mdsvc):
    md = mdsvc.masterdata
    with sf.transaction("manager") as env:
        p = md.create_product(env, sku="NEW-1", name="New", list_price="12.50")
        assert p.tax_id == master.tax_id  # the default tax (VAT13)
        assert p.cost == D("0") and p.unit == "pcs" and p.active
        with pytest.raises(md.DuplicateRecord) as err:
            md.create_product(env, sku="P1", name="Clash", list_price="1")
        assert err.value.field == "sku" and "'P1' is already used by sale.product" in str(err.value)
        with pytest.raises(md.DuplicateRecord):
            md.update_product(env, p, sku="P2")
        with pytest.raises(ValidationError) as err:
            md.create_product(env, sku="", name="x", list_price="-1", cost=1.5, tax_id=999)
        errors = err.value.errors
        assert "floats are not accepted" in errors["cost"][0]
        assert errors["tax_id"] == ["no active tax 999"]
        md.update_product(env, p, active=False, list_price="13")
        assert p.list_price == D("13") and not p.active
    with pytest.raises(ValidationError) as err, sf.transaction("manager") as env:
        md.create_product(env, sku=" ", name="x", list_price="-1")
    assert "sku" in err.value.errors and "must not be negative" in err.value.errors["list_price"][0]
    with sf.transaction("sp1") as env, pytest.raises(AccessDenied):
        md.create_product(env, sku="X", name="x", list_price="1")
    with sf.transaction("finance") as env:
        with pytest.raises(md.DuplicateRecord):
            md.create_tax(env, code="VAT13", name="again", rate="0.13")
        with pytest.raises(ValidationError) as err:
            md.create_tax(env, code="VAT130", name="typo", rate="13")
        assert "0.13 for 13 %" in err.value.errors["rate"][0]
        inc = md.create_tax(env, code="VAT13I", name="VAT 13% included", rate="0.13",
                            price_include=True)
        assert md.tax_split(inc, D("113.00")) == (D("100.00"), D("13.00"), D("113.00"))
        assert md.tax_split(env.get("sale.tax", master.tax_id), D("99.99")) == (
            D("99.99"), D("13.00"), D("112.99"))


def test_a_currency_with_more_decimals_than_amounts_keep_is_refused(sf, users):
    """Amounts are stored with 2 decimals: KWD's 3 would be rounded to 2 behind the user's back
    (1 x 10.125 stored as 10.12), so such a currency is refused when it is declared."""
    from sale.services import masterdata as md

    with sf.transaction("finance") as env, pytest.raises(ValidationError) as refused:
        md.create_currency(env, code="KWD", name="Kuwaiti Dinar", digits=3)
    assert refused.value.errors == {"digits": ["must be from 0 to 2 (amounts are stored with 2 decimals)"]}
    with sf.transaction("finance") as env:
        assert md.create_currency(env, code="JPY", name="Yen", digits=0).digits == 0
        assert env.search("sale.currency", env["sale.currency"].code == "KWD") == []
