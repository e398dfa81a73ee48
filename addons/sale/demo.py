"""Demo data of the sale addon (``salesflow demo``): a small trading company's last six months.

* users (password ``salesflow-demo``): ``admin`` (admin), ``sp1`` and ``sp2`` (salespersons),
  ``manager`` (sales manager, also looks after the key accounts), ``director``, ``finance``,
  ``warehouse``; one sales team;
* the default taxes, currency, payment terms and chart of accounts (``ensure_defaults``,
  ``ensure_accounts``);
* 40 customers (Chinese and English names; regions 华东, 华北, 华南, 华中, 西南, 西北, 东北 and
  West, East, North, South; key and normal tiers), 30 products;
* about 300 orders over the last six months in every state: quotations (some expired),
  approved, partially and fully shipped, invoiced (some overdue, some partly paid), paid and
  cancelled; a few large orders went through the manager's and the director's approval.

Everything goes through the services (orders, shipments, invoices, payments), so totals, the
quantity ledger, the journal and the receivables are what real use would give. Dates are
relative to today; the same seed gives the same company. It runs as the system (``env.user`` is
None), which passes role checks but not approval levels: for the large orders the levels are
recorded as given by the demo manager and director, with the order's fingerprint, before
``approve`` is fired.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.plugins import hookimpl

PASSWORD = "salesflow-demo"
ORDERS = 300
DAYS = 182
#: normal orders stay below this total (the first approval threshold of config/default.toml)
NORMAL_CAP = Decimal("85000")
VAT = Decimal("1.13")

#: login, name, roles
USERS = [
    ("admin", "Administrator 管理员", ("admin",)),
    ("sp1", "王芳 Wang Fang", ("salesperson",)),
    ("sp2", "Li Lei 李雷", ("salesperson",)),
    ("manager", "张伟 Zhang Wei", ("sales_manager",)),
    ("director", "陈静 Chen Jing", ("director",)),
    ("finance", "刘洋 Liu Yang", ("finance",)),
    ("warehouse", "赵强 Zhao Qiang", ("warehouse",)),
]

#: name, region, city, category, industry
CUSTOMERS = [
    ("上海申通机电设备有限公司", "华东", "上海", "distributor", "machinery"),
    ("杭州西湖电子科技有限公司", "华东", "杭州", "oem", "electronics"),
    ("南京金陵五金制品有限公司", "华东", "南京", "distributor", "hardware"),
    ("苏州恒达自动化有限公司", "华东", "苏州", "oem", "automation"),
    ("宁波港城进出口有限公司", "华东", "宁波", "distributor", "trading"),
    ("合肥科大智能装备有限公司", "华东", "合肥", "end_user", "machinery"),
    ("青岛海湾物流有限公司", "华东", "青岛", "end_user", "logistics"),
    ("济南泉城仪器仪表有限公司", "华东", "济南", "oem", "instruments"),
    ("厦门鹭岛贸易有限公司", "华东", "厦门", "distributor", "trading"),
    ("北京中关村信息技术有限公司", "华北", "北京", "project", "electronics"),
    ("天津滨海精密机械有限公司", "华北", "天津", "oem", "machinery"),
    ("石家庄华北建材有限公司", "华北", "石家庄", "end_user", "construction"),
    ("太原晋能电气有限公司", "华北", "太原", "project", "energy"),
    ("呼和浩特草原乳业机械有限公司", "华北", "呼和浩特", "end_user", "food"),
    ("广州珠江实业有限公司", "华南", "广州", "distributor", "trading"),
    ("深圳南山创新电子有限公司", "华南", "深圳", "oem", "electronics"),
    ("东莞长安模具有限公司", "华南", "东莞", "oem", "machinery"),
    ("佛山顺德家电配件有限公司", "华南", "佛山", "oem", "appliances"),
    ("南宁绿城贸易有限公司", "华南", "南宁", "distributor", "trading"),
    ("武汉光谷激光技术有限公司", "华中", "武汉", "oem", "electronics"),
    ("长沙湘江工程机械有限公司", "华中", "长沙", "end_user", "construction"),
    ("郑州中原轴承有限公司", "华中", "郑州", "distributor", "hardware"),
    ("成都天府软件有限公司", "西南", "成都", "project", "electronics"),
    ("重庆两江汽车零部件有限公司", "西南", "重庆", "oem", "automotive"),
    ("昆明春城农业科技有限公司", "西南", "昆明", "end_user", "food"),
    ("西安古城航空配件有限公司", "西北", "西安", "oem", "aerospace"),
    ("沈阳北方重工设备有限公司", "东北", "沈阳", "end_user", "machinery"),
    ("大连星海船舶配套有限公司", "东北", "大连", "project", "shipbuilding"),
    ("Northwind Traders Ltd.", "West", "Chengdu", "distributor", "trading"),
    ("Contoso Electronics (Suzhou) Co., Ltd.", "East", "Suzhou", "oem", "electronics"),
    ("Fabrikam Industries", "North", "Tianjin", "end_user", "machinery"),
    ("Adventure Works Cycles", "West", "Chongqing", "oem", "automotive"),
    ("Tailspin Toys Co.", "South", "Shenzhen", "oem", "consumer goods"),
    ("Wide World Importers", "East", "Shanghai", "distributor", "trading"),
    ("Litware Inc.", "North", "Beijing", "project", "electronics"),
    ("Proseware Ltd.", "South", "Guangzhou", "project", "electronics"),
    ("Blue Yonder Airlines", "West", "Xi'an", "end_user", "aerospace"),
    ("Coho Winery", "West", "Yinchuan", "end_user", "food"),
    ("Alpine Ski House", "North", "Harbin", "end_user", "retail"),
    ("Lucerne Publishing", "East", "Hangzhou", "end_user", "media"),
]
#: indexes of the key accounts (looked after by the manager)
KEY_ACCOUNTS = (0, 3, 9, 15, 20, 23, 29, 33)
SP1_REGIONS = ("华东", "华中", "East", "South")

#: sku, name, unit, list price (VAT 13 % excluded)
PRODUCTS = [
    ("SRV-750", "伺服电机 750W / Servo motor 750 W", "pcs", "1280.00"),
    ("SRV-1500", "伺服电机 1.5kW / Servo motor 1.5 kW", "pcs", "2350.00"),
    ("PLC-CPU", "可编程控制器 / PLC CPU module", "pcs", "3680.00"),
    ("HMI-7", "触摸屏 7寸 / HMI touch panel 7\"", "pcs", "1450.00"),
    ("VFD-2K2", "变频器 2.2kW / Frequency inverter 2.2 kW", "pcs", "1680.00"),
    ("SNS-PX", "接近开关 / Proximity sensor", "pcs", "68.00"),
    ("SNS-PE", "光电传感器 / Photoelectric sensor", "pcs", "125.00"),
    ("CBL-ENC5", "编码器电缆 5米 / Encoder cable 5 m", "pcs", "85.00"),
    ("CBL-PWR", "电源线 100米 / Power cable, 100 m roll", "roll", "960.00"),
    ("BRG-6205", "深沟球轴承 6205 / Ball bearing 6205", "pcs", "18.50"),
    ("BRG-UCP", "带座轴承 / Pillow block bearing", "pcs", "96.00"),
    ("GBX-60", "行星减速机 / Planetary gearbox", "pcs", "1890.00"),
    ("CYL-50", "气缸 50mm / Pneumatic cylinder 50 mm", "pcs", "265.00"),
    ("VLV-SOL", "电磁阀 / Solenoid valve", "pcs", "188.00"),
    ("FRL-12", "气源处理三联件 / Filter-regulator-lubricator", "pcs", "320.00"),
    ("RLY-24", "中间继电器 24V / Relay 24 V", "pcs", "22.00"),
    ("CB-32A", "断路器 32A / Circuit breaker 32 A", "pcs", "46.00"),
    ("CTR-40A", "交流接触器 40A / AC contactor 40 A", "pcs", "158.00"),
    ("PSU-24", "开关电源 24V 10A / Power supply 24 V 10 A", "pcs", "210.00"),
    ("CAB-800", "控制柜 / Control cabinet", "set", "4200.00"),
    ("LGT-LED", "LED工作灯 / LED machine light", "pcs", "75.00"),
    ("TOOL-KIT", "维修工具套装 / Maintenance tool kit", "set", "560.00"),
    ("GLV-NIT", "丁腈手套 / Nitrile gloves, box of 100", "box", "38.00"),
    ("LUB-GR", "润滑脂 / Grease", "kg", "55.00"),
    ("BLT-V", "三角带 / V-belt", "pcs", "32.00"),
    ("CHN-08B", "滚子链 08B / Roller chain 08B", "m", "28.00"),
    ("SVC-INST", "安装调试服务 / Installation and commissioning", "day", "800.00"),
    ("SVC-TRN", "操作培训 / Operator training", "day", "1500.00"),
    ("ROB-ARM", "协作机器人 / Collaborative robot arm", "set", "128000.00"),
    ("AGV-300", "自动导引车 300kg / AGV 300 kg", "set", "86000.00"),
]
#: products of the large orders only
BIG_PRODUCTS = ("ROB-ARM", "AGV-300")

#: what happens to an order, by its age in days: (max age, [(outcome, weight)])
OUTCOMES = [
    (3, [("draft", 50), ("approved", 30), ("partial", 10), ("cancel_draft", 10)]),
    (14, [("draft", 15), ("approved", 20), ("partial", 15), ("shipped", 20), ("invoiced", 20),
          ("paid", 5), ("cancel_draft", 5)]),
    (45, [("draft", 8), ("approved", 7), ("partial", 10), ("shipped", 10), ("invoiced", 25),
          ("part_paid", 5), ("paid", 30), ("cancel_draft", 3), ("cancel_approved", 2)]),
    (DAYS, [("draft", 4), ("partial", 3), ("shipped", 3), ("invoiced", 12), ("part_paid", 6),
            ("paid", 67), ("cancel_draft", 3), ("cancel_approved", 2)]),
]
#: (age in days, [(sku, quantity)], outcome): orders over the approval thresholds
BIG_ORDERS = [
    (150, [("ROB-ARM", 5), ("SVC-INST", 10), ("SVC-TRN", 4)], "paid"),  # manager + director
    (120, [("AGV-300", 2), ("CAB-800", 2)], "paid"),  # manager
    (75, [("ROB-ARM", 3), ("AGV-300", 2), ("SVC-INST", 6)], "invoiced"),  # manager + director
    (40, [("AGV-300", 1), ("ROB-ARM", 1)], "shipped"),  # manager
    (20, [("ROB-ARM", 3), ("PLC-CPU", 4), ("HMI-7", 4)], "approved"),  # manager
]
CANCEL_REASONS = ["客户取消项目 / project cancelled by the customer", "价格未谈拢 / no agreement on price",
                  "重复下单 / duplicate order", "customer chose another supplier"]
METHODS = ["bank_transfer"] * 6 + ["electronic"] * 2 + ["cheque", "cash"]


@dataclass
class Plan:
    """One demo order: what it is and what happens to it, when."""

    seq: int
    customer_id: int
    date_order: dt.date
    lines: list[dict[str, Any]]
    outcome: str
    big: bool = False
    events: list[tuple[dt.date, int, str]] = field(default_factory=list)
    order_id: int | None = None
    invoice_id: int | None = None


# event kinds in the order they happen on one day
CREATE, APPROVE, CANCEL, SHIP_PART, SHIP_REST, INVOICE, PAY = range(7)


@hookimpl
def demo_data(env, rng):
    """Fill a fresh database with the demo company (see the module docstring)."""
    from .services.journal import ensure_accounts
    from .services.masterdata import ensure_defaults

    today = env.today()
    defaults = ensure_defaults(env)
    ensure_accounts(env)
    users = _users(env)
    salespersons = _team(env, users)
    customers = _customers(env, rng, defaults["terms"], salespersons)
    products = _products(env, defaults["taxes"])
    plans = _plans(rng, today, customers, products)
    # role -> ids of the demo users holding it, to record approval levels
    approvers: dict[str, list[int]] = {}
    for login, _name, roles in USERS:
        for role in roles:
            approvers.setdefault(role, []).append(users[login].id)
    _run(env, rng, today, plans, approvers)


# -- master data -----------------------------------------------------------------------------


def _users(env) -> dict[str, Any]:
    User, Role = env["res.user"], env["res.user_role"]
    users = {}
    shared_hash = None
    for login, name, roles in USERS:
        user = User(login=login, name=name, email=f"{login}@demo.salesflow.local")
        if shared_hash is None:
            user.set_password(PASSWORD)
            shared_hash = user.password_hash
        else:  # one (slow by design) hash of the one demo password serves every demo user
            user.password_hash = shared_hash
        user.role_links = [Role(role=r) for r in roles if r in env.sf.security.roles or r == "admin"]
        env.session.add(user)
        users[login] = user
    env.session.flush()
    return users


def _team(env, users) -> dict[str, Any]:
    from .services.partner import create_salesperson, create_team

    team = create_team(env, code="SALES1", name="销售一部 / Sales team 1",
                       manager_user_id=users["manager"].id)
    return {login: create_salesperson(env, user_id=users[login].id, team_id=team.id)
            for login in ("sp1", "sp2", "manager")}


def _customers(env, rng, terms, salespersons) -> list:
    from .services.partner import create_customer

    customers = []
    for index, (name, region, city, category, industry) in enumerate(CUSTOMERS):
        chinese = not name.isascii()
        key = index in KEY_ACCOUNTS
        if key:
            owner = salespersons["manager"]
        else:
            owner = salespersons["sp1" if region in SP1_REGIONS else "sp2"]
        term = terms["NET60"] if key else (terms["INST2"] if index % 9 == 4 else terms["NET30"])
        phone = f"1{rng.choice('3589')}{rng.randrange(10 ** 8, 10 ** 9)}"
        contact = (rng.choice("王李张刘陈杨赵黄周吴") + rng.choice(["经理", "总", "工", "女士", "先生"])
                   if chinese else rng.choice(["Anna", "Ben", "Chloe", "David", "Emma", "Frank"])
                   + " " + rng.choice(["Smith", "Chen", "Miller", "Wong", "Brown", "Lee"]))
        values = {
            "code": f"C{index + 1:04d}",
            "name": name,
            "tax_id": f"91{rng.randrange(10 ** 15, 10 ** 16)}{rng.choice('ABCDEFGHJKLMNPQRTUWXY')}"
            if chinese else None,
            "region": region,
            "category": category,
            "industry": industry,
            "tier": "key" if key else "normal",
            "salesperson_id": owner.id,
            "payment_term_id": term.id,
            "lang": "zh_CN" if chinese else "en",
            "contacts": [{"name": contact, "phone": phone,
                          "email": f"sales{index + 1}@customer{index + 1}.example.com"}],
            "addresses": [{"kind": "billing", "street": f"{rng.randint(1, 999)}号 工业路"
                           if chinese else f"{rng.randint(1, 999)} Industrial Road",
                           "city": city, "region": region,
                           "postcode": f"{rng.randint(100000, 850000)}", "country": "CN"}],
        }
        customers.append(create_customer(env, values, force=True))
    return customers


def _products(env, taxes) -> dict[str, Any]:
    from .services.masterdata import create_product

    vat = taxes["VAT13"]
    return {
        sku: create_product(env, sku=sku, name=name, unit=unit, list_price=Decimal(price),
                            cost=(Decimal(price) * Decimal("0.62")).quantize(Decimal("0.01")),
                            tax_id=vat.id)
        for sku, name, unit, price in PRODUCTS
    }


# -- orders ----------------------------------------------------------------------------------


def _pick(rng, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([name for name, _ in weighted], weights=[w for _, w in weighted])[0]


def _outcome(rng, age: int) -> str:
    for max_age, weighted in OUTCOMES:
        if age <= max_age:
            return _pick(rng, weighted)
    return "paid"


def _normal_lines(rng, products) -> list[dict[str, Any]]:
    catalogue = [p for sku, p in products.items() if sku not in BIG_PRODUCTS]
    chosen = rng.sample(catalogue, rng.choice([1, 1, 2, 2, 3, 3, 4, 5]))
    lines = []
    for product in chosen:
        price = Decimal(product.list_price)
        if price < 100:
            qty = rng.choice([10, 20, 24, 50, 60, 100, 120, 200])
        elif price < 1000:
            qty = rng.randint(2, 30)
        else:
            qty = rng.randint(1, 8)
        discount = rng.choice([0] * 8 + [5, 10])
        lines.append({"product_id": product.id, "quantity": Decimal(qty),
                      "discount": Decimal(discount), "_price": price})
    # keep normal orders below the first approval level
    while _estimate(lines) > NORMAL_CAP:
        biggest = max(lines, key=lambda ln: ln["quantity"] * ln["_price"])
        biggest["quantity"] = max(Decimal(1), (biggest["quantity"] / 2).to_integral_value())
    for line in lines:
        del line["_price"]
    return lines


def _estimate(lines) -> Decimal:
    return sum((ln["quantity"] * ln["_price"] * (100 - ln["discount"]) / 100 for ln in lines),
               Decimal(0)) * VAT


def _plans(rng, today, customers, products) -> list[Plan]:
    weights = [3 if c.tier == "key" else 1 for c in customers]
    ids = [c.id for c in customers]
    plans = []
    for _ in range(ORDERS - len(BIG_ORDERS)):
        age = min(DAYS, int(rng.triangular(0, DAYS, DAYS * 0.35)))
        customer = rng.choices(ids, weights=weights)[0]
        plans.append(Plan(0, customer, today - dt.timedelta(days=age), _normal_lines(rng, products),
                          _outcome(rng, age)))
    key_accounts = [c.id for c in customers if c.tier == "key"]
    for i, (age, items, outcome) in enumerate(BIG_ORDERS):
        lines = [{"product_id": products[sku].id, "quantity": Decimal(qty)} for sku, qty in items]
        plans.append(Plan(0, key_accounts[i % len(key_accounts)], today - dt.timedelta(days=age),
                          lines, outcome, big=True))
    plans.sort(key=lambda p: (p.date_order, p.customer_id))
    for seq, plan in enumerate(plans):
        plan.seq = seq
        plan.events = _events(rng, today, plan)
    return plans


def _events(rng, today, plan: Plan) -> list[tuple[dt.date, int, str]]:
    """Dates of what happens to the order, never after today, each on or after the one before."""
    day = plan.date_order

    def later(low: int, high: int) -> dt.date:
        nonlocal day
        day = min(today, day + dt.timedelta(days=rng.randint(low, high)))
        return day

    out = [(day, CREATE, "create")]
    outcome = plan.outcome
    if outcome in ("draft", "cancel_draft"):
        if outcome == "cancel_draft":
            out.append((later(1, 10), CANCEL, "cancel"))
        return out
    out.append((later(0, 2), APPROVE, "approve"))
    if outcome == "approved":
        return out
    if outcome == "cancel_approved":
        out.append((later(1, 7), CANCEL, "cancel"))
        return out
    if outcome == "partial" or rng.random() < 0.25:  # some full deliveries come in two parts
        out.append((later(1, 6), SHIP_PART, "ship_part"))
    if outcome == "partial":
        return out
    out.append((later(1, 8), SHIP_REST, "ship_rest"))
    if outcome == "shipped":
        return out
    out.append((later(0, 3), INVOICE, "invoice"))
    if outcome == "invoiced":
        return out
    # paid or part paid: customers pay 5 to 70 days after the invoice
    out.append((later(5, 70), PAY, "pay"))
    return out


def _run(env, rng, today, plans: list[Plan], approvers: dict[str, list[int]]) -> None:
    from .services.invoice import create_invoice, post_invoice
    from .services.order import cancel_order, create_order
    from .services.payment import register_payment
    from .services.shipment import record_shipment

    Order, Invoice = env["sale.order"], env["sale.invoice"]
    session = env.session
    events = sorted(((date, kind, plan.seq) for plan in plans for date, kind, _ in plan.events))
    for number, (date, kind, seq) in enumerate(events):
        if number % 200 == 0:
            # one long transaction: keep the session small (every flush looks at every object
            # it holds), the rows are in the database already
            session.flush()
            session.expunge_all()
        plan = plans[seq]
        order = session.get(Order, plan.order_id) if plan.order_id is not None else None
        if kind == CREATE:
            order = create_order(env, customer_id=plan.customer_id, lines=plan.lines,
                                 date_order=plan.date_order,
                                 validity_date=plan.date_order + dt.timedelta(days=30),
                                 note="大单 / large order" if plan.big else None)
            plan.order_id = order.id
        elif kind == APPROVE:
            _approve(env, order, today, approvers, big=plan.big)
        elif kind == CANCEL:
            cancel_order(env, order, rng.choice(CANCEL_REASONS))
        elif kind == SHIP_PART:
            lines = order.load_lines()
            part = {ln.id: max(Decimal(1), (ln.quantity / 2).to_integral_value())
                    for ln in lines if ln.quantity >= 2}
            if not part:
                part = {lines[0].id: lines[0].quantity / 2}
            record_shipment(env, order, quantities=part, date=date, reference=f"DN-{seq + 1:05d}A")
        elif kind == SHIP_REST:
            record_shipment(env, order, date=date, reference=f"DN-{seq + 1:05d}")
        elif kind == INVOICE:
            invoice = create_invoice(env, order, date=date)
            post_invoice(env, invoice)
            plan.invoice_id = invoice.id
        elif kind == PAY:
            invoice = session.get(Invoice, plan.invoice_id)
            amount = Decimal(invoice.amount_residual)
            if plan.outcome == "part_paid":
                amount = (amount * Decimal(rng.choice([30, 40, 50, 60])) / 100).quantize(Decimal("0.01"))
            register_payment(env, customer_id=order.customer_id, amount=amount,
                             method=rng.choice(METHODS), date=date, reference=f"BANK-{seq + 1:05d}",
                             allocations=[{"invoice_id": invoice.id, "amount": amount}])
    session.flush()


def _approve(env, order, today, approvers, *, big: bool) -> None:
    """Fire ``approve`` as the system. A large order first gets the approval levels it needs,
    given by the demo manager and director (one level each). A quotation past its validity
    is approved as it was then: its validity date is moved to today for the approval only."""
    validity = order.validity_date
    if validity < today:
        order.validity_date = max(today, order.date_order)
        env.session.flush()
    if big:
        _give_levels(env, order, approvers)
    outcome = order.fire("approve")
    if not outcome.done:  # pragma: no cover - the demo data is wrong
        raise RuntimeError(f"demo order {order.number} not approved: {outcome.approvals_pending}")
    if order.validity_date != validity:
        order.validity_date = validity
        env.session.flush()


def _give_levels(env, order, approvers: dict[str, list[int]]) -> None:
    """Record the approval levels ``order`` needs under the client's ``[[approvals]]`` rule,
    each by a different demo user holding the level's role, with the order's fingerprint."""
    rule = env.sf.workflows["sale.order"].approval
    if rule is None or rule.trigger != "approve":
        return
    amount = Decimal(getattr(order, rule.amount_field) or 0)
    order.load_lines()
    fingerprint = env.hook.approval_fingerprint(record=order, env=env)
    Approval = env["approval"]
    given_by: set[int] = set()
    for index, level in enumerate(rule.levels):
        if amount <= level.over:
            continue
        user_id = next((u for u in approvers.get(level.role, []) if u not in given_by), None)
        if user_id is None:
            raise RuntimeError(f"demo: no other demo user holds the approval role {level.role!r}")
        given_by.add(user_id)
        env.session.add(Approval(record="sale.order", record_id=order.id, trigger=rule.trigger,
                                 level=index + 1, role=level.role, user_id=user_id, amount=amount,
                                 fingerprint=fingerprint, comment="demo: approved"))
    env.session.flush()
