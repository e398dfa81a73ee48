from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.registry import model


@model("mig.broken")
class Broken:
    __tablename__ = "mig_broken"

    name: Mapped[str] = mapped_column(String(64))
