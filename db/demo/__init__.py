"""Demo data: teams, staff, tags, customers with orders, tag assignments, interactions and
pipeline opportunities (db/pipeline/demo.py), follow-ups (db/followups/demo.py) and members
with their points, rewards and coupons (db/members/demo.py).

`load_demo()` fills an empty, migrated database with realistic, deterministic data (the same
seed and `now` give the same rows; only password hashes differ) and is safe to run again:
when customers already exist it loads nothing and only resets the `admin` account.

Loading is built for the benchmark sizes (1,000,000 customers): the rows are generated in
batches with ids we assign ourselves (so orders reference customers without round trips) and
written in one transaction, with `executemany` on a plain `sqlite3` connection on SQLite (the
FTS triggers are dropped during the load, the index rebuilt once, and the triggers recreated
from their stored SQL) and with `COPY` on PostgreSQL (the id sequences are moved past the
loaded ids afterwards). Uniqueness (mobiles, e-mails, order numbers) holds by construction,
never by retrying.

Here: the entry point and the accounts. The names, places and products are in reference.py,
the rows are made in generator.py and written in bulk.py.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from db.customers import fields
from db.customers.lifecycle import recompute_all
from db.customers.rules import dumps
from db.customers.tables import Customer, CustomerTag, Interaction, Tag
from db.demo.bulk import Progress, load_postgres, load_sqlite
from db.demo.generator import BULK_TABLES, CustomerGenerator
from db.demo.reference import HISTORY_DAYS, STAFF, TAGS, TEAMS
from db.engine import engine, postgres_timestamp, raw, sqlite_timestamp, writing
from db.figures import store as figure_store
from db.followups.demo import load_demo_follow_ups
from db.members.demo import load_demo_members
from db.orders.tables import Order
from db.pipeline.demo import load_demo_pipeline
from db.staff.passwords import hash_password
from db.staff.tables import StaffSession, StaffUser, Team

ADMIN_USERNAME = "admin"


@dataclass(frozen=True)
class DemoResult:
    """What `load_demo` did. With `created` False the counts are what the database holds."""

    admin_username: str
    admin_password: str
    staff_password: str | None  # None when nothing was loaded (the staff keep their password)
    created: bool
    customers: int = 0
    orders: int = 0
    tags: int = 0  # tag definitions
    interactions: int = 0
    staff: int = 0  # demo staff users, the admin not included
    customer_tags: int = 0  # tag assignments
    teams: int = 0
    sample_staff: str = "wang.fang"  # a demo staff member (role staff) to sign in with
    sample_manager: str = "zhang.wei"  # a demo manager
    members: int = 0  # customers who are members (db/members/demo.py)
    points_entries: int = 0
    rewards: int = 0


# ------------------------------------------------------------------------ accounts and setup


def _new_password() -> str:
    return secrets.token_urlsafe(12)


async def _reset_admin(password: str, stamp: datetime) -> None:
    """Create `admin` or give it a new password (ending its sessions), role admin, active."""
    password_hash = await asyncio.to_thread(hash_password, password)
    async with writing():
        row = await (
            StaffUser.select(StaffUser.id).where(StaffUser.username == ADMIN_USERNAME).first()
        )
        if row:
            await StaffUser.update({
                StaffUser.password_hash: password_hash,
                StaffUser.role: "admin",
                StaffUser.is_active: True,
                StaffUser.password_changed_at: stamp,
            }).where(StaffUser.id == row["id"])
            await StaffSession.delete().where(StaffSession.user == row["id"])
        else:
            await StaffUser.insert(StaffUser(
                username=ADMIN_USERNAME, display_name="管理员", password_hash=password_hash,
                role="admin", team=None, password_changed_at=stamp, created_at=stamp,
            ))


async def _ensure_reference(staff_hash: str, now: datetime, stamp: datetime):
    """Teams, staff and tags by name: existing rows are reused (staff get the new password)."""
    origin = now - timedelta(days=HISTORY_DAYS + 30)
    async with writing():
        existing = {r["name"]: r["id"] for r in await Team.select(Team.id, Team.name)
                    .where(Team.name.is_in(list(TEAMS)))}
        for i, name in enumerate(TEAMS):
            if name not in existing:
                rows = await Team.insert(Team(name=name, created_at=origin + timedelta(days=i))
                                         ).returning(Team.id)
                existing[name] = rows[0]["id"]
        team_ids = existing

        users = {r["username"]: r for r in await StaffUser.select(
            StaffUser.id, StaffUser.username, StaffUser.team, StaffUser.role
        ).where(StaffUser.username.is_in([s[0] for s in STAFF]))}
        staff = []
        for i, (username, display, team, role) in enumerate(STAFF):
            row = users.get(username)
            if row is None:
                joined = origin + timedelta(days=3 + i * 2)
                rows = await StaffUser.insert(StaffUser(
                    username=username, display_name=display, password_hash=staff_hash,
                    role=role, team=team_ids[team], password_changed_at=joined, created_at=joined,
                )).returning(StaffUser.id)
                staff.append((rows[0]["id"], team, role))
            else:
                # An earlier demo user: it takes this load's password, so the result holds.
                await StaffUser.update({
                    StaffUser.password_hash: staff_hash,
                    StaffUser.password_changed_at: stamp,
                }).where(StaffUser.id == row["id"])
                await StaffSession.delete().where(StaffSession.user == row["id"])
                staff.append((row["id"], team, role))

        tags = {r["name"]: r["id"] for r in await Tag.select(Tag.id, Tag.name)
                .where(Tag.name.is_in([t[0] for t in TAGS]))}
        for i, (name, color) in enumerate(TAGS):
            if name not in tags:
                rows = await Tag.insert(Tag(name=name, color=color,
                                            created_at=origin + timedelta(days=40 + i))
                                        ).returning(Tag.id)
                tags[name] = rows[0]["id"]
    return team_ids, staff, tags


async def _next_ids() -> dict[str, int]:
    out = {}
    for table, _ in BULK_TABLES:
        rows = await raw(f'SELECT max(id) AS m FROM "{table}"')
        out[table] = (rows[0]["m"] or 0) + 1
    return out


async def _existing_counts() -> dict[str, int]:
    return {
        "customers": await Customer.count(),
        "orders": await Order.count(),
        "tags": await Tag.count(),
        "customer_tags": await CustomerTag.count(),
        "interactions": await Interaction.count(),
        "staff": await StaffUser.count().where(StaffUser.username != ADMIN_USERNAME),
        "teams": await Team.count(),
    }


# ------------------------------------------------------------------------ entry point


DEMO_RULES = {  # tags whose members follow a rule rather than a person's hand
    "高价值": {"all": [{"total_spent": {"min": "3000"}}]},
    "复购客户": {"all": [{"orders_count": {"min": 2}}]},
}
DEMO_FIELDS = [  # (key, label, kind, choices, how many customers have a value: every n-th)
    ("skin_type", "肤质", "choice", ["干性", "油性", "混合", "敏感"], 3),
    ("contact_pref", "偏好联系方式", "choice", ["电话", "微信", "短信"], 4),
    ("wedding_day", "结婚纪念日", "date", [], 0),
]


async def _rule_tags_and_fields() -> None:
    """Two of the demo's tags become rule tags, and a few custom fields get values (set-based)."""
    for name, rule in DEMO_RULES.items():
        async with writing():
            tag = await raw("SELECT id FROM tag WHERE name = {}", name)
            if tag:
                await raw("UPDATE tag SET rule = {} WHERE id = {}", dumps(rule), tag[0]["id"])
                await raw("DELETE FROM customer_tag WHERE tag = {}", tag[0]["id"])
    existing = {f["key"]: f["id"] for f in await fields.list_fields()}
    for key, label, kind, choices, every in DEMO_FIELDS:
        field_id = existing.get(key) or await fields.create_field(key, label, kind, choices)
        if not every:
            continue
        picks = " ".join(f"WHEN {i} THEN '{c}'" for i, c in enumerate(choices))
        async with writing():
            await raw(
                "INSERT INTO customer_field_value (customer, field, value) "
                f"SELECT id, {{}}, CASE (id / {every}) % {len(choices)} {picks} END "
                f"FROM customer WHERE id % {every} = 0",
                field_id,
            )


async def load_demo(
    customers: int = 2000,
    seed: int = 42,
    progress: Progress | None = None,
    *,
    now: datetime | None = None,
    order_scale: float = 1.0,
    points_entries: int | None = None,
) -> DemoResult:
    """Load demo data into an empty, migrated database; safe to run again.

    `progress(step, done, total)` is called per batch (on SQLite from a worker thread).
    `now` (aware) anchors the two years of history; the same seed and `now` give the same
    data. When customers already exist nothing is loaded and only `admin` is reset.
    `points_entries` asks for about that many points entries (members get more task points).
    """
    if customers < 0:
        raise ValueError("customers must not be negative")
    stamp = datetime.now(UTC).replace(microsecond=0)
    now = (now or stamp).astimezone(UTC).replace(microsecond=0)
    admin_password = _new_password()
    await _reset_admin(admin_password, stamp)

    if await Customer.exists():
        counts = await _existing_counts()
        return DemoResult(ADMIN_USERNAME, admin_password, None, False, **counts)

    staff_password = _new_password()
    staff_hash = await asyncio.to_thread(hash_password, staff_password)
    team_ids, staff, tag_ids = await _ensure_reference(staff_hash, now, stamp)

    eng = engine()
    sqlite = eng.engine_type == "sqlite"
    gen = CustomerGenerator(
        seed=seed, now_ts=int(now.timestamp()), total=customers, team_ids=team_ids,
        staff=staff, tag_ids=tag_ids, next_ids=await _next_ids(),
        ts=sqlite_timestamp if sqlite else postgres_timestamp,
        day=date.isoformat if sqlite else (lambda d: d), order_scale=order_scale,
    )
    if sqlite:
        counts = await asyncio.to_thread(load_sqlite, eng.path, gen, customers, progress)
    else:
        counts = await load_postgres(gen, customers, progress)
    if progress:
        progress("figures", 0, 1)
    await _rule_tags_and_fields()
    await load_demo_pipeline(seed, now, min(400, max(customers // 5, 0)))
    await load_demo_follow_ups(seed, now)
    members = await load_demo_members(seed, now, points_entries=points_entries, progress=progress)
    await recompute_all()  # orders went in bulk, past the ingest that keeps figures current
    await figure_store.clear()  # a server started on the empty shop stored its empty figures
    if progress:
        progress("figures", 1, 1)
    return DemoResult(
        admin_username=ADMIN_USERNAME,
        admin_password=admin_password,
        staff_password=staff_password,
        created=True,
        customers=counts["customer"],
        orders=counts["order"],
        tags=len(tag_ids),
        interactions=counts["interaction"],
        staff=len(staff),
        customer_tags=await CustomerTag.count(),  # rule tags were filled after the load
        teams=len(team_ids),
        members=members.members,
        points_entries=members.entries,
        rewards=members.rewards,
    )
