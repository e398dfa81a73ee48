"""Only when mig_b is enabled: a tag may point at a note."""

from __future__ import annotations

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from core.registry import extends


@extends("mig.tag")
class TagNote:
    note_id: Mapped[int | None] = mapped_column(ForeignKey("mig_note.id"))
