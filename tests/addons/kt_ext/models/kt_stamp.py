"""``kt.stamp``: kt_ext's own record (its data goes into its own table, not kt.doc)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.registry import model


@model("kt.stamp")
class KtStamp:
    """One row per transition of a kt.doc, written by the ``workflow_transition_done`` hook."""

    __tablename__ = "kt_stamp"

    doc_id: Mapped[int] = mapped_column(ForeignKey("kt_doc.id"), index=True)
    trigger: Mapped[str] = mapped_column(String(64))
    dest: Mapped[str] = mapped_column(String(32))
