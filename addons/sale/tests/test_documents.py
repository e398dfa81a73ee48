"""PDF documents: quotation / sales order and invoice / credit note (each DB test on SQLite and
PostgreSQL). The PDFs' text is read back with pypdf."""

from __future__ import annotations

import importlib
import io
import re
from decimal import Decimal

import pytest

from core.pdf import FontNotFound, find_cjk_font, system_cjk_font

from .conftest import DEFAULT_APPROVALS

D = Decimal
COMPANY = {"company_name": "杭州示例贸易有限公司", "company_address": "杭州市西湖区文三路 100 号",
           "company_tax_id": "91330100MA00000001", "company_bank": "工商银行杭州分行 1202 0000"}

needs_font = pytest.mark.skipif(
    system_cjk_font() is None,
    reason="no CJK font: install fonts-wqy-zenhei (bash scripts/system-deps.sh fonts)")
pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def sf(make_sf):
    """The sale addon with the default approvals and the company's particulars."""
    return make_sf(["sale"], approvals=DEFAULT_APPROVALS, settings={"sale": COMPANY})


@pytest.fixture
def svc_docs(sf):
    return importlib.import_module("sale.services.documents")


def pages(payload: bytes) -> list[str]:
    """The text of each page."""
    from pypdf import PdfReader

    assert payload[:5] == b"%PDF-"
    return [page.extract_text() for page in PdfReader(io.BytesIO(payload)).pages]


def number_of(sf, record: str, ident: int) -> str:
    with sf.transaction() as env:
        return env.get(record, ident).number


# -- quotations and orders ---------------------------------------------------------------------


@needs_font
def test_quotation_pdf_in_the_customers_language(sf, master, make_order, web):
    oid = make_order("sp1", lines=[(0, "2", None), (1, "4", "32.00")])
    number = number_of(sf, "sale.order", oid)
    resp = web("sp1").get(f"/sale/orders/{oid}/quotation.pdf")
    assert resp.status_code == 200
    assert resp.mimetype == "application/pdf"
    assert resp.headers["Content-Disposition"] == \
        f'inline; filename="{number.replace("/", "-")}.pdf"'
    [text] = pages(resp.data)
    # the customer's language (zh_CN, the default of sale.customer.lang)
    assert "报价单" in text and number in text
    assert "上海华东贸易有限公司" in text and "C001" in text and "91310000MA1FL0001X" in text
    assert "杭州示例贸易有限公司" in text and "91330100MA00000001" in text
    assert "SP1" in text and "Net 30 days" in text  # salesperson, payment term
    # lines: 2 x 100.00 = 200.00 + 26.00; 4 x 32.00 = 128.00 + 16.64
    for expected in ("Product 1", "Product 2", "P1", "P2", "100.00", "32.00", "200.00", "26.00",
                     "226.00", "128.00", "16.64", "144.64"):
        assert expected in text, expected
    # totals in the currency, and in words
    assert "¥328.00" in text and "¥42.64" in text and "¥370.64" in text
    assert "叁佰柒拾元陆角肆分" in text
    assert "1/1" in text


@needs_font
def test_approved_order_is_a_sales_order_and_english_on_request(sf, master, make_order, flow,
                                                                 api):
    oid = flow.order(ship=None)
    resp = api.client.get(f"/api/v1/orders/{oid}/pdf?lang=en", headers=api.h("sp1"))
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert resp.headers["Content-Disposition"].startswith("attachment; filename=\"SO-")
    [text] = pages(resp.data)
    assert "Sales order" in text and "Quotation" not in text
    assert "上海华东贸易有限公司" in text and "CN¥226.00" in text and "Total amount" in text
    default = pages(api.client.get(f"/api/v1/orders/{oid}/pdf", headers=api.h("sp1")).data)[0]
    assert "销售订单" in default
    bad = api.client.get(f"/api/v1/orders/{oid}/pdf?lang=fr", headers=api.h("sp1"))
    assert bad.status_code == 422 and "lang" in bad.get_json()["error"]["fields"]


@needs_font
def test_a_long_order_runs_over_pages_with_every_line(sf, master, make_order, api):
    lines = [{"product_id": master.product_ids[i % 3], "quantity": D(i % 7 + 1),
              "unit_price": D("10.00") + i, "description": f"Item {i:03d} 三角带"}
             for i in range(120)]
    oid = make_order("sp1", lines=lines)
    resp = api.client.get(f"/api/v1/orders/{oid}/pdf", headers=api.h("sp1"))
    assert resp.status_code == 200
    texts = pages(resp.data)
    total = len(texts)
    assert total >= 3
    for n, text in enumerate(texts, start=1):
        assert f"{n}/{total}" in text
        assert "物料编码" in text and "不含税金额" in text  # the table header on every page
    everything = "\n".join(texts)
    found = re.findall(r"Item (\d{3}) 三角带", everything)
    assert sorted(found) == [f"{i:03d}" for i in range(120)]
    with sf.transaction() as env:
        order = env.get("sale.order", oid)
        total_text = f"¥{order.amount_total:,.2f}"
        line_119 = next(line for line in order.lines if line.description.startswith("Item 119"))
        amount_119 = f"{line_119.amount_total:,.2f}"
    assert total_text in texts[-1]
    assert amount_119 in everything


# -- invoices and credit notes -----------------------------------------------------------------


@needs_font
def test_invoice_and_credit_note_pdfs(sf, master, flow, acc, api):
    import datetime as dt

    oid = flow.order(lines=[(0, "3", None)])
    iid = flow.invoice(oid, date=dt.date(2026, 3, 2))
    number = number_of(sf, "sale.invoice", iid)
    resp = api.client.get(f"/api/v1/invoices/{iid}/pdf", headers=api.h("finance"))
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"] == \
        f'attachment; filename="{number.replace("/", "-")}.pdf"'
    [text] = pages(resp.data)
    assert "发票" in text and number in text and number_of(sf, "sale.order", oid) in text
    assert "2026年3月2日" in text and "2026年4月1日" in text  # invoice date, due date (net 30)
    assert "上海华东贸易有限公司" in text and "工商银行杭州分行" in text
    assert "300.00" in text and "¥39.00" in text and "¥339.00" in text
    assert "叁佰叁拾玖元整" in text
    # the salesperson of the customer reads it too
    assert api.client.get(f"/api/v1/invoices/{iid}/pdf", headers=api.h("sp1")).status_code == 200

    with sf.transaction("finance") as env:
        line_id = env.get("sale.invoice", iid).lines[0].id  # a price correction of 100.00
        credit = acc.invoice.create_credit_note(env, iid, reason="damaged in transit 运输损坏",
                                                lines=[{"invoice_line_id": line_id,
                                                        "amount": D("100.00")}])
        cid, credit_number = credit.id, credit.number
    [text] = pages(api.client.get(f"/api/v1/invoices/{cid}/pdf?lang=en",
                                  headers=api.h("finance")).data)
    assert "Credit note" in text and credit_number in text and number in text
    assert "damaged in transit 运输损坏" in text and "CN¥113.00" in text


@needs_font
def test_draft_invoice_is_marked_and_named_by_id(sf, master, flow, api):
    oid = flow.order()
    iid = flow.invoice(oid, post=False)
    resp = api.client.get(f"/api/v1/invoices/{iid}/pdf", headers=api.h("finance"))
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"] == f'attachment; filename="invoice-draft-{iid}.pdf"'
    assert "草稿" in pages(resp.data)[0]


# -- who may print -----------------------------------------------------------------------------


@needs_font
def test_pdfs_follow_the_record_rules(sf, master, make_order, flow, web, api, make_client):
    theirs = make_order("sp2", customer=master.c2)
    their_invoice = flow.invoice(flow.order(customer=master.c2))
    sp1 = web("sp1")
    assert sp1.get(f"/sale/orders/{theirs}/quotation.pdf").status_code == 404
    assert sp1.get(f"/sale/invoices/{their_invoice}/invoice.pdf").status_code == 404
    assert sp1.get("/sale/orders/999999/quotation.pdf").status_code == 404
    for path in (f"/api/v1/orders/{theirs}/pdf", f"/api/v1/invoices/{their_invoice}/pdf",
                 "/api/v1/orders/999999/pdf"):
        resp = api.client.get(path, headers=api.h("sp1"))
        assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    # the warehouse reads orders but not invoices
    assert api.client.get(f"/api/v1/invoices/{their_invoice}/pdf",
                          headers=api.h("warehouse")).status_code == 403
    assert web("manager").get(f"/sale/orders/{theirs}/quotation.pdf").status_code == 200
    anonymous = make_client(sf)
    resp = anonymous.get(f"/sale/orders/{theirs}/quotation.pdf")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    resp = anonymous.get(f"/api/v1/orders/{theirs}/pdf")
    assert resp.status_code == 401


def test_order_and_invoice_pages_link_their_pdf(sf, master, make_order, flow, web):
    oid = make_order("sp1")
    html = web("sp1").get(f"/r/sale.order/{oid}").get_data(as_text=True)
    assert f"/sale/orders/{oid}/quotation.pdf" in html
    assert f"/sale/orders/{oid}/quotation.pdf?lang=en" in html
    iid = flow.invoice(flow.order())
    html = web("finance").get(f"/r/sale.invoice/{iid}").get_data(as_text=True)
    assert f"/sale/invoices/{iid}/invoice.pdf" in html


# -- without a CJK font ------------------------------------------------------------------------


def test_without_a_cjk_font_chinese_documents_fail_clearly(sf, master, make_order, web, api,
                                                           svc_docs, monkeypatch):
    monkeypatch.setattr(svc_docs, "find_cjk_font", lambda *args, **kwargs: None)
    oid = make_order("sp1")  # 上海华东贸易有限公司
    resp = api.client.get(f"/api/v1/orders/{oid}/pdf", headers=api.h("sp1"))
    assert resp.status_code == 503
    error = resp.get_json()["error"]
    assert error["code"] == "unavailable" and "fonts-wqy-zenhei" in error["message"]
    assert "[addon.sale] pdf_font" in error["message"]
    page = web("sp1").get(f"/sale/orders/{oid}/quotation.pdf")
    assert page.status_code == 503 and "fonts-wqy-zenhei" in page.get_data(as_text=True)
    # in English, for a Latin-named customer, the company name is still Chinese here
    theirs = make_order("sp2", customer=master.c2)  # Northwind Traders
    resp = api.client.get(f"/api/v1/orders/{theirs}/pdf?lang=en", headers=api.h("sp2"))
    assert resp.status_code == 503


# -- pure rendering (no app, no database) ------------------------------------------------------


def _documents():
    from core.plugins.addons import AddonCatalog

    AddonCatalog.discover()  # puts the addons folder on sys.path
    return importlib.import_module("sale.documents")


def _doc(docs, lang="en", customer="Northwind Traders", n=1):
    import datetime as dt

    lines = [docs.Line("P1", f"V-belt {i}", D("4"), "pcs", D("32.00"), D("5"), D("0.13"),
                       D("121.60"), D("15.81"), D("137.41")) for i in range(n)]
    return docs.Document(
        kind="quotation", number="SO/2026/000007", currency="CNY", lang=lang,
        company=docs.Company("ACME Trading"), customer=docs.Party(customer, "C002"),
        header=[("Order date", dt.date(2026, 6, 1))], lines=lines,
        amount_untaxed=D("121.60") * n, amount_tax=D("15.81") * n, amount_total=D("137.41") * n,
        taxes=docs.tax_totals(lines))


def test_latin_documents_need_no_cjk_font_chinese_ones_do():
    docs = _documents()
    [text] = pages(docs.render_pdf(_doc(docs), None))
    assert "Quotation" in text and "Northwind Traders" in text and "CN¥137.41" in text
    assert "121.60" in text and "15.81" in text and "13%" in text
    with pytest.raises(FontNotFound, match="fonts-wqy-zenhei"):
        docs.render_pdf(_doc(docs, customer="上海华东贸易有限公司"), None)
    with pytest.raises(FontNotFound, match="fonts-wqy-zenhei"):
        docs.render_pdf(_doc(docs, lang="zh_CN"), None)  # Chinese labels


@needs_font
def test_several_tax_rates_are_totalled_per_rate():
    docs = _documents()
    doc = _doc(docs, lang="zh_CN")
    doc.lines.append(docs.Line("P2", "服务费", D("1"), "次", D("100.00"), D("0"), D("0.06"),
                               D("100.00"), D("6.00"), D("106.00")))
    doc.taxes = docs.tax_totals(doc.lines)
    doc.amount_untaxed, doc.amount_tax, doc.amount_total = D("221.60"), D("21.81"), D("243.41")
    [text] = pages(docs.render_pdf(doc, system_cjk_font()))
    assert "税额（13%）" in text and "¥15.81" in text
    assert "税额（6%）" in text and "¥6.00" in text
    assert "¥243.41" in text and "贰佰肆拾叁元肆角壹分" in text


@pytest.mark.parametrize("amount, words", [
    ("0", "零元整"), ("0.50", "伍角整"), ("0.05", "伍分"), ("1", "壹元整"),
    ("10.05", "壹拾元零伍分"), ("1010", "壹仟零壹拾元整"), ("1234.50", "壹仟贰佰叁拾肆元伍角整"),
    ("100005", "壹拾万零伍元整"), ("1000000", "壹佰万元整"), ("10010000", "壹仟零壹万元整"),
    ("100000001", "壹亿零壹元整"), ("120000.07", "壹拾贰万元零柒分"), ("370.64", "叁佰柒拾元陆角肆分"),
])
def test_amount_in_words(amount, words):
    assert _documents().cny_in_words(D(amount)) == words


def test_every_document_label_is_translated():
    from babel.messages import pofile

    docs = _documents()
    with (docs.TRANSLATIONS / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = {m.id: m.string for m in pofile.read_po(f) if m.id}
    missing = [label for label in docs.LABELS if not catalog.get(label)]
    assert missing == []


def test_configured_font_must_exist_and_be_truetype(tmp_path):
    with pytest.raises(FontNotFound, match=r"\[addon.sale\] pdf_font.*fonts-wqy-zenhei"):
        find_cjk_font(str(tmp_path / "missing.ttf"), setting="[addon.sale] pdf_font")
    cff = tmp_path / "NotoSansCJK.otf"
    cff.write_bytes(b"OTTO" + b"\0" * 64)  # CFF-flavoured OpenType: not embeddable here
    with pytest.raises(FontNotFound, match="not a TrueType font"):
        find_cjk_font(str(cff), setting="[addon.sale] pdf_font")
    font = system_cjk_font()
    if font is not None:
        assert find_cjk_font(font.path, font.index) == font


def test_openapi_says_pdf(sf, users, api):
    doc = api.client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/orders/{order_id}/pdf", "/api/v1/invoices/{invoice_id}/pdf"):
        ok = doc["paths"][path]["get"]["responses"]["200"]
        assert ok["content"] == {"application/pdf": {"schema": {"type": "string",
                                                                "format": "binary"}}}
