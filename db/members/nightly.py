"""The members' part of the nightly job: birthday bonuses, expiry, expiry notices and the
yearly tier evaluation. Each step is safe to run twice (idempotency keys, conditional updates,
a claim per evaluation date), so a night re-run after a crash changes nothing done before.
"""

from __future__ import annotations

import datetime as dt
import logging

from db.clock import now
from db.engine import as_date, is_sqlite, is_unique_violation, raw, writing
from db.members import config, ledger, membership, notify
from db.members.expiry import expire_due

log = logging.getLogger("crm.nightly")
NOTICE_DAYS = 30
CHUNK = 5000


async def birthday_bonuses(today: dt.date, cfg: config.PointsConfig) -> int:
    if not cfg.birthday_bonus:
        return 0
    month_day = ("strftime('%m-%d', c.birthday)" if is_sqlite() else "to_char(c.birthday, 'MM-DD')")
    rows = await raw(f"SELECT m.id FROM member m JOIN customer c ON c.id = m.customer "
                     f"WHERE c.birthday IS NOT NULL AND {month_day} = {{}}", today.strftime("%m-%d"))
    given = 0
    for row in rows:
        result = await ledger.post(row["id"], cfg.birthday_bonus, kind="earn", reason="birthday bonus",
                                   source_type="rule", key=f"birthday:{row['id']}:{today.year}",
                                   actor="nightly")
        given += not result.replayed
    return given


async def expiry_notices(today: dt.date) -> int:
    """Tell each member, once per date, about points that expire within 30 days."""
    rows = await raw(
        "SELECT member, MIN(expires_on) AS first_on, SUM(remaining) AS points FROM points_lot "
        "WHERE remaining > 0 AND expires_on >= {} AND expires_on <= {} GROUP BY member",
        today, today + dt.timedelta(days=NOTICE_DAYS))
    sent = 0
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        async with writing():
            for row in chunk:
                first_on = as_date(row["first_on"])
                claimed = await raw(
                    "UPDATE member SET expiry_notice_on = {} WHERE id = {} AND "
                    "(expiry_notice_on IS NULL OR expiry_notice_on < {}) RETURNING id",
                    first_on, row["member"], first_on)
                if claimed:
                    await notify.points_expiring(row["member"], int(row["points"]), first_on)
                    sent += 1
    return sent


async def _standings(after_id: int) -> list[dict]:
    since = now() - membership.YEAR
    return await raw(
        f"SELECT m.id, m.tier, m.downgrade_to, {membership.STANDING_COLUMNS} "
        f"FROM member m WHERE m.id > {{}} ORDER BY m.id LIMIT {CHUNK}", since, since, after_id)


async def _claim_evaluation(day: dt.date) -> bool:
    """True until the review for `day` has finished: a review cut short (a crash, a restart)
    runs again and does the rest; its conditional updates never move anyone twice."""
    key = f"tier_evaluation:{day.isoformat()}"
    rows = await raw("SELECT value FROM shop_setting WHERE key = {}", key)
    if rows:
        return rows[0]["value"] != "done"
    try:
        async with writing():
            await raw("INSERT INTO shop_setting (key, value, updated_at) VALUES ({}, {}, {})",
                      key, "running", now())
        return True
    except Exception as exc:
        if is_unique_violation(exc):
            return False
        raise


async def _finish_evaluation(day: dt.date) -> None:
    async with writing():
        await raw("UPDATE shop_setting SET value = 'done', updated_at = {} WHERE key = {}",
                  now(), f"tier_evaluation:{day.isoformat()}")


async def evaluate_tiers(today: dt.date, cfg: config.PointsConfig) -> dict:
    """In the grace window before the evaluation date, members who would drop are told once
    (downgrade_to is set); on the date itself, they drop to the tier they qualify for."""
    this_year = config.same_day(today.year, *(int(p) for p in cfg.evaluate_on.split("-")))
    evaluate = today >= this_year and await _claim_evaluation(this_year)
    upcoming = cfg.next_evaluation(today + dt.timedelta(days=1))
    in_grace = 0 < (upcoming - today).days <= cfg.grace_days
    if not evaluate and not in_grace:
        return {"noticed": 0, "downgraded": 0}
    all_tiers = await membership.tiers()
    by_id = {t["id"]: t for t in all_tiers}
    noticed = downgraded = 0
    after = 0
    while True:
        rows = await _standings(after)
        if not rows:
            break
        after = rows[-1]["id"]
        async with writing():
            for row in rows:
                target = membership.qualified_tier(all_tiers, int(row["spend_12m"]), int(row["points_12m"]))
                current = by_id[row["tier"]]
                if target["position"] >= current["position"]:
                    continue
                if evaluate:
                    stamp = now()
                    moved = await raw("UPDATE member SET tier = {}, tier_since = {}, downgrade_to = NULL, "
                                      "updated_at = {} WHERE id = {} AND tier = {} RETURNING id",
                                      target["id"], stamp, stamp, row["id"], current["id"])
                    if moved:
                        await membership.record_tier_change(row["id"], current["id"], target["id"],
                                                      f"evaluation {this_year.isoformat()}", "nightly", stamp)
                        downgraded += 1
                elif row["downgrade_to"] != target["id"]:
                    await raw("UPDATE member SET downgrade_to = {} WHERE id = {}", target["id"], row["id"])
                    await notify.downgrade_notice(row["id"], target["name"], upcoming)
                    noticed += 1
    if evaluate:
        await _finish_evaluation(this_year)
    return {"noticed": noticed, "downgraded": downgraded}


async def run_member_jobs(today: dt.date) -> dict:
    cfg = await config.load()
    result = {"birthday_bonuses": await birthday_bonuses(today, cfg),
              "expired_lots": await expire_due(today),
              "expiry_notices": await expiry_notices(today),
              **await evaluate_tiers(today, cfg)}
    notify.wake()
    return result
