"""Money: ``Decimal`` end to end, one rounding policy.

Policy (documented in docs/configuration.md): amounts are rounded to the currency's minor unit
(``digits``, 2 for CNY/USD/EUR, 0 for JPY) with ROUND_HALF_UP, the commercial rounding Chinese
VAT invoices use. Rounding happens once per line (line subtotal and line tax), then document
totals are the sum of rounded lines, so a document always equals the sum of its printed lines.
Unit prices keep up to 6 decimals; quantities up to 3.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# Minor-unit digits of the currencies a client may name without declaring them.
CURRENCY_DIGITS = {"CNY": 2, "USD": 2, "EUR": 2, "HKD": 2, "GBP": 2, "JPY": 0, "KRW": 0}

ZERO = Decimal("0")
PRICE_DIGITS = 6
QTY_DIGITS = 3


def to_decimal(value: object, field: str = "amount") -> Decimal:
    """Convert user input to Decimal; floats are refused (they are already wrong)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        raise TypeError(f"{field}: floats are not accepted for money, pass a string or Decimal")
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"{field}: {value!r} is not a number") from exc
    if not result.is_finite():
        raise ValueError(f"{field}: {value!r} is not a finite number")
    return result


def quantum(digits: int) -> Decimal:
    return Decimal(1).scaleb(-digits)


def round_money(amount: Decimal, currency: str = "CNY", digits: int | None = None) -> Decimal:
    """Round ``amount`` to the currency's minor unit, half up."""
    if digits is None:
        digits = CURRENCY_DIGITS.get(currency, 2)
    return amount.quantize(quantum(digits), rounding=ROUND_HALF_UP)


def round_price(amount: Decimal) -> Decimal:
    return amount.quantize(quantum(PRICE_DIGITS), rounding=ROUND_HALF_UP)
