"""Numbers a Numeric column can store: the kernel refuses, before any SQL, a value that does
not fit the column's precision and scale or has more than 15 digits (SQLite keeps NUMERIC
values with a fraction as 64-bit floats), naming the field and the limit; nothing is written
(each test on SQLite and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from sqlalchemy import Numeric

from core.db import numeric_limit
from core.errors import ValidationError
from core.testing import TEST_ADDONS

KT = ["kt_doc"]

PRICED = {"models.py": '''
    from decimal import Decimal

    from sqlalchemy import Numeric
    from sqlalchemy.orm import Mapped, mapped_column

    from core.registry import extends


    @extends("kt.doc")
    class PricedDoc:
        price: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
        total: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
        loose: Mapped[Decimal | None] = mapped_column(Numeric)
'''}


@pytest.fixture
def priced(make_sf, tmp_addons):
    root = tmp_addons("kt_tmp_priced", files=PRICED, provides='models = ["models"]',
                      depends=["kt_doc"])
    return make_sf(["kt_doc", "kt_tmp_priced"], addons_path=(TEST_ADDONS, root))


@pytest.mark.parametrize(("precision", "scale", "largest"), [
    (18, 2, "9999999999999.99"), (18, 6, "999999999.999999"), (16, 3, "999999999999.999"),
    (12, 6, "999999.999999"), (12, 2, "9999999999.99"), (5, 1, "9999.9"), (10, None, "9999999999"),
])
def test_the_limit_is_the_columns_and_at_most_15_digits(precision, scale, largest):
    limit = numeric_limit(Numeric(precision, scale))
    assert limit.largest == D(largest)
    assert limit.error(D(largest)) is None and limit.error(-D(largest)) is None
    step = D(1).scaleb(-(scale or 0))
    assert "too large" in limit.error(D(largest) + step)
    assert "too large" in limit.error(-D(largest) - step)


def test_values_that_fit_are_stored_exactly(priced):
    values = {"amount": D("9999999999.99"), "price": D("999999999.999999"),
              "total": D("9999999999999.99"), "loose": D("123456789012345")}
    negative = {**{k: -v for k, v in values.items()}, "amount": D("0.01")}  # (kt.doc: >= 0)
    with priced.transaction() as env:
        ident = env.create("kt.doc", name="max", **values).id
        low = env.create("kt.doc", name="min", **negative).id
        # trailing zeros beyond the scale are no decimals
        env.create("kt.doc", name="zeros", amount=D("1.5000000"), price=D("2.10000000"))
    with priced.transaction() as env:
        doc, neg = env.get("kt.doc", ident), env.get("kt.doc", low)
        assert {k: getattr(doc, k) for k in values} == values
        assert {k: getattr(neg, k) for k in values} == negative


@pytest.mark.parametrize(("field", "value", "message"), [
    ("amount", D("10000000000.00"), "too large: at most 9999999999.99"),
    ("price", D("9999999999.999999"), "too large: at most 999999999.999999"),  # 16 digits
    ("price", D("1000000000"), "too large: at most 999999999.999999"),
    ("total", D("11299999999999998858700000.00"), "too large: at most 9999999999999.99"),
    ("amount", D("1.005"), "more than 2 decimals"),
    ("price", D("0.0000001"), "more than 6 decimals"),
    ("loose", D("1234567890123456"), "more than 15 digits"),
    ("loose", D("0.1234567890123456"), "more than 15 digits"),
    ("amount", D("NaN"), "not a finite number"),
    ("amount", D("-Infinity"), "not a finite number"),
])
def test_a_value_that_does_not_fit_is_refused_naming_field_and_limit(priced, field, value,
                                                                      message):
    with priced.transaction() as env:
        ident = env.create("kt.doc", name="kept", amount=D("5.00")).id
    with pytest.raises(ValidationError) as refused, priced.transaction() as env:
        env.create("kt.doc", name="new", **{field: value})
    assert list(refused.value.errors) == [field]
    assert message in refused.value.errors[field][0], refused.value.errors
    with pytest.raises(ValidationError) as refused, priced.transaction() as env:
        env.write(env.get("kt.doc", ident), name="changed", **{field: value})
    assert message in refused.value.errors[field][0]
    with priced.transaction() as env:  # nothing written
        assert [(d.name, d.amount, d.price) for d in env.search("kt.doc")] == [
            ("kept", D("5.00"), None)]


def test_a_batch_with_one_value_too_large_writes_nothing(priced):
    """Many records in one flush (``core.flush`` inserts and updates them together) are checked
    one by one as well."""
    with priced.transaction() as env:
        ids = [env.create("kt.doc", name=f"d{i}", amount=D("1.00")).id for i in range(3)]
    with pytest.raises(ValidationError) as refused, priced.transaction() as env:
        docs = [env["kt.doc"](name=f"n{i}", amount=D(i)) for i in range(5)]
        docs[3].total = D("1E+20")
        env.session.add_all(docs)
        for doc in env.search("kt.doc"):
            doc.amount = D("2.00")
        env.session.flush()
    assert list(refused.value.errors) == ["total"]
    with priced.transaction() as env:
        assert [(d.id, d.amount) for d in env.search("kt.doc")] == [(i, D("1.00")) for i in ids]


def test_values_of_other_types_are_checked_as_numbers(priced):
    with priced.transaction() as env:
        ident = env.create("kt.doc", name="ints", amount=7, total=-10**12).id
    with priced.transaction() as env:
        doc = env.get("kt.doc", ident)
        assert (doc.amount, doc.total) == (D("7.00"), D("-1000000000000.00"))
    with pytest.raises(ValidationError) as refused, priced.transaction() as env:
        env.create("kt.doc", name="big", amount=10**12)
    assert "too large" in refused.value.errors["amount"][0]
    with pytest.raises(ValidationError) as refused, priced.transaction() as env:
        env.create("kt.doc", name="text", price="12.3456789")
    assert "more than 6 decimals" in refused.value.errors["price"][0]


def test_the_check_comes_before_the_records_own_validation(make_sf):
    """A number that does not fit is refused before the record's ``validate`` (and the
    addons' ``record_validate``) see it: they may not expect a NaN or a huge number."""
    sf = make_sf(KT)
    with pytest.raises(ValidationError) as refused, sf.transaction() as env:
        env.create("kt.doc", name="x", amount=D("-1E+12"))
    assert refused.value.errors == {"amount": [
        "-1E+12 is too large: at most 9999999999.99 in absolute value (10 digits before the "
        "decimal point, 2 after)"]}
