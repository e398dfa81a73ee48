"""Services of sale_credit: functions taking an ``env``."""
