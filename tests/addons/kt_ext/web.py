"""kt_ext's web views: one more list (confirmed documents) and its menu entry, and two panels
on kt_doc's record page (``core.web.Panel``: added without replacing kt_doc's page)."""

from __future__ import annotations

from sqlalchemy import func, select

from core.web import Column, ListView, Menu, Panel, Views


def _stamps(env, doc) -> dict:
    Stamp = env["kt.stamp"]
    count = env.session.scalar(select(func.count()).select_from(Stamp).where(Stamp.doc_id == doc.id))
    return {"Stamped transitions": count}


def _review(env, doc):
    """Nothing to review on a document without an amount: the panel is left out."""
    if not doc.amount:
        return None
    return [("Amount to review", doc.amount)]


VIEWS = Views(
    menus=[Menu("kt_confirmed", "Confirmed documents", "已确认文档", "web.record_list",
                args={"name": "kt_confirmed"}, record="kt.doc", order=11)],
    lists=[ListView("kt_confirmed", record="kt.doc", title="Confirmed documents",
                    columns=[Column("name", "Name", link=True),
                             Column("discount", "Discount", "decimal")],
                    base=lambda env, cls: [cls.state == "confirmed"])],
    panels=[
        # readers of kt.stamp (managers, directors)
        Panel("kt.doc", "kt_stamps", "Stamps", load=_stamps, records=("kt.stamp",), order=20),
        # managers only, before the stamps
        Panel("kt.doc", "kt_review", "Manager review", load=_review, roles=("kt_manager",),
              order=10),
    ],
)
