"""Demo follow-ups for `crm demo`: for the admin and every demo staff member, a few overdue,
some due today and this week, and some completed this week, on customers they may see, so
Today and the team view are not empty. Deterministic for a seed and `now`."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from db.customers.service import refresh_next_follow_up
from db.engine import raw, writing
from db.followups.tables import FollowUp, FollowUpPlan

TASKS = (
    ("call", "回访：新品面霜用得怎么样"), ("call", "生日前问候，推荐生日礼"), ("message", "发送会员日活动"),
    ("visit", "到店试用新品"), ("after_sales", "售后回访：退换货是否满意"), ("call", "沉睡客户唤醒电话"),
    ("message", "提醒领取积分兑换券"), ("after_sales", "物流延误致歉回访"), ("call", "确认团购数量"),
)
OUTCOMES = ("已接通 · 很满意，下周再来", "未接听 · 改天再打", "有兴趣 · 周五下单", "已解决 · 换货完成")
# (hours from now, status) for each person: overdue, today, this week, done this week
PLAN = ((-50, "open"), (-5, "open"), (1, "open"), (3, "open"), (6, "open"), (30, "open"),
        (54, "open"), (100, "open"), (-26, "done"), (-8, "done"), (-74, "done"))


async def load_demo_follow_ups(seed: int, now: datetime) -> int:
    rng = random.Random(seed * 104729 + 3)
    people = await raw("SELECT id, role, team FROM staff_user WHERE is_active ORDER BY id")
    made = 0
    async with writing():
        for person in people:
            where = "owner = {}" if person["role"] == "staff" else "1 = 1"
            args = [person["id"]] if person["role"] == "staff" else []
            customers = await raw(f"SELECT id FROM customer WHERE {where} ORDER BY id LIMIT 200", *args)
            if not customers:
                continue
            for hours, status in PLAN:
                if rng.random() < 0.3:  # people differ: not everyone has every kind of day
                    continue
                kind, title = rng.choice(TASKS)
                due = (now + timedelta(hours=hours)).replace(minute=rng.choice((0, 15, 30, 45)), second=0,
                                                             microsecond=0)
                done = status == "done"
                await FollowUp.insert(FollowUp(
                    customer=rng.choice(customers)["id"], assignee=person["id"], kind=kind, title=title,
                    priority=rng.choice(("normal", "normal", "high", "low")), status=status, due_at=due,
                    remind_at=None if done or due < now else due,
                    reminder_state="none" if done or due < now else "pending",
                    outcome=rng.choice(OUTCOMES) if done else "", done_at=due if done else None,
                    done_by=person["id"] if done else None, source="web", created_by=person["id"],
                    created_at=due - timedelta(days=3), updated_at=due - timedelta(days=3),
                ))
                made += 1
            plan = (await FollowUpPlan.insert(FollowUpPlan(
                customer=customers[0]["id"], assignee=person["id"], kind="call", title="VIP 月度回访",
                priority="normal", every_days=30, created_by=person["id"], created_at=now,
            )).returning(FollowUpPlan.id))[0]["id"]
            due = (now + timedelta(days=2)).replace(hour=2, minute=0, second=0, microsecond=0)
            await FollowUp.insert(FollowUp(
                customer=customers[0]["id"], plan=plan, assignee=person["id"], kind="call",
                title="VIP 月度回访", priority="normal", status="open", due_at=due, remind_at=due,
                reminder_state="pending", source="plan", created_by=person["id"], created_at=now,
                updated_at=now,
            ))
            made += 1
        await raw("UPDATE customer SET next_follow_up_on = NULL")
    ids = [r["customer"] for r in await raw("SELECT DISTINCT customer FROM follow_up WHERE status = 'open'")]
    async with writing():
        await refresh_next_follow_up(ids)
    return made
