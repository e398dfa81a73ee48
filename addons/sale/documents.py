"""PDF documents of the sale addon: the quotation / sales order (报价单 / 销售订单) and the
invoice / credit note (发票 / 红字发票).

Pure rendering: ``render_pdf(doc, font)`` takes a ``Document`` (plain data, built from the
records by ``services.documents``, which reads them through ``env``) and returns the PDF bytes.
Nothing here reads the database or the Flask request.

* **Layout**: A4. The first page has the company (name, address, tax id, phone, bank account)
  and the title with the number and dates, then the customer (name, code, tax id, address) and
  the terms (salesperson, payment term...). The lines table (No., SKU, description, quantity,
  unit, unit price, discount %, tax rate, untaxed, tax, total) runs over as many pages as it
  needs, its header repeated on each; long descriptions wrap. Then the totals (untaxed, tax per
  rate when there are several, total), the amount in words for CNY (大写金额), notes, and a
  signature block on quotations and orders. Every page has a footer "number ... 1/3"; later
  pages a running header.
* **Language**: ``Document.lang`` (``en`` or ``zh_CN``): labels come from the addon's catalog
  (``translations/<lang>/LC_MESSAGES/messages.mo``, the same msgids as the web pages), dates and
  amounts are formatted by Babel for that locale, amounts with the document currency.
* **Fonts**: text is drawn with the CJK TrueType font given (``core.pdf.find_cjk_font``). Without
  one, a document whose text is all Latin uses the PDF standard font Helvetica; any other text
  raises ``core.pdf.FontNotFound`` (naming the package to install) instead of printing empty
  boxes.
* **Money** stays ``Decimal``: amounts are formatted, never converted to float.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import io
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, get_currency_precision, parse_pattern
from babel.support import NullTranslations, Translations

from core.pdf import FontFile, FontNotFound, needs_cjk_font

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
#: the setting that names a font file (said in the error when none is found)
FONT_SETTING = "[addon.sale] pdf_font"


def N_(msgid: str) -> str:
    """Marks a label for translation at render time (in the document's language)."""
    return msgid


#: document kind -> title
TITLES = {"quotation": N_("Quotation"), "order": N_("Sales order"), "invoice": N_("Invoice"),
          "credit_note": N_("Credit note")}


# -- the data a document shows ------------------------------------------------------------------


@dataclass
class Company:
    name: str
    address: str | None = None
    tax_id: str | None = None
    phone: str | None = None
    bank: str | None = None


@dataclass
class Party:
    name: str
    code: str | None = None
    tax_id: str | None = None
    address: str | None = None


@dataclass
class Line:
    sku: str
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    discount: Decimal
    #: fraction (0.13); None: no tax
    tax_rate: Decimal | None
    amount_untaxed: Decimal
    amount_tax: Decimal
    amount_total: Decimal


@dataclass
class TaxTotal:
    rate: Decimal | None
    base: Decimal
    amount: Decimal


@dataclass
class Document:
    #: quotation, order, invoice or credit_note
    kind: str
    number: str | None
    currency: str
    lang: str
    company: Company
    customer: Party
    #: (label msgid, value) under the title: dates, revision ... (a date is formatted)
    header: list[tuple[str, Any]] = field(default_factory=list)
    #: (label msgid, value) beside the customer: salesperson, payment term, references
    terms: list[tuple[str, Any]] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    amount_untaxed: Decimal = Decimal("0")
    amount_tax: Decimal = Decimal("0")
    amount_total: Decimal = Decimal("0")
    #: per tax rate, in the order first met
    taxes: list[TaxTotal] = field(default_factory=list)
    #: a mark beside the title (msgid): "Draft", "Cancelled"
    status: str | None = None
    #: (label msgid, text) after the totals: note, reason of a credit note
    notes: list[tuple[str, str]] = field(default_factory=list)
    #: a signature block (quotations and orders)
    signature: bool = False

    @property
    def title(self) -> str:
        return TITLES[self.kind]


def tax_totals(lines: list[Line]) -> list[TaxTotal]:
    """The lines' untaxed base and tax per rate, in the order the rates first appear."""
    out: dict[Decimal | None, TaxTotal] = {}
    for line in lines:
        key = None if line.tax_rate is None else Decimal(line.tax_rate).normalize()
        total = out.setdefault(key, TaxTotal(key, Decimal("0"), Decimal("0")))
        total.base += line.amount_untaxed
        total.amount += line.amount_tax
    return list(out.values())


# -- amounts in words (大写金额) -----------------------------------------------------------------

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_UNITS = ("", "拾", "佰", "仟")
_SECTIONS = ("", "万", "亿", "万亿")


def _four(n: int) -> str:
    """0 < n < 10000 in words, zeros inside read once (1010: 壹仟零壹拾)."""
    out, zero = "", False
    for pos in (3, 2, 1, 0):
        d = n // 10 ** pos % 10
        if d == 0:
            zero = bool(out)
        else:
            if zero:
                out += "零"
                zero = False
            out += _DIGITS[d] + _UNITS[pos]
    return out


def cny_in_words(amount: Decimal) -> str:
    """An amount of yuan in capital figures as on Chinese invoices: ``1234.50`` → 壹仟贰佰叁拾肆元
    伍角整, ``100005`` → 壹拾万零伍元整, ``10.05`` → 壹拾元零伍分, ``0`` → 零元整."""
    amount = Decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "负" if amount < 0 else ""
    cents = int(abs(amount) * 100)
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10
    if yuan >= 10 ** 16:
        raise ValueError(f"{amount} is too large to write in words")
    words = ""
    groups = []
    rest = yuan
    while rest:
        groups.append(rest % 10000)
        rest //= 10000
    gap = False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            gap = bool(words)
            continue
        if words and (gap or group < 1000):
            words += "零"
        words += _four(group) + _SECTIONS[index]
        gap = False
    if yuan:
        words += "元"
    if jiao == 0 and fen == 0:
        return sign + (words or "零元") + "整"
    if jiao:
        words += _DIGITS[jiao] + "角"
    elif yuan:
        words += "零"
    if fen:
        words += _DIGITS[fen] + "分"
    else:
        words += "整"
    return sign + words


# -- translations and formats ------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def translations(lang: str) -> NullTranslations:
    """The addon's catalog for ``lang`` (an empty one for English)."""
    return Translations.load(str(TRANSLATIONS), [lang])


class _Formats:
    """Labels, dates and numbers in one language and currency."""

    def __init__(self, lang: str, currency: str):
        self.lang, self.currency = lang, currency
        # parsed once: Babel parses a locale given by name on every call (slow for 1,000 lines)
        self.locale = Locale.parse(lang)
        self.gettext = translations(lang).gettext
        digits = get_currency_precision(currency)
        self.amount_pattern = parse_pattern("#,##0" + ("." + "0" * digits if digits else ""))
        self.price_pattern = parse_pattern("#,##0." + "0" * digits + "#" * max(0, 6 - digits))
        self.qty_pattern = parse_pattern("#,##0.###")
        self.discount_pattern = parse_pattern("#,##0.##")
        self.percent_pattern = parse_pattern("#,##0.##%")

    def t(self, msgid: str, **values: Any) -> str:
        text = self.gettext(msgid)
        return text % values if values else text

    def money(self, value: Decimal) -> str:
        return format_currency(value, self.currency, locale=self.locale)

    def amount(self, value: Decimal) -> str:
        return self.amount_pattern.apply(Decimal(value), self.locale)

    def price(self, value: Decimal) -> str:
        return self.price_pattern.apply(Decimal(value), self.locale)

    def qty(self, value: Decimal) -> str:
        return self.qty_pattern.apply(Decimal(value), self.locale)

    def percent(self, fraction: Decimal | None) -> str:
        return "" if fraction is None else self.percent_pattern.apply(Decimal(fraction), self.locale)

    def discount(self, value: Decimal) -> str:
        return "" if not value else self.discount_pattern.apply(Decimal(value), self.locale)

    def value(self, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, dt.date):
            return format_date(value, "medium", locale=self.locale)
        return str(value)


# -- fonts -------------------------------------------------------------------------------------

LATIN = ("Helvetica", "Helvetica-Bold")


@functools.lru_cache(maxsize=4)
def _register(path: str, index: int, mtime: float) -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    name = f"SalesflowCJK{abs(hash((path, index, mtime))) % 10 ** 8}"
    pdfmetrics.registerFont(TTFont(name, path, subfontIndex=index))
    return name


def _font_names(doc: Document, fmt: _Formats, font: FontFile | None) -> tuple[str, str]:
    """(regular, bold) font names to draw ``doc`` with (see the module docstring)."""
    if font is not None:
        name = _register(font.path, font.index, Path(font.path).stat().st_mtime)
        return name, name  # CJK fonts rarely come with a bold face: emphasis by size
    text = " ".join(_texts(doc, fmt))
    if needs_cjk_font(text):
        raise FontNotFound(f"the {doc.kind} {doc.number or ''} has Chinese (or other non-Latin) "
                           "text", FONT_SETTING)
    return LATIN


def _texts(doc: Document, fmt: _Formats):
    """Every text the document may draw: its data and its translated labels."""
    for msgid in LABELS:
        yield fmt.t(msgid)

    def walk(value):
        if dataclasses.is_dataclass(value):
            for f in dataclasses.fields(value):
                yield from walk(getattr(value, f.name))
        elif isinstance(value, (list, tuple)):
            for item in value:
                yield from walk(item)
        elif isinstance(value, str):
            yield value

    yield from walk(doc)


# -- rendering ---------------------------------------------------------------------------------

#: every label the renderer draws (checked against the catalogs by the tests)
LABELS = (
    *TITLES.values(), N_("Draft"), N_("Cancelled"), N_("Number"), N_("Customer"),
    N_("Customer code"), N_("Tax ID"), N_("Address"), N_("Phone"), N_("Bank account"),
    N_("No."), N_("SKU"), N_("Description"), N_("Quantity"), N_("Unit"), N_("Unit price"),
    N_("Disc. %"), N_("Tax rate"), N_("Untaxed"), N_("Tax"), N_("Total"),
    N_("Untaxed amount"), N_("Tax %(rate)s"), N_("Total amount"), N_("Amount in words"),
    N_("Customer confirmation (signature and stamp)"), N_("For %(company)s"),
    # header, terms and notes (given by services.documents)
    N_("Order date"), N_("Valid until"), N_("Revision"), N_("Invoice date"), N_("Due date"),
    N_("Order"), N_("Reverses invoice"), N_("Salesperson"), N_("Payment term"), N_("Currency"),
    N_("Note"), N_("Reason"), N_("Cancellation reason"),
)

MM = 72 / 25.4
MARGIN = 12 * MM
GREY = "#6b7280"
RULE = "#d1d5db"
HEAD_BG = "#eef2f7"


def render_pdf(doc: Document, font: FontFile | None) -> bytes:
    """The document as PDF bytes (A4), in ``doc.lang``, drawn with ``font`` (see module doc)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import SimpleDocTemplate

    fmt = _Formats(doc.lang, doc.currency)
    regular, bold = _font_names(doc, fmt, font)
    styles = _Styles(regular, bold)
    number = doc.number or fmt.t("Draft")
    title = fmt.t(doc.title)
    buf = io.BytesIO()
    template = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=20 * MM,
        bottomMargin=18 * MM, title=f"{title} {number}", author=doc.company.name,
        subject=f"{doc.customer.name}", creator="salesflow", invariant=1,
        lang="zh-CN" if doc.lang.startswith("zh") else "en",
    )
    width = template.width
    story = [
        _head(doc, fmt, styles, width),
        _customer(doc, fmt, styles, width),
        _lines_table(doc, fmt, styles, width),
        _totals(doc, fmt, styles, width),
        *_after_totals(doc, fmt, styles, width),
    ]

    def later_pages(canvas, _template):
        canvas.saveState()
        canvas.setFont(regular, 8)
        canvas.setFillColor(GREY)
        top = A4[1] - 12 * MM
        canvas.drawString(MARGIN, top, doc.company.name)
        canvas.drawRightString(A4[0] - MARGIN, top, f"{title} {number}")
        canvas.setStrokeColor(RULE)
        canvas.line(MARGIN, top - 2 * MM, A4[0] - MARGIN, top - 2 * MM)
        canvas.restoreState()

    footer = f"{title} {number} · {doc.customer.name}"
    template.build(story, onLaterPages=later_pages,
                   canvasmaker=_numbered_canvas(regular, footer, A4))
    return buf.getvalue()


class _Styles:
    def __init__(self, regular: str, bold: str):
        from reportlab.lib.enums import TA_RIGHT
        from reportlab.lib.styles import ParagraphStyle

        base = ParagraphStyle("base", fontName=regular, fontSize=8, leading=10)
        self.regular, self.bold = regular, bold
        self.text = base
        self.cjk = ParagraphStyle("cjk", parent=base, wordWrap="CJK")
        self.small = ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5, textColor=GREY)
        self.head = ParagraphStyle("head", parent=base, fontSize=7.5, leading=9.5)
        self.head_right = ParagraphStyle("head_right", parent=self.head, alignment=TA_RIGHT)
        self.company = ParagraphStyle("company", parent=base, fontName=bold, fontSize=13, leading=16)
        self.title = ParagraphStyle("title", parent=base, fontName=bold, fontSize=18, leading=22,
                                    alignment=TA_RIGHT)
        self.status = ParagraphStyle("status", parent=base, fontName=bold, fontSize=11, leading=14,
                                     alignment=TA_RIGHT, textColor="#b91c1c")
        self.party = ParagraphStyle("party", parent=base, fontName=bold, fontSize=11, leading=14,
                                    wordWrap="CJK")
        self.words = ParagraphStyle("words", parent=base, fontSize=9, leading=12, wordWrap="CJK")

    def para(self, text: str, style=None):
        """A paragraph of plain text (escaped: user data is never markup)."""
        from reportlab.platypus import Paragraph

        if style is None:
            style = self.cjk if needs_cjk_font(text) else self.text
        return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _numbered_canvas(font: str, footer: str, pagesize):
    """A canvas that holds its pages until the end, then writes "page/pages" on each."""
    from reportlab.pdfgen.canvas import Canvas

    class NumberedCanvas(Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self):  # noqa: N802  (ReportLab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for page, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                self.saveState()
                self.setFont(font, 8)
                self.setFillColor(GREY)
                y = 10 * MM
                self.drawString(MARGIN, y, footer[:120])
                self.drawRightString(pagesize[0] - MARGIN, y, f"{page}/{total}")
                self.restoreState()
                Canvas.showPage(self)
            Canvas.save(self)

    return NumberedCanvas


def _kv_table(rows: list[tuple[str, str]], styles: _Styles, widths: tuple[float, float],
              align_right: bool = False):
    from reportlab.platypus import Table, TableStyle

    data = [[styles.para(label, styles.small), styles.para(value)] for label, value in rows]
    table = Table(data, colWidths=list(widths), hAlign="RIGHT" if align_right else "LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 4),
                               ("TOPPADDING", (0, 0), (-1, -1), 1),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
    return table


def _head(doc: Document, fmt: _Formats, styles: _Styles, width: float):
    from reportlab.platypus import Spacer, Table, TableStyle

    company = doc.company
    left = [styles.para(company.name, styles.company), Spacer(1, 2)]
    for label, value in ((None, company.address), ("Tax ID", company.tax_id),
                         ("Phone", company.phone), ("Bank account", company.bank)):
        if value:
            left.append(styles.para(f"{fmt.t(label)}: {value}" if label else value, styles.small))
    right = [styles.para(fmt.t(doc.title), styles.title)]
    if doc.status:
        right.append(styles.para(fmt.t(doc.status), styles.status))
    right.append(Spacer(1, 4))
    rows = [(fmt.t("Number"), doc.number or fmt.t("Draft"))]
    rows += [(fmt.t(label), fmt.value(value)) for label, value in doc.header if value is not None]
    right.append(_kv_table(rows, styles, (28 * MM, 42 * MM), align_right=True))
    table = Table([[left, right]], colWidths=[width * 0.55, width * 0.45])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
                               ("LINEBELOW", (0, 0), (-1, 0), 0.8, "#374151")]))
    return table


def _customer(doc: Document, fmt: _Formats, styles: _Styles, width: float):
    from reportlab.platypus import Table, TableStyle

    customer = doc.customer
    left = [styles.para(fmt.t("Customer"), styles.small), styles.para(customer.name, styles.party)]
    rows = [(fmt.t("Customer code"), customer.code), (fmt.t("Tax ID"), customer.tax_id),
            (fmt.t("Address"), customer.address)]
    left.append(_kv_table([(k, v) for k, v in rows if v], styles, (24 * MM, width * 0.55 - 28 * MM)))
    terms = [(fmt.t(label), fmt.value(value)) for label, value in doc.terms if value]
    right = _kv_table(terms, styles, (28 * MM, 42 * MM), align_right=True) if terms else ""
    table = Table([[left, right]], colWidths=[width * 0.55, width * 0.45])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                               ("TOPPADDING", (0, 0), (-1, -1), 8),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 10)]))
    return table


#: lines table: (label msgid, width in mm or None for the rest, right-aligned)
COLUMNS = (
    ("No.", 8, True), ("SKU", 18, False), ("Description", None, False), ("Quantity", 13, True),
    ("Unit", 9, False), ("Unit price", 17, True), ("Disc. %", 10, True), ("Tax rate", 10, True),
    ("Untaxed", 19, True), ("Tax", 16, True), ("Total", 19, True),
)


def _lines_table(doc: Document, fmt: _Formats, styles: _Styles, width: float):
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.platypus import LongTable, TableStyle

    fixed = sum(w for _, w, _ in COLUMNS if w) * MM
    widths = [w * MM if w else width - fixed for _, w, _ in COLUMNS]
    size, pad = 7.5, 2.5

    def cell(text: str, col: int):
        # a paragraph (wrapping) only when the text does not fit: tables of many lines stay fast
        if stringWidth(text, styles.regular, size) <= widths[col] - 2 * pad:
            return text
        return styles.para(text, styles.cjk)

    data: list[list[Any]] = [[styles.para(fmt.t(label), styles.head_right if right else styles.head)
                              for label, _, right in COLUMNS]]
    for n, line in enumerate(doc.lines, start=1):
        data.append([
            str(n), cell(line.sku, 1), cell(line.description, 2), fmt.qty(line.quantity),
            cell(line.unit, 4), fmt.price(line.unit_price), fmt.discount(line.discount),
            fmt.percent(line.tax_rate), fmt.amount(line.amount_untaxed),
            fmt.amount(line.amount_tax), fmt.amount(line.amount_total),
        ])
    table = LongTable(data, colWidths=widths, repeatRows=1)
    style = [
        ("FONT", (0, 0), (-1, -1), styles.regular, size),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), pad), ("RIGHTPADDING", (0, 0), (-1, -1), pad),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("BACKGROUND", (0, 0), (-1, 0), HEAD_BG),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, "#9ca3af"),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
    ]
    for col, (_, _, right) in enumerate(COLUMNS):
        if right:
            style.append(("ALIGN", (col, 1), (col, -1), "RIGHT"))
    table.setStyle(TableStyle(style))
    return table


def _totals(doc: Document, fmt: _Formats, styles: _Styles, width: float):
    from reportlab.platypus import Table, TableStyle

    rows = [(fmt.t("Untaxed amount"), fmt.money(doc.amount_untaxed))]
    taxed = [t for t in doc.taxes if t.rate is not None]
    if len(taxed) > 1:
        for tax in taxed:
            rows.append((fmt.t("Tax %(rate)s", rate=fmt.percent(tax.rate)), fmt.money(tax.amount)))
    else:
        label = fmt.t("Tax %(rate)s", rate=fmt.percent(taxed[0].rate)) if taxed else fmt.t("Tax")
        rows.append((label, fmt.money(doc.amount_tax)))
    rows.append((fmt.t("Total amount"), fmt.money(doc.amount_total)))
    table = Table(rows, colWidths=[40 * MM, 38 * MM], hAlign="RIGHT")
    last = len(rows) - 1
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), styles.regular, 9),
        ("FONT", (0, last), (-1, last), styles.bold, 11),
        ("ALIGN", (1, 0), (1, -1), "RIGHT"),
        ("LINEABOVE", (0, last), (-1, last), 0.8, "#374151"),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]))
    return table


def _after_totals(doc: Document, fmt: _Formats, styles: _Styles, width: float) -> list:
    from reportlab.platypus import KeepTogether, Spacer, Table, TableStyle

    out: list = [Spacer(1, 6)]
    if doc.currency == "CNY":
        out.append(styles.para(f"{fmt.t('Amount in words')}: {cny_in_words(doc.amount_total)}",
                               styles.words))
    for label, text in doc.notes:
        if text:
            out += [Spacer(1, 6), styles.para(fmt.t(label), styles.small), styles.para(text)]
    if doc.signature:
        cells = [[styles.para(fmt.t("For %(company)s", company=doc.company.name), styles.small), "",
                  styles.para(fmt.t("Customer confirmation (signature and stamp)"), styles.small)],
                 ["", "", ""]]
        side = (width - 16 * MM) / 2
        table = Table(cells, colWidths=[side, 16 * MM, side], rowHeights=[None, 18 * MM],
                      hAlign="LEFT")
        table.setStyle(TableStyle([("LINEBELOW", (0, 1), (0, 1), 0.5, GREY),
                                   ("LINEBELOW", (2, 1), (2, 1), 0.5, GREY),
                                   ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                   ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
        out += [Spacer(1, 14), KeepTogether([table])]
    return out
