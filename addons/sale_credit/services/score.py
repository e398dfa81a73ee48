"""Credit scores from payment history, and the grade changes they propose.

The formula (docs/sale_credit.md, "Credit score"), for a customer scored on date ``D`` over a
window of ``score_window_days`` before it; amounts in the company currency:

* invoices considered: posted (or paid) invoices dated in the window, their instalments due
  on or before ``D`` (sale's ``sale.invoice.instalment``); an allocation (payment or credit
  note) counts if dated on or before ``D`` and settles the instalments in sequence, the
  earliest first (sale's ``receivables.settle_instalments``);
* ``days_late``: amount-weighted average of days late: each part of an instalment paid is late
  by ``max(0, its date - due date)``, the part still open on ``D`` by ``max(0, D - due date)``;
  factor ``f_late = max(0, 1 - days_late / score_days_late_cap)``;
* ``on_time``: share of those instalments' amounts paid on or before their due date;
  factor ``f_on_time`` = that share;
* ``overdue``: what is open on ``D`` of every instalment due before ``D`` (any date), relative to
  the customer's effective limit: ``f_overdue = max(0, 1 - overdue / limit)`` (no limit:
  1 if nothing is overdue, else 0);
* ``relationship``: days from the first posted invoice to ``D``:
  ``f_rel = min(1, days / score_relationship_days)``;
* ``score = round(100 * sum(w_k * f_k) / sum(w_k), 1)`` with the weights of
  ``[addon.sale_credit.score_weights]``.

A customer without any invoice due in the window is not scored (no score, no proposal). The
proposed grade is the configured grade with the highest ``min_score`` at or below the score.

**History.** Every score is kept, one ``sale.credit.score`` row per customer and date. The
customer's ``credit_score`` / ``credit_score_date`` are the current score: the latest date's.
A rescore as of a date before the customer's current score date records that date's score as
history only: the current score stays, and no grade is proposed or superseded (a grade is
decided on the customer's latest standing, never on an older one). Rescoring the current date
again, or a later one, replaces the current score and proposes as usual.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select

from core.errors import TransitionBlocked, ValidationError

from . import credit

ZERO = Decimal("0")
ONE = Decimal("1")


def _factor(value: Decimal) -> Decimal:
    return max(ZERO, min(ONE, value)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def score_customers(env, date: dt.date, customer_ids: list[int] | None = None) -> dict[int, dict]:
    """``{customer_id: {"score": Decimal | None, "factors": {...}}}`` as of ``date``."""
    settings = env.settings("sale_credit")
    weights = settings["score_weights"]
    window_start = date - dt.timedelta(days=settings["score_window_days"])
    cap = Decimal(settings["score_days_late_cap"])
    rel_days = Decimal(settings["score_relationship_days"])
    Customer, Invoice = env["sale.customer"], env["sale.invoice"]
    Allocation = env["sale.payment.allocation"]
    with env.sudo():
        stmt = select(Customer).where(Customer.merged_into_id.is_(None))
        if customer_ids is not None:
            stmt = stmt.where(Customer.id.in_(customer_ids))
        customers = {c.id: c for c in env.session.scalars(stmt.order_by(Customer.id))}
        inv_stmt = select(Invoice.id, Invoice.customer_id, Invoice.date, Invoice.due_date,
                          Invoice.amount_total, Invoice.currency).where(
            Invoice.kind == "invoice", Invoice.state.in_(("posted", "paid")),
            Invoice.date <= date, Invoice.customer_id.in_(list(customers)))
        invoices = env.session.execute(inv_stmt).all()
        ids = [row.id for row in invoices]
        instalments = credit._receivables().instalments_of(env, ids)
        allocations: dict[int, list[tuple[dt.date, Decimal]]] = {}
        for start in range(0, len(ids), 500):
            for inv_id, amount, adate in env.session.execute(
                    select(Allocation.invoice_id, Allocation.amount, Allocation.date)
                    .where(Allocation.invoice_id.in_(ids[start:start + 500]),
                           Allocation.date <= date)):
                allocations.setdefault(inv_id, []).append((adate, Decimal(amount)))
    per: dict[int, dict[str, Any]] = {
        cid: {"amount_due": ZERO, "late_weighted": ZERO, "on_time": ZERO, "overdue": ZERO,
              "first": None, "invoices": 0} for cid in customers}
    for row in invoices:
        p = per[row.customer_id]
        total = Decimal(row.amount_total or 0)
        if total <= 0:
            continue
        rate = credit.to_company(env, ONE * 10000, row.currency, row.date) / 10000
        due = row.due_date or row.date
        paid = sorted(allocations.get(row.id, []))
        if p["first"] is None or row.date < p["first"]:
            p["first"] = row.date
        # per instalment (the payments settle them in sequence, the earliest first): what was
        # paid of it when, and what is still open
        schedule = [(d, a) for d, a, _c in instalments.get(row.id, [])] or [(due, total)]
        parts = credit._receivables().settle_instalments(schedule, paid)
        p["overdue"] += sum((a for d, when, a in parts if when is None and d < date), ZERO) * rate
        if row.date <= window_start:
            continue
        due_parts = [(d, when, a) for d, when, a in parts if d <= date]
        if not due_parts:
            continue
        p["invoices"] += 1
        p["amount_due"] += sum((a for _d, _w, a in due_parts), ZERO) * rate
        late = sum((a * max(0, ((when or date) - d).days) for d, when, a in due_parts), ZERO)
        p["late_weighted"] += late * rate
        p["on_time"] += sum((a for d, when, a in due_parts
                             if when is not None and when <= d), ZERO) * rate
    out = {}
    weight_sum = sum(weights.values(), ZERO)
    for cid, p in per.items():
        customer = customers[cid]
        limit = customer.credit_limit_effective()
        factors: dict[str, Any] = {
            "invoices": p["invoices"], "amount_due": str(p["amount_due"].quantize(credit.CENT)),
            "overdue_amount": str(p["overdue"].quantize(credit.CENT)),
            "first_invoice": p["first"].isoformat() if p["first"] else None,
        }
        if not p["invoices"] or p["amount_due"] <= 0:
            out[cid] = {"score": None, "factors": factors}
            continue
        days_late = p["late_weighted"] / p["amount_due"]
        f_late = _factor(ONE - days_late / cap)
        f_on_time = _factor(p["on_time"] / p["amount_due"])
        if limit is None or limit <= 0:
            f_overdue = ONE if p["overdue"] <= 0 else ZERO
        else:
            f_overdue = _factor(ONE - p["overdue"] / limit)
        age = (date - p["first"]).days if p["first"] else 0
        f_rel = _factor(Decimal(age) / rel_days)
        factors.update({
            "days_late": str(days_late.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)),
            "relationship_days": age,
            "f_days_late": str(f_late), "f_on_time": str(f_on_time),
            "f_overdue": str(f_overdue), "f_relationship": str(f_rel),
        })
        total = (weights["days_late"] * f_late + weights["on_time"] * f_on_time
                 + weights["overdue"] * f_overdue + weights["relationship"] * f_rel)
        score = (Decimal(100) * total / weight_sum).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        out[cid] = {"score": score, "factors": factors}
    return out


def grade_for(env, score: Decimal) -> str | None:
    """The configured grade with the highest ``min_score`` at or below ``score``."""
    grades = env.settings("sale_credit")["grades"]
    fitting = [(g["min_score"], code) for code, g in grades.items() if g["min_score"] <= score]
    return max(fitting)[1] if fitting else None


def rescore(env, date: dt.date | None = None, customer_ids: list[int] | None = None) -> list[dict]:
    """Store every customer's score as of ``date`` (default today; not after today) in its
    history and, when ``date`` is not before the customer's current score date, as its current
    score, proposing grade changes (older open proposals of a customer are superseded). Returns
    one dict per customer scored: ``score``, ``current`` (False: history only; the current
    score, of ``current_score_date``, was kept), ``grade``, ``proposed``, ``factors``."""
    date = credit.run_date(env, date, "a rescore")
    P, Score = env["sale.credit.grade_proposal"], env["sale.credit.score"]
    results = []
    with env.sudo():
        scores = score_customers(env, date, customer_ids)
        open_props: dict[int, list] = {}
        for prop in env.session.scalars(select(P).where(P.state == "proposed")):
            open_props.setdefault(prop.customer_id, []).append(prop)
        scored = [cid for cid, result in scores.items() if result["score"] is not None]
        kept: dict[int, Any] = {}
        for start in range(0, len(scored), 500):
            for row in env.session.scalars(select(Score).where(
                    Score.date == date, Score.customer_id.in_(scored[start:start + 500]))):
                kept[row.customer_id] = row
        Customer = env["sale.customer"]
        for cid in scored:
            result = scores[cid]
            customer = env.session.get(Customer, cid)
            score = result["score"]
            row = kept.get(cid)
            if row is None:
                env.session.add(Score(customer_id=cid, date=date, score=score,
                                      factors=result["factors"]))
            elif row.score != score or row.factors != result["factors"]:
                row.score, row.factors = score, result["factors"]
            current = customer.credit_grade_code()
            entry = {"customer_id": cid, "code": customer.code, "score": score,
                     "grade": current, "proposed": None, "factors": result["factors"],
                     "current": True, "current_score_date": date}
            results.append(entry)
            if customer.credit_score_date is not None and date < customer.credit_score_date:
                entry.update(current=False, current_score_date=customer.credit_score_date)
                continue  # history: the newer current score and its proposals stay
            if customer.credit_score != score or customer.credit_score_date != date:
                customer.credit_score, customer.credit_score_date = score, date
            proposed = grade_for(env, score)
            same = [p for p in open_props.get(cid, []) if p.proposed_grade == proposed]
            for prop in open_props.get(cid, []):
                if prop not in same or proposed == current:
                    prop.state = "superseded"
            if proposed is not None and proposed != current:
                entry["proposed"] = proposed
                if same:
                    same[0].score, same[0].date, same[0].factors = score, date, result["factors"]
                    same[0].current_grade = current
                else:
                    env.session.add(P(customer_id=cid, date=date, score=score,
                                      factors=result["factors"], current_grade=current,
                                      proposed_grade=proposed, state="proposed"))
        env.session.flush()
    return results


def decide_proposal(env, proposal_id: int, accept: bool, comment: str | None = None):
    """A credit manager accepts (the customer's grade changes, audited) or rejects a proposal."""
    from .profile import require_credit_manager, update_profile

    require_credit_manager(env)
    proposal = env.get("sale.credit.grade_proposal", proposal_id)
    if proposal.state != "proposed":
        raise TransitionBlocked(proposal, "accept" if accept else "reject", [
            f"proposal {proposal.id} is {proposal.state}, not proposed"])
    if accept:
        grades = env.settings("sale_credit")["grades"]
        if proposal.proposed_grade not in grades:
            raise ValidationError({"proposed_grade": [
                f"grade {proposal.proposed_grade!r} is no longer configured"]})
        update_profile(env, proposal.customer_id, credit_grade=proposal.proposed_grade,
                       note=f"grade proposal {proposal.id} accepted (score {proposal.score})"
                       + (f": {comment.strip()}" if comment and comment.strip() else ""))
    with env.sudo():
        proposal.state = "accepted" if accept else "rejected"
        proposal.decided_by = env.user_id
        proposal.decided_at = env.now
        proposal.comment = (comment or "").strip() or None
        env.session.flush()
    return proposal
