"""Web UI response times on a large database: the order list, an order page, the dashboard.

    python bench/ui.py                                   # 100,000 orders, temp SQLite file
    python bench/ui.py --orders 20000 --repeat 10
    python bench/ui.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test
    python bench/ui.py --orders 20000 --profile dashboard   # where one page spends its time

The app is built for config/default.toml's addons (``--addons sale,sale_credit`` to choose) on
a fresh database: a temporary SQLite file, or with ``--db`` a fresh schema of that PostgreSQL
database, dropped afterwards. Untimed set-up: users (a sales manager and three salespersons),
400 customers spread over the salespersons, 60 products, then ``--orders`` orders of 1 to 5
lines dated over the last two years, in date order (ids grow with time), in every state:
of the last 90 days' orders 10 % quotations, 12 % approved, 10 % shipped, 23 % invoiced, 40 %
paid, 5 % cancelled; older ones mostly paid (85 %; 4 % invoiced and never paid, 7 % cancelled,
2 % expired quotations, 1 % approved, 1 % shipped). Invoiced and paid orders have a posted
invoice, paid ones and a third of the invoiced ones a payment allocated to it (in full, in
half). All by bulk inserts (SQLAlchemy Core ``executemany``; 15-30 s for 100,000 orders).
``--uniform``: a worst case, orders in random date order (ids unrelated to dates) and every
age in the recent mix of states. One more order of 50 lines goes through
the services (create, approve, ship, invoice): the order page timed.

Timed through the Flask test client (a signed-in browser session, every page rendered in
full), ``--repeat`` times each after a warm-up, as the sales manager (sees everything) and as
a salesperson (record rules: a third of the customers): the order list (50 rows a page) in
three variants (filtered by state sorted by date, filtered by state sorted by amount, every
order sorted by date), the 50-line order's page and the dashboard. One line per measurement
(median and 90th percentile in milliseconds, SQL statements per request), and last, always,
the slowest median of each page over the variants and users::

    list_ms=<float> order_ms=<float> dashboard_ms=<float>
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import dataclasses
import datetime as dt
import importlib
import io
import pstats
import random
import statistics
import sys
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import event, insert, select, text  # noqa: E402

from core.app import Salesflow, create_app  # noqa: E402
from core.config import ClientConfig  # noqa: E402
from core.db import make_engine  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lifecycle  # noqa: E402  (bench/lifecycle.py: fresh_database)

CUSTOMERS = 400
PRODUCTS = 60
SALESPERSONS = 3
BIG_LINES = 50
DAYS = 730
CHUNK = 10_000
PASSWORD = "bench-password-1"
CENT = Decimal("0.01")
VAT = Decimal("0.13")
#: state -> weight (per 100 orders) of the last 90 days' orders, and of older ones (mostly paid;
#: a few expired quotations, cancelled orders and invoices never paid)
STATES = {"draft": 10, "approved": 12, "shipped": 10, "invoiced": 23, "paid": 40, "cancelled": 5}
OLD_STATES = {"draft": 2, "approved": 1, "shipped": 1, "invoiced": 4, "paid": 85, "cancelled": 7}
RECENT_DAYS = 90
LIST_VARIANTS = [
    ("state=invoiced sort=-date_order", "/r/sale.order?state=invoiced&sort=-date_order"),
    ("state=paid sort=-amount_total", "/r/sale.order?state=paid&sort=-amount_total"),
    ("all sort=-date_order", "/r/sale.order?sort=-date_order"),
]


# -- set-up ----------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(pg_url: str | None, keep: str | None = None):
    """``lifecycle.fresh_database`` (a temp SQLite file or a new PostgreSQL schema); with
    ``keep``, that SQLite file instead (kept, and reused when it exists)."""
    if keep is not None:
        yield f"sqlite:///{Path(keep).resolve()}"
        return
    with lifecycle.fresh_database(pg_url) as url:
        yield url


def build(config_path: str | None, addons: str | None, url: str) -> Salesflow:
    config = ClientConfig.load(config_path)
    if addons:
        config = dataclasses.replace(config, addons=[a.strip() for a in addons.split(",") if a.strip()])
    config = dataclasses.replace(config, database_url=url, secret_key=config.secret_key or "bench",
                                 locale="en")
    sf = Salesflow(config, engine=make_engine(url))
    sf.create_all()
    return sf


@dataclasses.dataclass
class Master:
    users: dict[str, int]
    salespersons: list[int]
    customers: list[tuple[int, int, int]]  # (id, salesperson id, payment term id)
    products: list[tuple[int, Decimal, int]]  # (id, list price, tax id)
    big_order: int = 0


def master_data(sf: Salesflow) -> Master:
    partner = importlib.import_module("sale.services.partner")
    masterdata = importlib.import_module("sale.services.masterdata")
    journal = importlib.import_module("sale.services.journal")
    roles = {"manager": "sales_manager", "finance": "finance", "warehouse": "warehouse",
             **{f"sp{i + 1}": "salesperson" for i in range(SALESPERSONS)}}
    with sf.transaction() as env:
        defaults = masterdata.ensure_defaults(env)
        journal.ensure_accounts(env)
        users = {}
        for login, role in roles.items():
            user = env["res.user"](login=login, name=login.title(), lang="en")
            user.set_password(PASSWORD)
            user.role_links = [env["res.user_role"](role=role)]
            env.session.add(user)
            env.session.flush()
            users[login] = user.id
        sellers = [partner.create_salesperson(env, user_id=users[f"sp{i + 1}"]).id
                   for i in range(SALESPERSONS)]
        term = defaults["terms"]["NET30"]
        customers = []
        for i in range(CUSTOMERS):
            seller = sellers[i % len(sellers)]
            c = partner.create_customer(env, {
                "code": f"U{i:05d}", "name": f"UI bench customer {i}", "region": "华东",
                "salesperson_id": seller, "payment_term_id": term.id}, force=True)
            customers.append((c.id, seller, term.id))
        products = []
        for i in range(PRODUCTS):
            p = masterdata.create_product(env, sku=f"UP{i:03d}", name=f"UI bench product {i}",
                                          unit="pcs", list_price=Decimal(10 + (i * 7) % 91),
                                          tax_id=defaults["taxes"]["VAT13"].id)
            products.append((p.id, Decimal(p.list_price), p.tax_id))
    return Master(users, sellers, customers, products)


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def bulk_orders(sf: Salesflow, master: Master, count: int, seed: int,
                uniform: bool = False) -> dict[str, int]:
    """``count`` orders with lines, invoices, payments and allocations by Core bulk inserts,
    in the order they would have been entered: by order date (ids grow with time, as in a
    database filled day by day)."""
    rng = random.Random(seed)
    tables = {name: sf.registry[name].__table__ for name in (
        "sale.order", "sale.line", "sale.invoice", "sale.payment", "sale.payment.allocation")}
    today = sf.today()
    now = dt.datetime.now(dt.UTC)
    stamp = {"created_at": now, "updated_at": now, "version": 1}
    states = list(STATES)
    recent, old = list(STATES.values()), [OLD_STATES[s] for s in states]
    counts = dict.fromkeys(["orders", "lines", "invoices", "payments"], 0)
    dates = [today - dt.timedelta(days=rng.randrange(DAYS)) for _ in range(count)]
    if not uniform:
        dates.sort()
    with sf.engine.begin() as conn:
        for base in range(0, count, CHUNK):
            size = min(CHUNK, count - base)
            orders, plans = [], []
            for k in range(base, base + size):
                customer, seller, term = master.customers[rng.randrange(len(master.customers))]
                date_order = dates[k]
                age = (today - date_order).days
                state = rng.choices(states, recent if uniform or age <= RECENT_DAYS else old)[0]
                lines = []
                for _ in range(rng.randint(1, 5)):
                    product, price, tax = master.products[rng.randrange(len(master.products))]
                    qty = Decimal(rng.randint(1, 20))
                    untaxed = _money(qty * price)
                    vat = _money(untaxed * VAT)
                    lines.append({"product_id": product, "quantity": qty, "unit_price": price,
                                  "tax_id": tax, "amount_untaxed": untaxed, "amount_tax": vat,
                                  "amount_total": untaxed + vat})
                untaxed = sum((x["amount_untaxed"] for x in lines), Decimal(0))
                vat = sum((x["amount_tax"] for x in lines), Decimal(0))
                shipped = state in ("shipped", "invoiced", "paid")
                invoiced = state in ("invoiced", "paid")
                orders.append({
                    "number": f"SO/U/{k + 1:07d}", "state": state, "customer_id": customer,
                    "salesperson_id": seller, "date_order": date_order,
                    "validity_date": date_order + dt.timedelta(days=30), "currency": "CNY",
                    "payment_term_id": term, "amount_untaxed": untaxed, "amount_tax": vat,
                    "amount_total": untaxed + vat, "revision": 0,
                    "cancel_reason": "bench" if state == "cancelled" else None,
                    "shipping_status": "full" if shipped else "none",
                    "invoice_status": "full" if invoiced else "none",
                    "payment_status": "full" if state == "paid" else "none", **stamp})
                plans.append((lines, shipped, invoiced))
            conn.execute(insert(tables["sale.order"]), orders)
            numbers = [o["number"] for o in orders]
            Order = tables["sale.order"]
            ids = dict(conn.execute(select(Order.c.number, Order.c.id)
                                    .where(Order.c.number.in_(numbers))).all())
            line_rows, invoice_rows, paid_parts = [], [], []
            for order, (lines, shipped, invoiced) in zip(orders, plans, strict=True):
                oid = ids[order["number"]]
                for seq, line in enumerate(lines, start=1):
                    line_rows.append({
                        "order_id": oid, "sequence": seq * 10, "description": "UI bench line",
                        "discount": Decimal(0), "qty_shipped": line["quantity"] if shipped else 0,
                        "qty_invoiced": line["quantity"] if invoiced else 0, "qty_returned": 0,
                        **line, **stamp})
                if invoiced:
                    date = min(today, order["date_order"] + dt.timedelta(days=rng.randint(0, 10)))
                    paid = order["state"] == "paid"
                    # paid invoices: paid in full; a third of the open ones: paid in half
                    part = (order["amount_total"] if paid else
                            _money(order["amount_total"] / 2) if rng.random() < 1 / 3 else Decimal(0))
                    invoice_rows.append({
                        "number": f"INV/U/{oid:07d}", "kind": "invoice",
                        "state": "paid" if paid else "posted", "customer_id": order["customer_id"],
                        "order_id": oid, "date": date, "due_date": date + dt.timedelta(days=30),
                        "payment_term_id": order["payment_term_id"], "currency": "CNY",
                        "amount_untaxed": order["amount_untaxed"], "amount_tax": order["amount_tax"],
                        "amount_total": order["amount_total"],
                        "amount_total_company": order["amount_total"],
                        "amount_residual": order["amount_total"] - part,
                        "payment_status": "paid" if paid else ("partial" if part else "none"),
                        **stamp})
                    paid_parts.append(part)
            conn.execute(insert(tables["sale.line"]), line_rows)
            counts["orders"] += len(orders)
            counts["lines"] += len(line_rows)
            if not invoice_rows:
                continue
            conn.execute(insert(tables["sale.invoice"]), invoice_rows)
            counts["invoices"] += len(invoice_rows)
            Invoice = tables["sale.invoice"]
            inv_ids = dict(conn.execute(select(Invoice.c.number, Invoice.c.id).where(
                Invoice.c.number.in_([i["number"] for i in invoice_rows]))).all())
            payments, allocations = [], []
            for inv, amount in zip(invoice_rows, paid_parts, strict=True):
                if not amount:
                    continue
                pay_date = min(today, inv["date"] + dt.timedelta(days=rng.randint(5, 45)))
                payments.append({
                    "number": f"PAY/U/{inv_ids[inv['number']]:07d}", "state": "posted",
                    "customer_id": inv["customer_id"], "method": "bank_transfer", "date": pay_date,
                    "amount": amount, "amount_company": amount, "currency": "CNY",
                    "amount_unallocated": Decimal(0), **stamp})
                allocations.append({"invoice_id": inv_ids[inv["number"]], "amount": amount,
                                    "amount_company": amount, "source_amount_company": amount,
                                    "date": pay_date, "discount": Decimal(0), **stamp})
            if payments:
                conn.execute(insert(tables["sale.payment"]), payments)
                Payment = tables["sale.payment"]
                pay_ids = dict(conn.execute(select(Payment.c.number, Payment.c.id).where(
                    Payment.c.number.in_([p["number"] for p in payments]))).all())
                for pay, alloc in zip(payments, allocations, strict=True):
                    alloc["payment_id"] = pay_ids[pay["number"]]
                conn.execute(insert(tables["sale.payment.allocation"]), allocations)
                counts["payments"] += len(payments)
    return counts


def big_order(sf: Salesflow, master: Master) -> int:
    """An order of 50 lines through the services: created, approved, shipped, invoiced."""
    order_svc = importlib.import_module("sale.services.order")
    shipment = importlib.import_module("sale.services.shipment")
    invoice = importlib.import_module("sale.services.invoice")
    customer = next(c for c in master.customers if c[1] == master.salespersons[0])[0]
    lines = [{"product_id": master.products[k % len(master.products)][0],
              "quantity": Decimal(1 + k % 3)} for k in range(BIG_LINES)]
    with sf.transaction(master.users["sp1"]) as env:
        oid = order_svc.create_order(env, customer_id=customer, lines=lines).id
    with sf.transaction(master.users["sp1"]) as env:
        outcome = env.get("sale.order", oid).fire("approve")
        assert outcome.done, outcome
    with sf.transaction(master.users["warehouse"]) as env:
        shipment.record_shipment(env, order_svc.get_order(env, oid))
    with sf.transaction(master.users["finance"]) as env:
        invoice.post_invoice(env, invoice.create_invoice(env, oid))
    return oid


# -- timing ----------------------------------------------------------------------------------


class Statements:
    """Counts the SQL statements the engine executes."""

    def __init__(self, engine):
        self.value = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args, **_kw):
        self.value += 1


def signed_in(app, login: str):
    from core.web.testing import web_login

    client = app.test_client()
    resp = web_login(client, login, PASSWORD)
    if resp.status_code != 302:
        raise SystemExit(f"cannot sign in as {login}: {resp.status_code}")
    return client


def measure(client, path: str, repeat: int, statements: Statements, warmup: int = 3):
    for _ in range(warmup):
        resp = client.get(path)
        if resp.status_code != 200:
            raise SystemExit(f"GET {path}: {resp.status_code}\n{resp.get_data(as_text=True)[:2000]}")
    samples = []
    before = statements.value
    for _ in range(repeat):
        started = time.perf_counter()
        resp = client.get(path)
        resp.get_data()
        samples.append((time.perf_counter() - started) * 1000)
    per_request = (statements.value - before) / repeat
    samples.sort()
    p90 = samples[min(len(samples) - 1, int(len(samples) * 0.9))]
    return statistics.median(samples), p90, per_request


def profile(client, path: str, runs: int = 5) -> None:
    client.get(path)
    try:
        from pyinstrument import Profiler
    except ImportError:
        Profiler = None
    if Profiler is not None:
        profiler = Profiler()
        profiler.start()
        for _ in range(runs):
            client.get(path)
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False))
        return
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(runs):
        client.get(path)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(40)
    print(out.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per page")
    parser.add_argument("--db", default=None, help="a PostgreSQL URL (a fresh schema, dropped after)")
    parser.add_argument("--config", default=None, help="client config (default: config/default.toml)")
    parser.add_argument("--addons", default=None, help="comma-separated addons instead of the config's")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--uniform", action="store_true",
                        help="a worst case: orders inserted in random date order, every age in "
                             "the recent mix of states (a third of all invoices open)")
    parser.add_argument("--profile", choices=["list", "order", "dashboard"],
                        help="profile one page (pyinstrument when installed, else cProfile)")
    parser.add_argument("--login", default="manager", help="the user of --profile")
    parser.add_argument("--keep", metavar="FILE", help="an SQLite file to build and keep, or to "
                        "reuse when it exists (to profile again without the set-up)")
    args = parser.parse_args(argv)
    reuse = args.keep is not None and Path(args.keep).exists()
    with fresh_database(args.db, args.keep) as url:
        sf = build(args.config, args.addons, url)
        try:
            started = time.perf_counter()
            if reuse:
                master = Master({}, [], [], [])
                with sf.engine.connect() as conn:
                    Order = sf.registry["sale.order"].__table__
                    master.big_order = conn.execute(select(Order.c.id).where(
                        ~Order.c.number.like("SO/U/%"))).scalar_one()
                print(f"# {sf.dialect}: reusing {args.keep}")
            else:
                master = master_data(sf)
                counts = bulk_orders(sf, master, args.orders, args.seed, args.uniform)
                master.big_order = big_order(sf, master)
                with sf.engine.begin() as conn:  # planner statistics, as after a day of use
                    conn.execute(text("ANALYZE"))
                print(f"# {sf.dialect}: {counts['orders']:,} orders, {counts['lines']:,} lines, "
                      f"{counts['invoices']:,} invoices, {counts['payments']:,} payments, "
                      f"built in {time.perf_counter() - started:.1f} s")
            app = create_app(salesflow=sf, testing=True)
            pages = {
                "list": [(label, path) for label, path in LIST_VARIANTS],
                "order": [("50 lines", f"/r/sale.order/{master.big_order}")],
                "dashboard": [("", "/sale/dashboard")],
            }
            if args.profile:
                client = signed_in(app, args.login)
                for label, path in pages[args.profile]:
                    print(f"# profile {args.profile} {label} as {args.login}: {path}")
                    profile(client, path)
                return 0
            statements = Statements(sf.engine)
            worst = dict.fromkeys(pages, 0.0)
            for login in ("manager", "sp1"):
                client = signed_in(app, login)
                for page, variants in pages.items():
                    for label, path in variants:
                        median, p90, per_request = measure(client, path, args.repeat, statements)
                        worst[page] = max(worst[page], median)
                        print(f"{page:<9} {login:<7} {label:<32} median {median:8.1f} ms  "
                              f"p90 {p90:8.1f} ms  {per_request:5.1f} statements")
        finally:
            sf.engine.dispose()
    print(f"list_ms={worst['list']:.1f} order_ms={worst['order']:.1f} "
          f"dashboard_ms={worst['dashboard']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
