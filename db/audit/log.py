"""The audit log: sign-ins, failed sign-ins, exports and changes to customer data."""

from __future__ import annotations

from db.audit.tables import AuditEntry
from db.clock import now


async def record(
    action: str,
    *,
    actor_id: int | None = None,
    actor: str = "",
    target_type: str = "",
    target_id: int | None = None,
    ip: str = "",
    detail: dict | None = None,
) -> None:
    """Append an entry. Callers pass field names that changed, never personal values."""
    await AuditEntry.insert(
        AuditEntry(
            at=now(),
            actor_id=actor_id,
            actor=actor[:80],
            action=action,
            target_type=target_type,
            target_id=target_id,
            ip=ip[:64],
            detail=detail or {},
        )
    )


async def recent(limit: int = 50, before_id: int | None = None) -> list[dict]:
    query = AuditEntry.select().order_by(AuditEntry.id, ascending=False).limit(limit)
    if before_id:
        query = query.where(AuditEntry.id < before_id)
    return await query
