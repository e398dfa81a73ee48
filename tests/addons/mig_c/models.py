from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.registry import model


@model("mig.note")
class Note:
    __tablename__ = "mig_note"

    body: Mapped[str] = mapped_column(String(200))
