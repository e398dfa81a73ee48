"""REST: dunning runs, letters, the outbox, collection performance, aging by salesperson,
early-payment discounts on payment terms."""

from __future__ import annotations

import datetime as dt

import pytest

pytestmark = pytest.mark.usefixtures("fast_passwords")

BASE = "/api/v1/credit"


def test_dunning_runs_letters_and_outbox(sf, api, dunning_data):
    c, h = api.client, api.h
    assert c.post(f"{BASE}/dunning-runs", json={"date": "2026-02-05"}, headers=h("sp1")).status_code == 403
    # a credit manager who also sells: the run (a company process) covers every customer
    resp = c.post(f"{BASE}/dunning-runs", json={"date": "2026-02-05"},
                  headers=h("cm_sp", **{"Idempotency-Key": "run-0205"}))
    assert resp.status_code == 201, resp.get_json()
    run = resp.get_json()
    assert (run["date"], run["dunning_count"], run["no_recipient_count"], run["hold_count"]) == \
        ("2026-02-05", 2, 1, 0)
    assert [(d["level"], d["days_overdue"], d["amount_due"]) for d in run["dunnings"]] == \
        [("reminder", 1, "1130.00"), ("reminder", 1, "2260.00")]
    assert [d["invoice_number"][:9] for d in run["dunnings"]] == ["INV/2026/", "INV/2026/"]
    replay = c.post(f"{BASE}/dunning-runs", json={"date": "2026-02-05"},
                    headers=h("cm_sp", **{"Idempotency-Key": "run-0205"}))
    assert replay.headers.get("Idempotent-Replayed") == "true" and replay.get_json()["id"] == run["id"]
    again = c.post(f"{BASE}/dunning-runs", json={"date": "2026-02-05"}, headers=h("finance"))
    assert again.status_code == 201 and again.get_json()["dunning_count"] == 0

    listed = c.get(f"{BASE}/dunning-runs?sort=-date", headers=h("manager")).get_json()
    assert listed["total"] == 2
    detail = c.get(f"{BASE}/dunning-runs/{run['id']}", headers=h("manager")).get_json()
    assert len(detail["dunnings"]) == 2
    assert c.get(f"{BASE}/dunning-runs/{run['id']}", headers=h("sp1")).status_code == 403
    assert c.get(f"{BASE}/dunning-runs/9999", headers=h("cm")).status_code == 404

    letters = c.get(f"{BASE}/dunnings?invoice_id={dunning_data.inv1}", headers=h("cm")).get_json()
    assert [d["lang"] for d in letters["items"]] == ["zh_CN"]
    assert c.get(f"{BASE}/dunnings?bogus=1", headers=h("cm")).status_code == 422

    box = c.get(f"{BASE}/outbox?state=no_recipient", headers=h("cm")).get_json()
    assert box["total"] == 1 and box["items"][0]["email_to"] == ""
    pending = c.get(f"{BASE}/outbox?state=pending", headers=h("finance")).get_json()
    assert pending["items"][0]["email_to"] == "ap@huadong.example.cn"
    assert c.get(f"{BASE}/outbox?state=lost", headers=h("cm")).status_code == 422
    assert c.get(f"{BASE}/outbox", headers=h("manager")).status_code == 403
    oid = pending["items"][0]["id"]
    refused = c.post(f"{BASE}/outbox/{oid}/requeue", headers=h("cm"))
    assert refused.status_code == 422  # only failed messages are requeued


def test_performance_and_aging(sf, api, master, flow):
    flow.invoice(flow.order(lines=[(0, "10", None)]), date=dt.date(2026, 1, 5))
    flow.pay(master.c1, "500.00", date=dt.date(2026, 1, 20))
    c, h = api.client, api.h
    resp = c.get(f"{BASE}/collections/performance?date_from=2026-01-01&date_to=2026-02-28",
                 headers=h("cm"))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["rows"] == [{"salesperson_id": body["rows"][0]["salesperson_id"],
                             "salesperson_name": "SP1", "collected": "500.00",
                             "credit_sales": "1130.00", "receivables": "630.00",
                             "overdue": "630.00", "dso": "32.9"}]
    by_customer = c.get(f"{BASE}/collections/performance?date_from=2026-01-01&date_to=2026-02-28"
                        "&group_by=customer", headers=h("cm")).get_json()
    assert by_customer["rows"][0]["customer_code"] == "C001"
    bad = c.get(f"{BASE}/collections/performance?date_from=2026-03-01&date_to=2026-02-28",
                headers=h("cm"))
    assert bad.status_code == 422
    assert c.get(f"{BASE}/collections/performance?date_to=2026-02-28",
                 headers=h("cm")).status_code == 422
    aging = c.get(f"{BASE}/collections/aging?as_of=2026-02-28", headers=h("cm")).get_json()
    assert [(r["salesperson_name"], r["1_30"]) for r in aging["rows"]] == [("SP1", "630.00")]
    doc = c.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/credit/dunning-runs", "/api/v1/credit/dunning-runs/{run_id}",
                 "/api/v1/credit/dunnings", "/api/v1/credit/outbox",
                 "/api/v1/credit/collections/performance", "/api/v1/credit/collections/aging"):
        assert path in doc["paths"], path


def test_early_discount_on_terms_and_quote(sf, api, master, flow):
    c, h = api.client, api.h
    url = f"{BASE}/payment-terms/{master.term_id}/early-discount"
    got = c.get(url, headers=h("finance")).get_json()
    assert (got["discount_percent"], got["discount_days"]) == ("0.000000", 0)
    assert c.put(url, json={"discount_percent": "2", "discount_days": 10},
                 headers=h("sp1")).status_code == 403
    bad = c.put(url, json={"discount_percent": "2", "discount_days": 0}, headers=h("finance"))
    assert bad.status_code == 422 and "discount_days" in bad.get_json()["error"]["fields"]
    ok = c.put(url, json={"discount_percent": "2", "discount_days": 10}, headers=h("finance"))
    assert ok.status_code == 200 and ok.get_json()["discount_percent"] == "2.000000"
    inv = flow.invoice(flow.order(lines=[(0, "10", None)]), date=dt.date(2026, 1, 5))
    quote = c.get(f"{BASE}/invoices/{inv}/early-discount?date=2026-01-10",
                  headers=h("finance")).get_json()
    assert quote == {"invoice_id": inv, "date": "2026-01-10", "deadline": "2026-01-15",
                     "discount_percent": "2.000000", "discount_days": 10, "open": "1130.00", "discount_untaxed": "20.00", "discount_tax": "2.60",
                     "discount": "22.60", "to_pay": "1107.40"}
    late = c.get(f"{BASE}/invoices/{inv}/early-discount?date=2026-01-16",
                 headers=h("finance")).get_json()
    assert (late["discount"], late["to_pay"]) == ("0.00", "1130.00")
