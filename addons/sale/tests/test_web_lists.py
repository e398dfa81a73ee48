"""The sale lists and pages read related rows once per page, not once per row (each test on
SQLite and PostgreSQL): the statements of a page do not grow with its rows."""

from __future__ import annotations

import pytest

from core.web.testing import web_login

pytestmark = pytest.mark.usefixtures("fast_passwords")


def test_statements_do_not_grow_with_rows(sf, users, master, make_order, make_client,
                                          count_queries):
    client = make_client(sf)
    assert web_login(client, "manager").status_code == 302

    def statements(path: str) -> int:
        client.get(path)  # warm: first-use statements (roles, settings) not counted
        with count_queries(sf.engine) as n:
            resp = client.get(path)
        assert resp.status_code == 200
        return n.value

    make_order("sp1")
    make_order("sp2", customer=master.c2)
    one_each = statements("/r/sale.order")
    with sf.transaction() as env:  # more customers: one lazy load each if not read at once
        more = [env.create("sale.customer", code=f"C1{i}", name=f"Customer {i}", name_key=f"c{i}",
                           salesperson_id=users.sp["sp2"], payment_term_id=master.term_id).id
                for i in range(4)]
    for customer in more:
        make_order("sp2", customer=customer)
    html = client.get("/r/sale.order").get_data(as_text=True)
    assert "Customer 3" in html and "上海华东贸易有限公司" in html  # customers shown
    assert statements("/r/sale.order") == one_each

    small = make_order("sp1", lines=[(0, "1", None)])
    big = make_order("sp1", lines=[(i % 3, "1", None) for i in range(12)])
    page = client.get(f"/r/sale.order/{big}").get_data(as_text=True)
    assert page.count("P1</td>") == 4 and page.count("P3</td>") == 4  # every line's SKU
    assert statements(f"/r/sale.order/{big}") == statements(f"/r/sale.order/{small}")
