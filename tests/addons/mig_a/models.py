from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.registry import model


@model("mig.thing")
class Thing:
    __tablename__ = "mig_thing"

    name: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("res_user.id"))


@model("mig.thing_line")
class ThingLine:
    __tablename__ = "mig_thing_line"

    thing_id: Mapped[int] = mapped_column(ForeignKey("mig_thing.id", ondelete="CASCADE"), index=True)
    qty: Mapped[int] = mapped_column(default=0)
