"""Dunning letter texts, per template key and language (en, zh_CN).

Placeholders (``str.format_map`` with a safe mapping: an unknown ``{name}`` stays as it is,
never an error in the middle of a run):

=============  ==================================================================
``{customer}``  the customer's name
``{invoice}``   the invoice number
``{amount}``    what is open on the invoice, e.g. ``1,130.00`` (Decimal, the currency's digits)
``{currency}``  the invoice currency, e.g. ``CNY``
``{due_date}``  the due date, ISO (``2026-02-04``)
``{days}``      days overdue (``abs(days)`` days *before* due for the friendly reminder)
``{company}``   the client's name (``[client].name``)
=============  ==================================================================

A client changes a text by adding its own template key here (a new addon may also register
more through ``TEMPLATES``) and naming it in ``[addon.sale_credit.dunning]`` levels.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from core.money import CURRENCY_DIGITS, quantum

#: the languages letters are written in; another customer language falls back (see lang_of)
LANGUAGES = ("en", "zh_CN")
DEFAULT_LANG = "en"

#: template key -> language -> (subject, body)
TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "friendly": {
        "en": (
            "Friendly reminder: invoice {invoice} is due on {due_date}",
            "Dear {customer},\n\n"
            "This is a friendly reminder that invoice {invoice} for {currency} {amount} is due "
            "on {due_date}, in {days} days. If you have already arranged the payment, thank you "
            "and please disregard this message.\n\n"
            "Kind regards,\n{company}\n",
        ),
        "zh_CN": (
            "温馨提示：发票 {invoice} 将于 {due_date} 到期",
            "{customer}：\n\n"
            "您好！发票 {invoice}，金额 {currency} {amount}，将于 {due_date} 到期（还有 {days} 天）。"
            "如您已安排付款，谢谢，请忽略本通知。\n\n"
            "此致\n敬礼\n{company}\n",
        ),
    },
    "reminder": {
        "en": (
            "Payment reminder: invoice {invoice} is overdue",
            "Dear {customer},\n\n"
            "Our records show that invoice {invoice} for {currency} {amount}, due on {due_date}, "
            "is {days} days overdue. Please arrange the payment at your earliest convenience.\n\n"
            "Kind regards,\n{company}\n",
        ),
        "zh_CN": (
            "付款提醒：发票 {invoice} 已逾期",
            "{customer}：\n\n"
            "您好！根据我方记录，发票 {invoice}，金额 {currency} {amount}，到期日 {due_date}，"
            "已逾期 {days} 天。请尽快安排付款。\n\n"
            "此致\n敬礼\n{company}\n",
        ),
    },
    "warning": {
        "en": (
            "Second reminder: invoice {invoice} is {days} days overdue",
            "Dear {customer},\n\n"
            "Despite our reminder, invoice {invoice} for {currency} {amount}, due on {due_date}, "
            "is still unpaid ({days} days overdue). Please pay it within 7 days; otherwise we may "
            "have to suspend deliveries on credit.\n\n"
            "Kind regards,\n{company}\n",
        ),
        "zh_CN": (
            "催款警告：发票 {invoice} 已逾期 {days} 天",
            "{customer}：\n\n"
            "经我方提醒，发票 {invoice}，金额 {currency} {amount}，到期日 {due_date}，至今仍未支付"
            "（已逾期 {days} 天）。请于 7 日内付款，否则我方可能暂停赊销发货。\n\n"
            "此致\n敬礼\n{company}\n",
        ),
    },
    "final": {
        "en": (
            "Final notice: invoice {invoice} ({currency} {amount})",
            "Dear {customer},\n\n"
            "This is our final notice: invoice {invoice} for {currency} {amount}, due on "
            "{due_date}, is {days} days overdue. Unless it is paid immediately, further "
            "deliveries on credit are suspended (credit hold). Please contact us now.\n\n"
            "Kind regards,\n{company}\n",
        ),
        "zh_CN": (
            "最后催款通知：发票 {invoice}（{currency} {amount}）",
            "{customer}：\n\n"
            "这是最后一次催款通知：发票 {invoice}，金额 {currency} {amount}，到期日 {due_date}，"
            "已逾期 {days} 天。如不立即付款，我方将暂停赊销发货（信用冻结）。请立即与我们联系。\n\n"
            "此致\n敬礼\n{company}\n",
        ),
    },
}


class _SafeMap(dict):
    """A mapping for ``str.format_map`` that leaves unknown placeholders as they are."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def lang_of(customer_lang: str | None) -> str:
    """The letter language for a customer's ``lang``: itself when we have texts in it,
    zh_* -> zh_CN, anything else -> en."""
    if customer_lang in LANGUAGES:
        return customer_lang
    if customer_lang and customer_lang.lower().startswith("zh"):
        return "zh_CN"
    return DEFAULT_LANG


def format_amount(amount: Decimal, currency: str = "CNY") -> str:
    """``Decimal("1130")`` -> ``"1,130.00"``: the currency's minor unit (JPY none), half up,
    thousands separated, never through float."""
    digits = CURRENCY_DIGITS.get(currency, 2)
    return f"{Decimal(amount).quantize(quantum(digits), rounding=ROUND_HALF_UP):,}"


def render(template: str, lang: str, *, customer: str, invoice: str, amount: Decimal,
           currency: str, due_date: dt.date, days: int, company: str = "",
           templates: dict[str, dict[str, tuple[str, str]]] | None = None) -> tuple[str, str]:
    """``(subject, body)`` of ``template`` in ``lang`` (see the module docstring)."""
    texts = (templates or TEMPLATES)[template]
    subject, body = texts.get(lang) or texts[DEFAULT_LANG]
    values: dict[str, Any] = _SafeMap(
        customer=customer, invoice=invoice, amount=format_amount(amount, currency),
        currency=currency,
        due_date=due_date.isoformat(), days=abs(days), company=company,
    )
    return subject.format_map(values), body.format_map(values)
