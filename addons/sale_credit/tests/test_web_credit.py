"""sale_credit's web pages (each test on SQLite and PostgreSQL): the credit panel on sale's
customer page, the decision panel on the order page, the credit review queue, the exposure
and over-limit lists, the credit profile form and dunning runs."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.web.testing import post_form, web_login

pytestmark = pytest.mark.usefixtures("fast_passwords")

D = Decimal


def _html(client, path: str) -> str:
    resp = client.get(path)
    assert resp.status_code == 200, (path, resp.status_code)
    return resp.get_data(as_text=True)


def _figure(html: str, ident: str) -> str:
    """The text of the element ``id="<ident>"`` (tags stripped)."""
    match = re.search(rf'id="{re.escape(ident)}">(.*?)</(?:td|dd|p)>', html, re.S)
    assert match, f"no {ident} on the page"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def _audit(sf, customer_id: int) -> list[dict]:
    with sf.transaction() as env:
        return env.sf.audit.history(env, "sale.customer", customer_id)


def test_credit_panel_shows_the_exposure_and_is_only_for_credit_readers(sf, master, users, flow, web):
    flow.order(lines=[(0, "10", None)], ship={0: "4"})  # 1,130.00: 452.00 shipped, 678.00 not
    flow.invoice(flow.order(lines=[(0, "10", None)]))  # 1,130.00 posted, unpaid
    path = f"/r/sale.customer/{master.c1}"

    sp1 = web("sp1")  # the customer's salesperson reads its credit figures
    html = _html(sp1, path)
    assert 'id="panel-sale_credit"' in html
    assert _figure(html, "credit-receivable") == "CN¥1,130.00"
    assert _figure(html, "credit-shipped_uninvoiced") == "CN¥452.00"
    assert _figure(html, "credit-approved_unshipped") == "CN¥678.00"
    assert _figure(html, "credit-exposure") == "CN¥2,260.00"
    assert _figure(html, "credit-limit") == "CN¥100,000.00 (grade default)"
    assert _figure(html, "credit-available") == "CN¥97,740.00"
    assert _figure(html, "credit-grade") == "B"
    assert _figure(html, "credit-hold") == "no"
    assert _figure(html, "credit-overdue-count") == "0"
    assert "Change credit profile" not in html  # not a credit manager
    # ... but not another salesperson's customer, nor the credit manager's pages
    assert sp1.get(f"/r/sale.customer/{master.c2}").status_code == 404
    for page in ("/sale/credit/reviews", "/sale/credit/exposure", "/sale/credit/over-limit",
                 f"/sale/credit/customers/{master.c1}/profile", "/sale/credit/dunning"):
        assert sp1.get(page).status_code == 403, page
    assert "Credit review" not in _html(sp1, "/r/sale.customer")  # no menu entry

    html = _html(web("cm"), path)
    assert _figure(html, "credit-exposure") == "CN¥2,260.00" and "Change credit profile" in html

    html = _html(web("warehouse"), path)  # reads customers, not credit data: no panel
    assert "Northwind" not in html and 'id="panel-sale_credit"' not in html and "上海华东贸易" in html

    # the exposure list shows the same figures; nobody is over limit or on hold yet
    html = _html(web("cm"), "/sale/credit/exposure?q=C001")
    row = html[html.index(f'id="exposure-{master.c1}"'):]
    row = row[:row.index("</tr>")]
    assert all(f in row for f in ("CN¥1,130.00", "CN¥452.00", "CN¥678.00", "CN¥2,260.00",
                                  "CN¥97,740.00"))
    assert f'id="exposure-{master.c1}"' not in _html(web("cm"), "/sale/credit/over-limit")
    assert web("cm").get("/sale/credit/exposure?sort=secret").status_code == 400
    assert web("cm").get("/sale/credit/exposure?color=red").status_code == 400

    with sf.transaction() as env:  # Chinese labels (glossary terms)
        User = env["res.user"]
        env.session.scalars(select(User).where(User.login == "cm")).one().lang = "zh_CN"
    html = _html(web("cm"), path)
    assert "信用额度" in html and "信用等级" in html and "信用占用" in html and "信用审核" in html
    assert "可用额度" in html and "催款" in html


def test_credit_manager_releases_an_order_from_the_review_queue(sf, master, users, make_order,
                                                               profile, flow, web):
    profile(master.c1, credit_limit=D("500"))
    oid = make_order("sp1", lines=[(0, "10", None)])  # 1,130.00 > 500.00
    sp1 = web("sp1")
    order_page = f"/r/sale.order/{oid}"
    resp = post_form(sp1, f"{order_page}/fire/approve", form_page=order_page)
    assert resp.status_code == 302
    assert flow.state("sale.order", oid) == "credit_review"

    # the salesperson sees what the check saw, and no release/reject button
    html = _html(sp1, order_page)
    assert 'id="panel-sale_credit_decision"' in html
    assert _figure(html, "decision-limit") == "CN¥500.00"
    assert _figure(html, "decision-order-amount") == "CN¥1,130.00"
    assert _figure(html, "decision-exposure") == "CN¥0.00"
    assert _figure(html, "decision-total") == "CN¥1,130.00"
    assert "/fire/release_credit" not in html and "/fire/reject_credit" not in html

    cm = web("cm")
    queue = _html(cm, "/sale/credit/reviews")
    assert f'href="/r/sale.order/{oid}"' in queue
    assert "CN¥500.00" in queue and "CN¥1,130.00" in queue and "CN¥630.00" in queue  # over by
    html = _html(cm, order_page)
    assert f"{order_page}/fire/release_credit" in html and f"{order_page}/fire/reject_credit" in html
    assert _figure(html, "decision-limit").startswith("CN¥500.00")
    resp = post_form(cm, f"{order_page}/fire/release_credit", form_page=order_page)
    assert resp.status_code == 302 and resp.headers["Location"].endswith(order_page)
    assert flow.state("sale.order", oid) == "approved"
    html = _html(cm, order_page)
    assert "badge-approved" in html and _figure(html, "credit-decision-outcome").startswith("release_credit")
    assert "No order is waiting for credit review." in _html(cm, "/sale/credit/reviews")


def test_the_orders_own_salesperson_cannot_release_it(sf, master, users, make_order, profile,
                                                     flow, web):
    profile(master.c3, credit_grade="B", credit_limit=D("500"))  # C refuses; B reviews
    oid = make_order("cm_sp", lines=[(0, "10", None)], customer=master.c3)
    order_page = f"/r/sale.order/{oid}"
    cm_sp = web("cm_sp")  # a credit manager who is this order's salesperson
    assert post_form(cm_sp, f"{order_page}/fire/approve", form_page=order_page).status_code == 302
    assert flow.state("sale.order", oid) == "credit_review"
    html = _html(cm_sp, order_page)
    assert "/fire/release_credit" not in html and "/fire/reject_credit" not in html
    assert "the order&#39;s own salesperson cannot release" in html  # the reason, not a button
    resp = post_form(cm_sp, f"{order_page}/fire/release_credit", form_page=order_page)
    assert resp.status_code == 302
    assert flow.state("sale.order", oid) == "credit_review"  # refused, nothing changed


def test_profile_form_is_audited_and_refuses_a_negative_limit(sf, master, users, web):
    cm = web("cm")
    path = f"/sale/credit/customers/{master.c1}/profile"
    form = _html(cm, path)
    assert 'name="csrf_token"' in form and '<option selected value="B">' in form
    before = len(_audit(sf, master.c1))

    resp = post_form(cm, path, {"credit_grade": "B", "credit_limit": "-5"}, form_page=path)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert re.search(r'has-error">\s*<label for="credit_limit">.*?must not be negative', html, re.S)
    # a change with a refused hold (no reason): nothing at all is saved
    resp = post_form(cm, path, {"credit_grade": "B", "credit_limit": "3000", "credit_hold": "y",
                                "credit_hold_reason": ""}, form_page=path)
    assert resp.status_code == 200
    assert "say why the customer is put on hold" in resp.get_data(as_text=True)
    with sf.transaction() as env:
        customer = env.get("sale.customer", master.c1)
        assert customer.credit_limit is None and customer.credit_hold is False
    assert len(_audit(sf, master.c1)) == before

    resp = post_form(cm, path, {"credit_grade": "B", "credit_limit": "2500",
                                "note": "raised after review"}, form_page=path)
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/r/sale.customer/{master.c1}")
    with sf.transaction() as env:
        assert env.get("sale.customer", master.c1).credit_limit == D("2500.00")
    entry = _audit(sf, master.c1)[-1]
    assert entry["user_id"] == users.cm
    old, new = entry["changes"]["credit_limit"]
    assert old is None and D(str(new)) == D("2500")
    assert entry["changes"]["credit_note"][1] == "raised after review"
    html = _html(cm, f"/r/sale.customer/{master.c1}")
    assert _figure(html, "credit-limit") == "CN¥2,500.00" and "raised after review" in html

    resp = post_form(cm, path, {"credit_grade": "B", "credit_limit": "2500", "credit_hold": "y",
                                "credit_hold_reason": "cheque bounced"}, form_page=path)
    assert resp.status_code == 302
    html = _html(cm, f"/r/sale.customer/{master.c1}")
    assert _figure(html, "credit-hold") == "On hold: cheque bounced"
    assert f'id="exposure-{master.c1}"' in _html(cm, "/sale/credit/over-limit")
    resp = post_form(cm, path, {"credit_grade": "B", "credit_limit": "2500",
                                "credit_hold_reason": "cheque cleared"}, form_page=path)
    assert resp.status_code == 302  # unticked: the hold is lifted
    with sf.transaction() as env:
        assert env.get("sale.customer", master.c1).credit_hold is False
    assert _audit(sf, master.c1)[-1]["changes"]["credit_note"][1] == "hold lifted: cheque cleared"
    assert f'id="exposure-{master.c1}"' not in _html(cm, "/sale/credit/over-limit")

    # a salesperson's post is refused and changes nothing
    resp = post_form(web("sp1"), path, {"credit_limit": "999999"}, form_page="/r/sale.customer")
    assert resp.status_code == 403
    with sf.transaction() as env:
        assert env.get("sale.customer", master.c1).credit_limit == D("2500.00")


def test_dunning_run_through_the_web(sf, master, users, dunning_data, web):
    finance = web("finance")
    html = _html(finance, "/sale/credit/dunning")
    assert 'id="dunning-run-form"' in html and "No dunning run yet." in html
    resp = post_form(finance, "/sale/credit/dunning", {"date": "2026-03-10"},
                     form_page="/sale/credit/dunning")
    assert resp.status_code == 302
    run_page = resp.headers["Location"]
    run_id = int(run_page.rsplit("/", 1)[1])
    with sf.transaction() as env:
        Dun = env["sale.credit.dunning"]
        letters = {d.invoice_id: d for d in env.session.scalars(select(Dun).where(Dun.run_id == run_id))}
        assert set(letters) == {dunning_data.inv1, dunning_data.inv2}
        assert {d.level for d in letters.values()} == {"final"}  # 34 days overdue
        assert env.get("sale.customer", master.c1).credit_hold is True
        numbers = {i: d.invoice_number for i, d in letters.items()}
        letter1, letter2 = letters[dunning_data.inv1].id, letters[dunning_data.inv2].id

    html = _html(finance, run_page)
    assert _figure(html, "run-letters") == "2" and _figure(html, "run-no-recipient") == "1"
    assert _figure(html, "run-holds") == "2"
    row1 = html[html.index(f'id="letter-{letter1}"'):]
    row1 = row1[:row1.index("</tr>")]
    row2 = html[html.index(f'id="letter-{letter2}"'):]
    row2 = row2[:row2.index("</tr>")]
    assert numbers[dunning_data.inv1] in row1 and "CN¥1,130.00" in row1 and "pending" in row1
    assert numbers[dunning_data.inv2] in row2 and "no e-mail address" in row2

    # the same date again: nothing more to write
    resp = post_form(finance, "/sale/credit/dunning", {"date": "2026-03-10"},
                     form_page="/sale/credit/dunning")
    assert _figure(_html(finance, resp.headers["Location"]), "run-letters") == "0"
    letters_list = _html(finance, "/r/sale.credit.dunning")
    assert numbers[dunning_data.inv1] in letters_list and numbers[dunning_data.inv2] in letters_list

    # sales managers follow runs, they do not start them; salespersons see none
    manager = web("manager")
    html = _html(manager, "/sale/credit/dunning")
    assert 'id="dunning-run-form"' not in html and f"/sale/credit/dunning/{run_id}" in html
    resp = post_form(manager, "/sale/credit/dunning", {"date": "2026-03-20"}, form_page="/r/sale.customer")
    assert resp.status_code == 403
    assert 'class="outbox-state">—<' in _html(manager, run_page)  # no outbox access: no status
    with sf.transaction() as env:
        assert env.session.scalar(select(func.count()).select_from(env["sale.credit.dunning_run"])) == 2
    assert web("sp1").get(run_page).status_code == 403
    assert web("sp1").get("/r/sale.credit.dunning").status_code == 403


def test_credit_pages_and_panel_disappear_without_sale_credit(sf, master, users, flow, make_sf,
                                                              make_client, db_url):
    flow.order(lines=[(0, "1", None)])
    path = f"/r/sale.customer/{master.c1}"
    client = make_client(sf)
    web_login(client, "finance")
    html = _html(client, path)
    assert 'id="panel-sale_credit"' in html and "/sale/credit/reviews" in html

    alone = make_sf(["sale"], create=False)  # the same database, sale_credit disabled
    client = make_client(alone)
    assert web_login(client, "finance").status_code == 302
    html = _html(client, path)
    assert "上海华东贸易" in html and "panel-sale_credit" not in html and "Credit exposure" not in html
    assert "/sale/credit/" not in _html(client, "/r/sale.customer")  # no menu entries
    assert client.get("/sale/credit/reviews").status_code == 404


def test_review_queue_for_readers_shows_orders_in_review_only(sf, master, users, make_order,
                                                              profile, web):
    profile(master.c1, credit_limit=D("500"))
    in_review = make_order("sp1", lines=[(0, "10", None)])
    draft = make_order("sp1", lines=[(0, "1", None)])
    with sf.transaction("sp1") as env:
        env.get("sale.order", in_review).fire("approve")
    for login in ("manager", "finance", "director", "admin"):
        html = _html(web(login), "/sale/credit/reviews")
        assert f'href="/r/sale.order/{in_review}"' in html, login
        assert f'href="/r/sale.order/{draft}"' not in html, login
        assert '<span class="count">1</span>' in html, login


def test_huge_page_numbers_and_limits_are_refused_not_a_500(sf, master, users, web):
    cm = web("cm")
    for path in ("/sale/credit/reviews", "/sale/credit/exposure", "/sale/credit/over-limit"):
        resp = cm.get(f"{path}?page=99999999999999999999")
        assert resp.status_code == 400, path
        assert "page must be at most" in resp.get_data(as_text=True)
    path = f"/sale/credit/customers/{master.c1}/profile"
    resp = post_form(cm, path, {"credit_grade": "B", "credit_limit": "1e30"}, form_page=path)
    assert resp.status_code == 200
    assert re.search(r'has-error">\s*<label for="credit_limit">.*?must be less than',
                     resp.get_data(as_text=True), re.S)


def test_profile_form_of_an_own_customer_says_why_it_is_refused(sf, master, users, web):
    """cm_sp sells to C003: the form shows the refusal (another credit manager decides)."""
    client = web("cm_sp")
    path = f"/sale/credit/customers/{master.c3}/profile"
    resp = post_form(client, path, {"credit_grade": "A", "credit_limit": "900000"}, form_page=path)
    assert resp.status_code == 200
    assert "another credit manager must" in resp.get_data(as_text=True)
    with sf.transaction() as env:
        assert env.get("sale.customer", master.c3).credit_grade == "C"
