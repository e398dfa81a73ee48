from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.registry import extends, model


@model("mig.tag")
class Tag:
    __tablename__ = "mig_tag"

    label: Mapped[str] = mapped_column(String(32))


@extends("mig.thing")
class ThingTagged:
    color: Mapped[str | None] = mapped_column(String(16))
    tag_id: Mapped[int | None] = mapped_column(ForeignKey("mig_tag.id"), index=True)
