"""Fixtures of sale_credit's tests (each test runs on SQLite and PostgreSQL).

``sf``/``csf`` is sale + sale_credit with the sale addon's approval rules and the credit
settings of the ``credit_settings`` fixture (override it in a test module to change them).
The other fixtures mirror addons/sale/tests/conftest.py (users, master, svc, make_order, flow,
acc, api, fast_passwords). Sections below are owned by the file that introduced them; add new
fixtures at the end.
"""

from __future__ import annotations

import importlib
from decimal import Decimal
from types import SimpleNamespace

import pytest

from core.testing import add_user, approval_rule, token_for

D = Decimal

DEFAULT_APPROVALS = [
    approval_rule("sale.order", "approve", [("100000", "sales_manager"), ("500000", "director")])
]

#: a grade table used by most tests (limits in company currency)
GRADES = {
    "A": {"limit": "500000", "min_score": 80},
    "B": {"limit": "100000", "min_score": 50},
    "C": {"limit": "10000", "min_score": 0, "policy": "refuse"},
}

#: login -> roles
USERS = {
    "admin": ("admin",),
    "sp1": ("salesperson",),
    "sp2": ("salesperson",),
    "manager": ("sales_manager",),
    "director": ("director", "sales_manager"),
    "warehouse": ("warehouse",),
    "finance": ("finance",),
    "cm": ("credit_manager",),
    "cm_sp": ("credit_manager", "salesperson"),   # a credit manager who also sells
}


@pytest.fixture
def fast_passwords(monkeypatch):
    """Cheap password hashes (scrypt takes ~0.15 s per user by design)."""
    from werkzeug.security import generate_password_hash

    import core.base.models

    monkeypatch.setattr(core.base.models, "hash_password",
                        lambda password: generate_password_hash(password, method="pbkdf2:sha256:1"))


@pytest.fixture
def credit_settings():
    """``[addon.sale_credit]`` of the ``sf`` fixture."""
    return {"policy": "review", "grades": GRADES, "overdue_days": 30}


@pytest.fixture
def approvals():
    """``[[approvals]]`` of the ``sf`` fixture."""
    return DEFAULT_APPROVALS


@pytest.fixture
def sf(make_sf, credit_settings, approvals):
    """sale + sale_credit."""
    return make_sf(["sale", "sale_credit"], approvals=approvals,
                   settings={"sale_credit": credit_settings})


@pytest.fixture
def csf(sf):
    """Alias of ``sf``."""
    return sf


@pytest.fixture
def users(sf):
    """Users by login (ids); sp1, sp2, manager and cm_sp are salespersons too (salesperson ids
    in ``users.sp``)."""
    ids = {login: add_user(sf, login, *roles) for login, roles in USERS.items()}
    sp = {}
    with sf.transaction() as env:
        team = env.create("sale.team", code="EAST", name="East")
        for login in ("sp1", "sp2", "manager", "cm_sp"):
            sp[login] = env.create("sale.salesperson", user_id=ids[login], name=login.upper(),
                                   team_id=team.id).id
    return SimpleNamespace(ids=ids, sp=sp, **ids)


@pytest.fixture
def master(sf, users):
    """VAT 13 % (excluded), VAT 0, net-30 term, products P1 (100.00), P2 (25.50),
    P3 (1999.99) at VAT 13 % and P0 (100.00) at VAT 0; customers c1 (of sp1, grade B),
    c2 (of sp2, grade A) and c3 (of cm_sp, grade C)."""
    with sf.transaction() as env:
        vat = env.create("sale.tax", code="VAT13", name="VAT 13%", rate=D("0.13"), price_include=False)
        vat0 = env.create("sale.tax", code="VAT0", name="VAT 0%", rate=D("0"), price_include=False)
        term = env.create("sale.payment_term", code="NET30", name="Net 30 days")
        env.create("sale.payment_term.line", term_id=term.id, sequence=10, percent=D("100"), days=30)
        products = [
            env.create("sale.product", sku=f"P{i}", name=f"Product {i}", unit="pcs",
                       list_price=D(price), cost=D(price) * D("0.6"), tax_id=vat.id)
            for i, price in enumerate(["100.00", "25.50", "1999.99"], start=1)
        ]
        products.append(env.create("sale.product", sku="P0", name="Product 0 (no VAT)", unit="pcs",
                                   list_price=D("100.00"), cost=D("60"), tax_id=vat0.id))
        c1 = env.create("sale.customer", code="C001", name="上海华东贸易有限公司", name_key="上海华东贸易",
                        tax_id="91310000MA1FL0001X", region="East", tier="key",
                        salesperson_id=users.sp["sp1"], payment_term_id=term.id, credit_grade="B")
        c2 = env.create("sale.customer", code="C002", name="Northwind Traders", name_key="northwind traders",
                        tax_id="91110000MA1FL0002Y", region="North", tier="normal",
                        salesperson_id=users.sp["sp2"], payment_term_id=term.id, credit_grade="A")
        c3 = env.create("sale.customer", code="C003", name="Contoso", name_key="contoso",
                        tax_id="91110000MA1FL0003Z", region="North", tier="normal",
                        salesperson_id=users.sp["cm_sp"], payment_term_id=term.id, credit_grade="C")
        return SimpleNamespace(tax_id=vat.id, vat0_id=vat0.id, term_id=term.id,
                               product_ids=[p.id for p in products], c1=c1.id, c2=c2.id, c3=c3.id)


@pytest.fixture
def api(sf, users, make_client):
    """A Flask test client and an auth header per login: ``api.client``, ``api.h("cm")``."""
    client = make_client(sf)
    cache: dict[str, dict[str, str]] = {}

    def headers(login: str, **extra: str) -> dict[str, str]:
        if login not in cache:
            cache[login] = token_for(sf, login)
        return {**cache[login], **extra}

    return SimpleNamespace(client=client, h=headers)


@pytest.fixture
def svc(sf):
    """Services as the app imports them: ``svc.order``, ``svc.shipment`` (sale) and
    ``svc.credit`` (sale_credit.services.credit)."""
    return SimpleNamespace(order=importlib.import_module("sale.services.order"),
                           shipment=importlib.import_module("sale.services.shipment"),
                           credit=importlib.import_module("sale_credit.services.credit"))


@pytest.fixture
def acc(sf):
    """The invoicing services: ``acc.invoice``, ``acc.payment``, ``acc.journal``,
    ``acc.receivables``."""
    return SimpleNamespace(**{name: importlib.import_module(f"sale.services.{name}")
                              for name in ("invoice", "payment", "journal", "receivables")})


@pytest.fixture
def make_order(sf, master, svc):
    """Create a draft order as ``user`` (default: the customer's salesperson) and return its id.

        make_order(lines=[(product_index, qty, price)], customer=master.c2)

    Product index 3 is P0 (100.00, no VAT): ``lines=[(3, "1", None)]`` totals exactly 100.00.
    """
    owners = {master.c1: "sp1", master.c2: "sp2", master.c3: "cm_sp"}

    def create(user: str | None = None, *, lines=None, customer: int | None = None, **values) -> int:
        customer = customer or master.c1
        user = user or owners.get(customer, "sp1")
        specs = []
        for item in lines or [(0, "2", None)]:
            if isinstance(item, dict):
                specs.append(item)
            else:
                index, qty, price = item
                specs.append({"product_id": master.product_ids[index], "quantity": D(qty),
                              "unit_price": None if price is None else D(price)})
        with sf.transaction(user) as env:
            return svc.order.create_order(env, customer_id=customer, lines=specs, **values).id

    create.owners = owners
    return create


@pytest.fixture
def flow(sf, master, svc, make_order, acc):
    """Orders through their life, each step in its own transaction as the right user.

        oid = flow.order(lines=[(0, "10", None)], ship={0: "4"})   # approved, 4 of line 0 shipped
        iid = flow.invoice(oid, date=dt.date(2026, 1, 5))          # created and posted (finance)
        pid = flow.pay(master.c1, "100.00", allocations=[...])     # registered (finance)
    """

    def order(lines=None, *, customer=None, user=None, ship="all", **values) -> int:
        customer = customer or master.c1
        user = user or make_order.owners.get(customer, "sp1")
        oid = make_order(user, lines=lines, customer=customer, **values)
        with sf.transaction(user) as env:
            env.get("sale.order", oid).fire("approve")
        if ship is not None:
            with sf.transaction("warehouse") as env:
                o = svc.order.get_order(env, oid)
                qty = None if ship == "all" else {o.lines[i].id: D(q) for i, q in ship.items()}
                svc.shipment.record_shipment(env, o, qty)
        return oid

    def invoice(oid, *, post=True, date=None) -> int:
        with sf.transaction("finance") as env:
            inv = acc.invoice.create_invoice(env, oid)
            if post:
                acc.invoice.post_invoice(env, inv, date=date)
            return inv.id

    def pay(customer, amount, *, method="bank_transfer", date=None, allocations=None,
            reference=None) -> int:
        with sf.transaction("finance") as env:
            return acc.payment.register_payment(
                env, customer_id=customer, amount=D(amount), method=method, date=date,
                reference=reference, allocations=allocations).id

    def state(record, ident):
        with sf.transaction() as env:
            return env.get(record, ident).state

    return SimpleNamespace(order=order, invoice=invoice, pay=pay, state=state)


@pytest.fixture
def exposure(sf):
    """``exposure(customer_id)``: the maintained exposure parts of a customer, as a dict."""

    def read(customer_id: int) -> dict[str, Decimal]:
        credit = importlib.import_module("sale_credit.services.credit")
        with sf.transaction() as env:
            return credit.exposure_parts(env, customer_id)

    return read


@pytest.fixture
def order_of_total():
    """``order_of_total("150000")``: ``make_order`` lines whose total (13 % VAT added) is that."""

    def lines(total: str) -> list[tuple[int, str, str]]:
        return [(0, "1", str((D(total) / D("1.13")).quantize(D("0.000001"))))]

    return lines


@pytest.fixture
def decisions(sf):
    """``decisions(order_id=..., customer_id=...)``: the credit decisions as dicts, oldest first."""
    from sqlalchemy import select

    def read(order_id=None, customer_id=None) -> list[dict]:
        with sf.transaction() as env:
            Dec = env["sale.credit.decision"]
            stmt = select(Dec).order_by(Dec.id)
            if order_id is not None:
                stmt = stmt.where(Dec.order_id == order_id)
            if customer_id is not None:
                stmt = stmt.where(Dec.customer_id == customer_id)
            return [{c.key: getattr(d, c.key) for c in Dec.__table__.columns}
                    for d in env.session.scalars(stmt)]

    return read


@pytest.fixture
def profile(sf, svc):
    """``profile(customer_id, **changes)``: change a credit profile as the system (holds with
    ``credit_hold=True, credit_hold_reason=...``)."""

    def change(customer_id: int, **values) -> None:
        with sf.transaction() as env:
            customer = env.get("sale.customer", customer_id)
            for key, value in values.items():
                setattr(customer, key, value)

    return change


# -- core credit tests add fixtures above; collections tests add theirs below ----------------


# -- collections (test_dunning, test_outbox, test_discount, test_collections, ---------------------
# -- test_api_collections, test_cli_collections) --------------------------------------------------


class FakeSMTPServer:
    """A tiny threaded SMTP server on 127.0.0.1 (an ephemeral port) that keeps what it
    receives: ``messages`` (``email.message.EmailMessage``, parsed), ``rcpts`` per message.
    ``fail_data = n`` answers the next n DATA commands with ``451`` (a temporary failure)."""

    def __init__(self):
        import socketserver
        import threading

        server = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self):
                self.reply("220 fake ESMTP")
                rcpts: list[str] = []
                while True:
                    raw = self.rfile.readline()
                    if not raw:
                        return
                    cmd = raw.decode("utf-8", "replace").strip()
                    verb = cmd.split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250-fake\r\n250 8BITMIME" if verb == "EHLO" else "250 fake")
                    elif verb == "MAIL":
                        rcpts = []
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        rcpts.append(cmd.split(":", 1)[1].strip().strip("<>"))
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 end with .")
                        data = bytearray()
                        while True:
                            line = self.rfile.readline()
                            if not line or line in (b".\r\n", b".\n"):
                                break
                            data += line[1:] if line.startswith(b"..") else line
                        with server.lock:
                            if server.fail_data > 0:
                                server.fail_data -= 1
                                self.reply("451 try again later")
                                continue
                            import email
                            import email.policy

                            server.messages.append(email.message_from_bytes(
                                bytes(data), policy=email.policy.default))
                            server.rcpts.append(list(rcpts))
                        self.reply("250 queued")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    elif verb in ("RSET", "NOOP"):
                        self.reply("250 OK")
                    else:
                        self.reply("502 not implemented")

        class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.lock = threading.Lock()
        self.messages: list = []
        self.rcpts: list[list[str]] = []
        self.fail_data = 0
        self._server = Server(("127.0.0.1", 0), Handler)
        self.host, self.port = self._server.server_address
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def outbox_ids(self) -> list[int]:
        return [int(m["X-Salesflow-Outbox-Id"]) for m in self.messages]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def fake_smtp():
    server = FakeSMTPServer()
    yield server
    server.close()


@pytest.fixture
def smtp_settings(fake_smtp):
    """``[addon.sale_credit.smtp]`` pointing at ``fake_smtp``; use in a module's override:

        @pytest.fixture
        def credit_settings(credit_settings, smtp_settings):
            return {**credit_settings, "smtp": smtp_settings}
    """
    return {"host": fake_smtp.host, "port": fake_smtp.port, "sender": "ar@example.com",
            "timeout": 5}


@pytest.fixture
def coll(sf):
    """The collections services as the app imports them: ``coll.dunning``, ``coll.outbox``,
    ``coll.discount``, ``coll.collections``, ``coll.letters``."""
    return SimpleNamespace(**{name: importlib.import_module(f"sale_credit.services.{name}")
                              for name in ("dunning", "outbox", "discount", "collections",
                                           "letters")})


@pytest.fixture
def dunning_data(sf, master, flow, coll):
    """Two posted invoices dated 2026-01-05 (due 2026-02-04, NET30): ``inv1`` of c1
    (zh_CN, contact with e-mail, 1,130.00) and ``inv2`` of c2 (en, no e-mail, 2,260.00)."""
    import datetime as dt

    with sf.transaction() as env:
        env.write(env.get("sale.customer", master.c2), lang="en")
        env.create("sale.customer.contact", customer_id=master.c1, name="王会计",
                   email="ap@huadong.example.cn")
        env.create("sale.customer.contact", customer_id=master.c1, name="李经理", phone="13800138000")
        env.create("sale.customer.contact", customer_id=master.c2, name="Bob", phone="555 0101")
    inv1 = flow.invoice(flow.order(lines=[(0, "10", None)]), date=dt.date(2026, 1, 5))
    inv2 = flow.invoice(flow.order(lines=[(0, "20", None)], customer=master.c2),
                        date=dt.date(2026, 1, 5))
    return SimpleNamespace(inv1=inv1, inv2=inv2)


@pytest.fixture
def web(sf, users, master, make_client):
    """A signed-in test client per login: ``web("sp1").get(...)``."""
    from core.web.testing import web_login

    clients = {}

    def client(login: str):
        if login not in clients:
            clients[login] = make_client(sf)
            assert web_login(clients[login], login).status_code == 302
        return clients[login]

    return client
