"""Column types shared by the sale records: money is Numeric, never float."""

from sqlalchemy import Numeric

Money = Numeric(18, 2)  # amounts in a currency (rounded per core.money)
Price = Numeric(18, 6)  # unit prices
Qty = Numeric(16, 3)  # quantities
Rate = Numeric(12, 6)  # exchange rates, tax rates, percentages
