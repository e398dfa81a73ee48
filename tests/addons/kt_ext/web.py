"""kt_ext's web views: one more list (confirmed documents) and its menu entry."""

from __future__ import annotations

from core.web import Column, ListView, Menu, Views

VIEWS = Views(
    menus=[Menu("kt_confirmed", "Confirmed documents", "已确认文档", "web.record_list",
                args={"name": "kt_confirmed"}, record="kt.doc", order=11)],
    lists=[ListView("kt_confirmed", record="kt.doc", title="Confirmed documents",
                    columns=[Column("name", "Name", link=True),
                             Column("discount", "Discount", "decimal")],
                    base=lambda env, cls: [cls.state == "confirmed"])],
)
