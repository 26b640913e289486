"""Appeals against malicious 差评: submitted with evidence, reviewed by a manager other than the
one who submitted it. Upheld, the rating leaves scoring (the report's appeals_upheld column) and
the entry is closed; the ledger's audit trail records who decided and when."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from centre.ledger.entries import LedgerError, close_by_appeal, known_entry, log_action, require_actor, require_text
from centre.storage.models import Appeal, LedgerEntry

DECISIONS = ("upheld", "rejected")


def submit_appeal(session: Session, entry_id: int, evidence: str, actor: str, now: datetime) -> Appeal:
    entry = known_entry(session, entry_id)
    evidence, actor = require_text(evidence, "the evidence"), require_actor(actor)
    earlier = session.scalars(select(Appeal).where(Appeal.entry_id == entry_id)).all()
    if any(appeal.decision is None for appeal in earlier):
        raise LedgerError(f"entry {entry_id} already has an appeal waiting for review")
    if any(appeal.decision == "upheld" for appeal in earlier):
        raise LedgerError(f"an appeal against entry {entry_id} has been upheld already")
    appeal = Appeal(entry_id=entry.id, evidence=evidence, submitted_by=actor, submitted_at=now)
    session.add(appeal)
    session.flush()
    log_action(session, entry, "appeal_submitted", actor, now, evidence)
    session.flush()
    return appeal


def review_appeal(session: Session, appeal_id: int, decision: str, actor: str, now: datetime,
                  note: str | None = None) -> Appeal:
    appeal = session.get(Appeal, appeal_id)
    if appeal is None:
        raise LedgerError(f"no appeal {appeal_id}", code="unknown_appeal", status=404)
    if decision not in DECISIONS:
        raise LedgerError(f"a decision is one of {', '.join(DECISIONS)}", code="invalid", status=422)
    actor = require_actor(actor)
    if appeal.decision is not None:
        raise LedgerError(f"appeal {appeal_id} was already {appeal.decision}")
    if actor == appeal.submitted_by:
        raise LedgerError("an appeal is reviewed by someone other than the one who submitted it",
                          code="same_person", status=403)
    appeal.decision, appeal.decision_note, appeal.decided_by, appeal.decided_at = decision, note, actor, now
    entry = session.get(LedgerEntry, appeal.entry_id)
    log_action(session, entry, f"appeal_{decision}", actor, now, note)
    if decision == "upheld":
        close_by_appeal(session, entry, actor, now)
    session.flush()
    return appeal


def upheld_transaction_ids(session: Session) -> frozenset[str]:
    """Transactions whose rating is excluded from scoring by an upheld appeal."""
    return frozenset(session.scalars(
        select(LedgerEntry.transaction_id).join(Appeal, Appeal.entry_id == LedgerEntry.id)
        .where(Appeal.decision == "upheld")
    ))
