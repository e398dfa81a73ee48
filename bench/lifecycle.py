"""Order-to-cash throughput: N orders of L lines through create, approve, ship, invoice, pay.

    python bench/lifecycle.py --orders 1000 --lines 5                 # services, temp SQLite
    python bench/lifecycle.py --orders 1000 --lines 5 --api           # HTTP (Flask test client)
    python bench/lifecycle.py --orders 1000 --lines 5 --batch 100     # batch services, 100 a transaction
    python bench/lifecycle.py --orders 1000 --lines 5 --batch 100 --api  # batch endpoints
    python bench/lifecycle.py --orders 200 --db postgresql+psycopg://postgres@127.0.0.1:5432/test
    python bench/lifecycle.py --big-order                             # 1 order x 1,000 lines
    python bench/lifecycle.py --orders 300 --profile ship             # cProfile one phase
    python bench/lifecycle.py --batch 100 --profile all               # ... and own time by package

The app is built for config/default.toml's addons (``--addons sale,sale_credit`` to choose) on
a fresh database: a temporary SQLite file, or with ``--db`` a fresh schema of that PostgreSQL
database, dropped afterwards. Master data (customers, products, users) is created untimed. Each
phase then runs every order in a transaction of its own, as the user whose job it is (like one
request each): create and approve as a salesperson (totals stay below the first approval level),
ship as the warehouse, invoice (create + post) and pay as finance. With ``--batch SIZE`` each
phase instead runs SIZE orders per transaction through the batch services (``create_orders``,
``approve_orders``, ``record_shipments``, ``invoice_orders``, ``register_payments``), or with
``--api`` SIZE orders per request through the batch endpoints: the list views' mass actions.

Per phase it prints seconds, orders/s and SQL statements per order (every statement the
engine's cursor executes, counted by a ``before_cursor_execute`` listener; SQLite's ``BEGIN
IMMEDIATE`` included). It checks that every order ends ``paid`` and that the journal balances
(trial balance debits == credits) and exits 1 otherwise. The last line is always::

    orders=N lines=L total_s=<float> orders_per_s=<float> peak_rss_mb=<float>
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import dataclasses
import datetime as dt
import importlib
import io
import os
import pstats
import resource
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, event, func, select, text  # noqa: E402

from core.app import Salesflow, create_app  # noqa: E402
from core.config import ClientConfig  # noqa: E402
from core.db import make_engine  # noqa: E402
from core.errors import SalesflowError  # noqa: E402
from core.runtime import tune_gc  # noqa: E402

PHASES = ("create", "approve", "ship", "invoice", "pay")
CUSTOMERS = 50
PRODUCTS = 40
BIG_LINES = 1000
SMALL_LINES = 10


class Failed(Exception):
    """The run did not end as it must (an order not paid, the journal unbalanced, an error)."""


# -- set-up ----------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(pg_url: str | None):
    """A URL of an empty database: a temp SQLite file, or a new schema of ``pg_url``."""
    if pg_url is None:
        with tempfile.TemporaryDirectory(prefix="salesflow-bench-") as folder:
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


def build(config_path: str | None, addons: str | None, url: str) -> Salesflow:
    config = ClientConfig.load(config_path)
    if addons:
        config = dataclasses.replace(config, addons=[a.strip() for a in addons.split(",") if a.strip()])
    config = dataclasses.replace(config, database_url=url, secret_key=config.secret_key or "bench")
    sf = Salesflow(config, engine=make_engine(url))
    sf.create_all()
    return sf


def services():
    """The sale services, imported as the app imports them (``sale.services.*``)."""
    names = ("order", "shipment", "invoice", "payment", "journal", "masterdata", "partner")
    return argparse.Namespace(**{n: importlib.import_module(f"sale.services.{n}") for n in names})


@dataclasses.dataclass
class Master:
    users: dict[str, int]
    customer_ids: list[int]
    product_ids: list[int]
    tokens: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)


def master_data(sf: Salesflow, svc) -> Master:
    """Users (no passwords: hashing is slow by design), a salesperson, customers, products."""
    roles = {"seller": "salesperson", "warehouse": "warehouse", "finance": "finance"}
    with sf.transaction() as env:
        defaults = svc.masterdata.ensure_defaults(env)
        svc.journal.ensure_accounts(env)
        users = {}
        for login, role in roles.items():
            user = env["res.user"](login=login, name=login.title())
            user.role_links = [env["res.user_role"](role=role)]
            env.session.add(user)
            env.session.flush()
            users[login] = user.id
        seller = svc.partner.create_salesperson(env, user_id=users["seller"])
        term = defaults["terms"]["NET30"]
        customers = [
            svc.partner.create_customer(env, {
                "code": f"B{i:04d}", "name": f"Bench customer {i}", "region": "华东",
                "salesperson_id": seller.id, "payment_term_id": term.id,
            }, force=True).id
            for i in range(CUSTOMERS)
        ]
        # prices 10..80: even a 1,000-line order stays below the first approval level
        products = [
            svc.masterdata.create_product(env, sku=f"BP{i:03d}", name=f"Bench product {i}", unit="pcs",
                                          list_price=Decimal(10 + (i * 7) % 71),
                                          tax_id=defaults["taxes"]["VAT13"].id).id
            for i in range(PRODUCTS)
        ]
    return Master(users, customers, products)


def issue_tokens(sf: Salesflow, master: Master) -> None:
    from core.security import new_token

    with sf.transaction() as env:
        for login, user_id in master.users.items():
            token, digest = new_token()
            env.session.add(env["res.api_token"](user_id=user_id, name="bench", token_hash=digest))
            master.tokens[login] = {"Authorization": f"Bearer {token}"}


def order_lines(master: Master, index: int, count: int) -> list[dict]:
    """``count`` lines; quantities 1-5 (1 on large orders, to stay below the approval level)."""
    products = master.product_ids
    cycle = 5 if count <= 100 else 1
    return [{"product_id": products[(index + k) % len(products)],
             "quantity": Decimal(1 + (index + k) % cycle)} for k in range(count)]


# -- the five steps, through the services ----------------------------------------------------


class ServiceDriver:
    """One transaction per order per step, as the user whose job it is."""

    def __init__(self, sf: Salesflow, svc, master: Master):
        self.sf, self.svc, self.master = sf, svc, master
        self.invoices: dict[int, int] = {}

    def create(self, index: int, lines: int) -> int:
        customer = self.master.customer_ids[index % len(self.master.customer_ids)]
        with self.sf.transaction(self.master.users["seller"]) as env:
            return self.svc.order.create_order(env, customer_id=customer,
                                               lines=order_lines(self.master, index, lines)).id

    def approve(self, order_id: int) -> None:
        with self.sf.transaction(self.master.users["seller"]) as env:
            outcome = env.get("sale.order", order_id).fire("approve")
            if not outcome.done:
                raise Failed(f"order {order_id}: approval pending {outcome.approvals_pending}")

    def ship(self, order_id: int) -> None:
        with self.sf.transaction(self.master.users["warehouse"]) as env:
            self.svc.shipment.record_shipment(env, env.get("sale.order", order_id))

    def invoice(self, order_id: int) -> None:
        with self.sf.transaction(self.master.users["finance"]) as env:
            invoice = self.svc.invoice.create_invoice(env, env.get("sale.order", order_id))
            self.svc.invoice.post_invoice(env, invoice)
            self.invoices[order_id] = invoice.id

    def pay(self, order_id: int) -> None:
        with self.sf.transaction(self.master.users["finance"]) as env:
            invoice = env.get("sale.invoice", self.invoices[order_id])
            self.svc.payment.register_payment(
                env, customer_id=invoice.customer_id, amount=invoice.amount_residual,
                method="bank_transfer", allocations=[{"invoice_id": invoice.id,
                                                      "amount": invoice.amount_residual}])


class BatchDriver:
    """Each step on ``size`` orders at a time, in one transaction per batch, through the batch
    services (the list views' actions: approve, ship, invoice, pay the selected orders)."""

    def __init__(self, sf: Salesflow, svc, master: Master, size: int):
        self.sf, self.svc, self.master, self.size = sf, svc, master, size
        self.invoices: dict[int, int] = {}

    def batches(self, items: list) -> list[list]:
        return [items[i:i + self.size] for i in range(0, len(items), self.size)]

    def create_many(self, indices: list[int], lines: int) -> list[int]:
        ids = []
        for batch in self.batches(indices):
            specs = [{"customer_id": self.master.customer_ids[i % len(self.master.customer_ids)],
                      "lines": order_lines(self.master, i, lines)} for i in batch]
            with self.sf.transaction(self.master.users["seller"]) as env:
                ids.extend(order.id for order in self.svc.order.create_orders(env, specs))
        return ids

    def _orders(self, env, ids: list[int]) -> list:
        Order = env["sale.order"]
        by_id = {o.id: o for o in env.session.scalars(select(Order).where(Order.id.in_(ids)))}
        return [by_id[i] for i in ids]

    def approve_many(self, ids: list[int]) -> None:
        for batch in self.batches(ids):
            with self.sf.transaction(self.master.users["seller"]) as env:
                outcomes = self.svc.order.approve_orders(env, self._orders(env, batch))
                pending = [o for o in outcomes if not o.done]
                if pending:
                    raise Failed(f"{len(pending)} orders still need approval levels")

    def ship_many(self, ids: list[int]) -> None:
        for batch in self.batches(ids):
            with self.sf.transaction(self.master.users["warehouse"]) as env:
                self.svc.shipment.record_shipments(env, self._orders(env, batch))

    def invoice_many(self, ids: list[int]) -> None:
        for batch in self.batches(ids):
            with self.sf.transaction(self.master.users["finance"]) as env:
                invoices = self.svc.invoice.invoice_orders(env, self._orders(env, batch), post=True)
                self.invoices.update((inv.order_id, inv.id) for inv in invoices)

    def pay_many(self, ids: list[int]) -> None:
        for batch in self.batches(ids):
            with self.sf.transaction(self.master.users["finance"]) as env:
                Invoice = env["sale.invoice"]
                invoices = env.session.scalars(select(Invoice).where(
                    Invoice.id.in_([self.invoices[i] for i in batch]))).all()
                self.svc.payment.register_payments(env, [
                    {"customer_id": inv.customer_id, "amount": inv.amount_residual,
                     "method": "bank_transfer",
                     "allocations": [{"invoice_id": inv.id, "amount": inv.amount_residual}]}
                    for inv in invoices])


class ApiBatchDriver:
    """The batch steps through HTTP: ``size`` orders per request (POST /orders/batch,
    /orders/batch/triggers/approve, /orders/batch/shipments, /invoices/batch, /payments/batch)."""

    def __init__(self, sf: Salesflow, master: Master, size: int):
        self.master, self.size = master, size
        self.client = create_app(salesflow=sf).test_client()
        self.invoices: dict[int, dict] = {}

    batches = BatchDriver.batches

    def _post(self, login: str, path: str, body: dict, expect: int) -> dict:
        return ApiDriver._post(self, login, path, body, expect)

    def create_many(self, indices: list[int], lines: int) -> list[int]:
        ids = []
        for batch in self.batches(indices):
            body = {"orders": [
                {"customer_id": self.master.customer_ids[i % len(self.master.customer_ids)],
                 "lines": [{"product_id": ln["product_id"], "quantity": str(ln["quantity"])}
                           for ln in order_lines(self.master, i, lines)]} for i in batch]}
            ids.extend(o["id"] for o in self._post("seller", "/api/v1/orders/batch", body, 201)["orders"])
        return ids

    def approve_many(self, ids: list[int]) -> None:
        for batch in self.batches(ids):
            outcomes = self._post("seller", "/api/v1/orders/batch/triggers/approve", {"ids": batch},
                                  200)["outcomes"]
            if not all(o["done"] for o in outcomes):
                raise Failed("some orders still need approval levels")

    def ship_many(self, ids: list[int]) -> None:
        for batch in self.batches(ids):
            self._post("warehouse", "/api/v1/orders/batch/shipments", {"ids": batch}, 201)

    def invoice_many(self, ids: list[int]) -> None:
        for batch in self.batches(ids):
            for invoice in self._post("finance", "/api/v1/invoices/batch", {"order_ids": batch},
                                      201)["invoices"]:
                self.invoices[invoice["order_id"]] = invoice

    def pay_many(self, ids: list[int]) -> None:
        for batch in self.batches(ids):
            payments = []
            for order_id in batch:
                invoice = self.invoices[order_id]
                amount = invoice["amount_residual"]
                payments.append({"customer_id": invoice["customer_id"], "amount": amount,
                                 "method": "bank_transfer",
                                 "allocations": [{"invoice_id": invoice["id"], "amount": amount}]})
            self._post("finance", "/api/v1/payments/batch", {"payments": payments}, 201)


class ApiDriver:
    """The same steps through HTTP: the Flask test client with bearer tokens."""

    def __init__(self, sf: Salesflow, master: Master):
        self.master = master
        self.client = create_app(salesflow=sf).test_client()
        self.invoices: dict[int, dict] = {}

    def _post(self, login: str, path: str, body: dict, expect: int) -> dict:
        resp = self.client.post(path, json=body, headers=self.master.tokens[login])
        if resp.status_code != expect:
            raise Failed(f"POST {path}: {resp.status_code} {resp.get_data(as_text=True)[:500]}")
        return resp.get_json()

    def create(self, index: int, lines: int) -> int:
        customer = self.master.customer_ids[index % len(self.master.customer_ids)]
        body = {"customer_id": customer,
                "lines": [{"product_id": ln["product_id"], "quantity": str(ln["quantity"])}
                          for ln in order_lines(self.master, index, lines)]}
        return self._post("seller", "/api/v1/orders", body, 201)["id"]

    def approve(self, order_id: int) -> None:
        self._post("seller", f"/api/v1/orders/{order_id}/triggers/approve", {}, 200)

    def ship(self, order_id: int) -> None:
        self._post("warehouse", f"/api/v1/orders/{order_id}/shipments", {}, 201)

    def invoice(self, order_id: int) -> None:
        invoice = self._post("finance", "/api/v1/invoices", {"order_id": order_id}, 201)
        self.invoices[order_id] = self._post("finance", f"/api/v1/invoices/{invoice['id']}/post", {}, 200)

    def pay(self, order_id: int) -> None:
        invoice = self.invoices[order_id]
        amount = invoice["amount_residual"]
        self._post("finance", "/api/v1/payments", {
            "customer_id": invoice["customer_id"], "amount": amount, "method": "bank_transfer",
            "allocations": [{"invoice_id": invoice["id"], "amount": amount}]}, 201)


# -- measuring -------------------------------------------------------------------------------


class StatementCounter:
    def __init__(self, engine):
        self.value = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args, **_kwargs) -> None:
        self.value += 1


@dataclasses.dataclass
class PhaseResult:
    name: str
    orders: int
    seconds: float
    statements: int
    #: CPU time of this process: on a busy machine it shows what the wall clock hides
    cpu: float = 0.0

    def line(self) -> str:
        rate = self.orders / self.seconds if self.seconds else float("inf")
        return (f"{self.name:<8} {self.orders:>6} orders  {self.seconds:8.3f} s  {rate:9.1f} orders/s  "
                f"{self.statements / max(self.orders, 1):7.1f} SQL/order  cpu {self.cpu:7.3f} s")


def timed(name: str, orders: int, counter: StatementCounter, run, profile: str | None) -> PhaseResult:
    profiler = cProfile.Profile() if profile in (name, "all") else None
    start_count = counter.value
    start, start_cpu = time.perf_counter(), time.process_time()
    if profiler is not None:
        profiler.enable()
    run()
    if profiler is not None:
        profiler.disable()
    seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    result = PhaseResult(name, orders, seconds, counter.value - start_count, cpu)
    if profiler is not None:
        print_profile(name, profiler)
    return result


def print_profile(name: str, profiler: cProfile.Profile) -> None:
    if dump := os.environ.get("BENCH_PROFILE_DUMP"):  # raw stats, for pstats' callers/callees
        profiler.dump_stats(f"{dump}.{name}.prof")
    for key in ("cumulative", "tottime"):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.strip_dirs().sort_stats(key).print_stats(int(os.environ.get("BENCH_PROFILE_LINES", "30")))
        print(f"--- profile of {name}, by {key} ---", file=sys.stderr)
        print(out.getvalue(), file=sys.stderr)
    print(f"--- {name}: own time by where the code lives ---", file=sys.stderr)
    for where, seconds, share in time_by_package(profiler):
        print(f"{where:<28} {seconds:7.3f} s  {share:5.1f} %", file=sys.stderr)


#: (label, path fragment), first match wins: the ceiling of any work on one part is its share
PACKAGES = (("sqlalchemy.orm", "/sqlalchemy/orm/"), ("sqlalchemy (core, engine)", "/sqlalchemy/"),
            ("salesflow core", str(ROOT / "core")), ("salesflow addons", str(ROOT / "addons")),
            ("pluggy", "/pluggy/"), ("transitions", "/transitions/"), ("json", "/json/"))


def time_by_package(profiler: cProfile.Profile) -> list[tuple[str, float, float]]:
    """Each function's own time (tottime) summed by the package its code is in; C functions
    (``~``) split into sqlite3's cursor calls and the rest of the interpreter's built-ins."""
    totals: dict[str, float] = {}
    for (filename, _line, function), (_cc, _nc, own, _cum, _callers) in pstats.Stats(profiler).stats.items():
        if filename == "~":
            where = "sqlite3 / psycopg (C)" if ("sqlite3" in function or "psycopg" in function) \
                else "built-ins (C)"
        else:
            where = next((label for label, part in PACKAGES if part in filename), "other Python")
        totals[where] = totals.get(where, 0.0) + own
    grand = sum(totals.values()) or 1.0
    return [(w, s, 100 * s / grand) for w, s in sorted(totals.items(), key=lambda kv: -kv[1])]


class _Ref:
    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a, self.b = a, b


def reference_ms() -> float:
    """Best of 5 runs of a fixed pure-Python workload (objects, dicts, calls, Decimal), in ms.

    The machine's speed drifts between days (the same code has run 1 to 3 times as fast), so
    each run prints this beside its figures: only runs with a close reference compare."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        rows: dict[int, _Ref] = {}
        total = Decimal(0)
        for i in range(20000):
            rows[i] = _Ref(i, str(i))
            total += Decimal(i % 97) * Decimal("1.13")
            rows.get(i - 1)
        best = min(best, time.perf_counter() - start)
    return round(best * 1000, 1)


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024  # bytes vs KiB


def verify(sf: Salesflow, svc, order_ids: list[int]) -> None:
    """Every order paid, the journal balanced; ``Failed`` otherwise."""
    with sf.transaction(readonly=True) as env:
        Order = env["sale.order"]
        states = dict(env.session.execute(
            select(Order.state, func.count()).where(Order.id.in_(order_ids)).group_by(Order.state)).all())
        balance = svc.journal.trial_balance(env)
    if states != {"paid": len(order_ids)}:
        raise Failed(f"orders must all be paid; states: {states}")
    if not balance["balanced"] or balance["debit"] != balance["credit"]:
        raise Failed(f"the journal does not balance: debit {balance['debit']} != credit {balance['credit']}")


def summary(orders: int, lines: int, total: float) -> str:
    rate = orders / total if total else 0.0
    return (f"orders={orders} lines={lines} total_s={total:.3f} orders_per_s={rate:.1f} "
            f"peak_rss_mb={peak_rss_mb():.1f}")


# -- runs ------------------------------------------------------------------------------------


def run_lifecycle(sf: Salesflow, svc, driver, n: int, lines: int, profile: str | None) -> float:
    counter = StatementCounter(sf.engine)
    ids: list[int] = []
    if isinstance(driver, (BatchDriver, ApiBatchDriver)):
        results = [timed("create", n, counter,
                         lambda: ids.extend(driver.create_many(list(range(n)), lines)), profile)]
        for name in PHASES[1:]:
            step = getattr(driver, f"{name}_many")
            results.append(timed(name, n, counter, lambda step=step: step(ids), profile))
    else:
        results = [timed("create", n, counter,
                         lambda: ids.extend(driver.create(i, lines) for i in range(n)), profile)]
        for name in PHASES[1:]:
            step = getattr(driver, name)
            results.append(timed(name, n, counter, lambda step=step: [step(i) for i in ids], profile))
    for result in results:
        print(result.line())
    total = sum(r.seconds for r in results)
    statements = sum(r.statements for r in results)
    print(f"{'total':<8} {n:>6} orders  {total:8.3f} s  {n / total:9.1f} orders/s  "
          f"{statements / n:7.1f} SQL/order  cpu {sum(r.cpu for r in results):7.3f} s")
    verify(sf, svc, ids)
    print("check: every order paid, journal balanced")
    return total


def run_big_order(sf: Salesflow, svc, driver, profile: str | None) -> float:
    # one small order first, untimed: the first use of a year creates its sequences and the
    # accounts, statements that would otherwise be counted against the big order
    warm = driver.create(0, SMALL_LINES)
    for name in PHASES[1:]:
        getattr(driver, name)(warm)
    counter = StatementCounter(sf.engine)
    totals = {}
    for size in (BIG_LINES, SMALL_LINES):
        holder: list[int] = []
        steps = [timed("create", 1, counter,
                       lambda size=size, holder=holder: holder.append(driver.create(0, size)), profile)]
        for name in PHASES[1:]:
            step = getattr(driver, name)
            steps.append(timed(name, 1, counter, lambda step=step, holder=holder: step(holder[0]),
                               profile))
        verify(sf, svc, holder)
        totals[size] = sum(s.seconds for s in steps)
        print(f"one order of {size} lines: " + "  ".join(
            f"{s.name} {s.seconds:.3f} s/{s.statements} SQL" for s in steps)
            + f"  total {totals[size]:.3f} s")
    print("check: paid, journal balanced; SQL per step should not grow with the lines")
    return totals[BIG_LINES]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=5)
    parser.add_argument("--db", default=None, help="a PostgreSQL URL (a fresh schema is used and dropped)")
    parser.add_argument("--api", action="store_true", help="through HTTP (Flask test client, tokens)")
    parser.add_argument("--batch", type=int, default=0, metavar="SIZE",
                        help="each step on SIZE orders per transaction, through the batch services")
    parser.add_argument("--addons", default=None, help="comma-separated addons (default: the config's)")
    parser.add_argument("--config", default=None, help="client config (default: config/default.toml)")
    parser.add_argument("--big-order", action="store_true",
                        help=f"one order of {BIG_LINES} lines (and one of {SMALL_LINES}) through every step")
    parser.add_argument("--gc-default", action="store_true",
                        help="keep CPython's collector settings (default: the server's, core.runtime.tune_gc)")
    parser.add_argument("--profile", default=None, choices=(*PHASES, "all"),
                        help="cProfile a phase (or all) and print the top functions to stderr")
    args = parser.parse_args(argv)
    if args.orders < 1 or args.lines < 1:
        parser.error("--orders and --lines must be at least 1")

    with fresh_database(args.db) as url:
        sf = build(args.config, args.addons, url)
        try:
            svc = services()
            master = master_data(sf, svc)
            if args.api:
                issue_tokens(sf, master)
                driver = ApiBatchDriver(sf, master, args.batch) if args.batch else ApiDriver(sf, master)
            elif args.batch:
                driver = BatchDriver(sf, svc, master, args.batch)
            else:
                driver = ServiceDriver(sf, svc, master)
            mode = ("api" if args.api else "services") + (
                f", batches of {args.batch} orders" if args.batch else ", one order per transaction")
            if not args.gc_default:  # as the WSGI app and `salesflow serve` run
                tune_gc()
            mode += ", gc " + ("default" if args.gc_default else "tuned")
            print(f"# {sf.dialect}, addons {','.join(sf.addon_names)}, {mode}, "
                  f"{dt.datetime.now().isoformat(timespec='seconds')}, "
                  f"machine reference {reference_ms()} ms (lower is faster)")
            try:
                if args.big_order:
                    total = run_big_order(sf, svc, driver, args.profile)
                    print(summary(1, BIG_LINES, total))
                else:
                    total = run_lifecycle(sf, svc, driver, args.orders, args.lines, args.profile)
                    print(summary(args.orders, args.lines, total))
            except (Failed, SalesflowError) as exc:
                print(f"FAILED: {type(exc).__name__}: {exc}")
                orders, lines = (1, BIG_LINES) if args.big_order else (args.orders, args.lines)
                print(summary(orders, lines, 0.0))
                return 1
        finally:
            sf.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
