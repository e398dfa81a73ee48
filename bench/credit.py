"""Time of one credit check: a customer with 1,000 and one with 1,000,000 posted invoice lines.

    python bench/credit.py                       # temp SQLite file
    python bench/credit.py --large 200000        # a smaller "large" history
    python bench/credit.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test

Builds sale + sale_credit on a fresh database, two customers with posted, unpaid invoices of
100 lines each (bulk inserts through SQLAlchemy Core, untimed), brings exposure up to date
from those documents (``services.credit.rebuild``, untimed), then times the credit check of a
draft order of each customer on the path of the ``approve`` guard: ``services.credit.decide``
(lock the customer's exposure row, read its profile, compute the check), inside a write
transaction, ``--repeat`` times; the median is reported. The check reads the maintained
exposure row, never the history, so both times are alike. The last line is always::

    check_ms_small=<float> check_ms_large=<float> ratio=<float>
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import statistics
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, select, text  # noqa: E402

from core.app import Salesflow  # noqa: E402
from core.config import ClientConfig  # noqa: E402
from core.db import make_engine  # noqa: E402

LINES_PER_INVOICE = 100
CHUNK = 20_000


@contextlib.contextmanager
def fresh_database(pg_url: str | None):
    if pg_url is None:
        with tempfile.TemporaryDirectory(prefix="salesflow-credit-bench-") as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    schema = "bench_" + uuid.uuid4().hex[:10]
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in pg_url else "?"
    try:
        yield f"{pg_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def build(url: str) -> Salesflow:
    config = ClientConfig(
        name="credit bench", addons=["sale", "sale_credit"], database_url=url,
        secret_key="bench", addon_settings={"sale_credit": {
            "grades": {"A": {"limit": "1000000000"}}, "default_grade": "A"}})
    sf = Salesflow(config, engine=make_engine(url))
    sf.create_all()
    return sf


def master_data(sf: Salesflow) -> dict:
    partner = importlib.import_module("sale.services.partner")
    masterdata = importlib.import_module("sale.services.masterdata")
    with sf.transaction() as env:
        defaults = masterdata.ensure_defaults(env)
        user = env["res.user"](login="seller", name="Seller")
        user.role_links = [env["res.user_role"](role="salesperson")]
        env.session.add(user)
        env.session.flush()
        seller = partner.create_salesperson(env, user_id=user.id)
        term = defaults["terms"]["NET30"]
        customers = {
            size: partner.create_customer(env, {
                "code": f"CB-{size}", "name": f"Credit bench {size}", "salesperson_id": seller.id,
                "payment_term_id": term.id}, force=True).id
            for size in ("small", "large")}
        product = masterdata.create_product(env, sku="CB1", name="Bench product", unit="pcs",
                                            list_price=Decimal("10"),
                                            tax_id=defaults["taxes"]["VAT13"].id)
        return {"customers": customers, "product": product.id, "tax": product.tax_id,
                "user": user.id}


def bulk_invoices(sf: Salesflow, customer_id: int, product_id: int, tax_id: int, lines: int,
                  first_number: int) -> int:
    """Posted, unpaid invoices of 100 lines (10 x 10.00 + 13 % VAT each), by Core bulk
    inserts. Returns the number of invoices."""
    Invoice = sf.registry["sale.invoice"].__table__
    Line = sf.registry["sale.invoice.line"].__table__
    invoices = max(1, lines // LINES_PER_INVOICE)
    now = dt.datetime.now(dt.UTC)
    start = sf.today() - dt.timedelta(days=20)  # due within 10..40 days: none overdue
    line_total = Decimal("113.00")
    total = line_total * LINES_PER_INVOICE
    with sf.engine.begin() as conn:
        ids = []
        for base in range(0, invoices, CHUNK):
            rows = [{
                "number": f"INV/B/{first_number + k:07d}", "kind": "invoice", "state": "posted",
                "customer_id": customer_id, "date": start + dt.timedelta(days=k % 10),
                "due_date": start + dt.timedelta(days=k % 10 + 30), "currency": "CNY",
                "amount_untaxed": Decimal("10000.00"), "amount_tax": Decimal("1300.00"),
                "amount_total": total, "amount_total_company": total, "amount_residual": total,
                "payment_status": "none",
                "created_at": now, "updated_at": now, "version": 1,
            } for k in range(base, min(invoices, base + CHUNK))]
            conn.execute(insert(Invoice), rows)
        ids = list(conn.execute(select(Invoice.c.id).where(Invoice.c.customer_id == customer_id)
                                .order_by(Invoice.c.id)).scalars())
        batch = []
        for invoice_id in ids:
            for _ in range(LINES_PER_INVOICE):
                batch.append({
                    "invoice_id": invoice_id, "product_id": product_id, "description": "Bench",
                    "quantity": Decimal("10"), "unit_price": Decimal("10"), "discount": Decimal("0"),
                    "tax_id": tax_id, "amount_untaxed": Decimal("100.00"),
                    "amount_tax": Decimal("13.00"), "amount_total": line_total,
                    "price_adjustment": False, "created_at": now, "updated_at": now, "version": 1,
                })
                if len(batch) >= CHUNK:
                    conn.execute(insert(Line), batch)
                    batch = []
        if batch:
            conn.execute(insert(Line), batch)
    return len(ids)


def draft_order(sf: Salesflow, customer_id: int, product_id: int, user_id: int) -> int:
    order = importlib.import_module("sale.services.order")
    with sf.transaction(user_id) as env:
        return order.create_order(env, customer_id=customer_id, lines=[
            {"product_id": product_id, "quantity": Decimal("3")}]).id


def time_check(sf: Salesflow, order_id: int, user_id: int, repeat: int) -> tuple[float, list[str]]:
    """Median milliseconds of one credit check of the order (the approve guard's path)."""
    credit = importlib.import_module("sale_credit.services.credit")
    samples = []
    reasons: list[str] = []
    with sf.transaction(user_id) as env:
        order = env.get("sale.order", order_id)
        order.load_lines()
        credit.decide(env, order, "approve")  # warm-up: statements compiled, rows cached
        for _ in range(repeat):
            started = time.perf_counter()
            check = credit.decide(env, order, "approve")
            samples.append((time.perf_counter() - started) * 1000)
            reasons = check.reasons
        env.session.info.pop("sale_credit.decisions", None)  # timing only: record nothing
        env.session.rollback()
    return statistics.median(samples), reasons


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=1_000, help="invoice lines of the small customer")
    parser.add_argument("--large", type=int, default=1_000_000, help="invoice lines of the large one")
    parser.add_argument("--repeat", type=int, default=200, help="checks timed per customer")
    parser.add_argument("--db", default=None, help="a PostgreSQL URL (a fresh schema, dropped after)")
    args = parser.parse_args(argv)
    with fresh_database(args.db) as url:
        sf = build(url)
        try:
            master = master_data(sf)
            started = time.perf_counter()
            counts = {}
            number = 1
            for size, lines in (("small", args.small), ("large", args.large)):
                counts[size] = bulk_invoices(sf, master["customers"][size], master["product"],
                                             master["tax"], lines, number)
                number += counts[size]
            built = time.perf_counter() - started
            credit = importlib.import_module("sale_credit.services.credit")
            started = time.perf_counter()
            with sf.transaction() as env:
                credit.rebuild(env)
            rebuilt = time.perf_counter() - started
            print(f"# {sf.dialect}: invoices small={counts['small']} large={counts['large']} "
                  f"({LINES_PER_INVOICE} lines each), inserted in {built:.1f} s, exposure "
                  f"rebuilt in {rebuilt:.1f} s")
            times = {}
            for size in ("small", "large"):
                oid = draft_order(sf, master["customers"][size], master["product"], master["user"])
                times[size], reasons = time_check(sf, oid, master["user"], args.repeat)
                with sf.transaction() as env:
                    parts = credit.exposure_parts(env, master["customers"][size])
                print(f"# {size}: receivable {parts['receivable']:,.2f}, check "
                      f"{times[size]:.3f} ms (median of {args.repeat}), reasons {reasons}")
        finally:
            sf.engine.dispose()
    ratio = times["large"] / times["small"] if times["small"] else float("inf")
    print(f"check_ms_small={times['small']:.3f} check_ms_large={times['large']:.3f} ratio={ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
