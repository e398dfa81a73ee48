"""Gap-free numbering: the counter row is locked and incremented in the caller's transaction,
so a rolled-back document gives its number back and two documents never share one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError

if TYPE_CHECKING:
    from core.env import Env


class Sequences:
    def __init__(self, registry) -> None:
        self.registry = registry
        self._take = None  # the UPDATE .. RETURNING, built once (every document numbers)

    def next(self, env: Env, code: str, period: str = "", count: int = 1) -> int:
        """The next number (with ``count`` > 1: the last of ``count`` consecutive numbers,
        taken at once)."""
        Seq = self.registry["res.sequence"]
        table = Seq.__table__
        session = env.session
        with env.sudo():
            for _ in range(2):
                # UPDATE ... RETURNING takes the row lock on PostgreSQL and is serialised by
                # BEGIN IMMEDIATE on SQLite.
                result = session.connection().execute(
                    self._take_statement(table), {"s_code": code, "s_period": period, "s_count": count}
                ).scalar_one_or_none()
                if result is not None:
                    return result
                # a savepoint of the connection, not of the session: the session's would
                # flush pending records first (an order not numbered yet, for one)
                connection = session.connection()
                try:
                    with connection.begin_nested():
                        connection.execute(
                            table.insert().values(code=code, period=period, last=0, version=1)
                        )
                except IntegrityError:
                    pass  # created concurrently: loop and increment it
            raise RuntimeError(f"sequence {code}/{period} could not be created")

    def _take_statement(self, table):
        if self._take is None:
            self._take = (
                update(table)
                .where(table.c.code == bindparam("s_code"), table.c.period == bindparam("s_period"))
                .values(last=table.c.last + bindparam("s_count"), version=table.c.version + 1)
                .returning(table.c.last))
        return self._take

    def peek(self, env: Env, code: str, period: str = "") -> int:
        Seq = self.registry["res.sequence"]
        with env.sudo():
            last = env.session.scalar(select(Seq.last).where(Seq.code == code, Seq.period == period))
        return last or 0
