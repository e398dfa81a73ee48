"""The sale addon: order-to-cash. See docs/sale.md."""
