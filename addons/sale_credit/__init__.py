"""The sale_credit addon: customer credit control and collections. See docs/sale_credit.md."""
