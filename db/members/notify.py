"""Push notifications to members: points earned, tier upgrade, points expiring.

They are queued in the push outbox inside the transaction that caused them, so a rolled-back
order never announces points and a committed one always does. These are service messages
about the member's own account (no marketing consent needed); they go to the devices the
member subscribed on their page. Texts are in the shop's language.
"""

from __future__ import annotations

import datetime as dt

from db.i18n import N_, translations
from db.push import outbox

SHOP_LANG = "zh-CN"


def _(message: str) -> str:
    return translations(SHOP_LANG).gettext(message)



async def _send(member_id: int, title: str, body: str, url: str, ref: str) -> None:
    await outbox.enqueue_members([member_id], {"title": title, "body": body, "url": url},
                                 urgency="normal", ttl=3 * 86400, ref=ref)


def wake() -> None:
    outbox.wake()


async def points_earned(member_id: int, points: int, balance: int, ref: str) -> None:
    await _send(member_id, _(N_("Points earned")),
                _(N_("+{points} points. Your balance is {balance}.")).format(points=points, balance=balance),
                "/m/points", f"member:{member_id}:{ref}")


async def tier_upgraded(member_id: int, tier_name: str) -> None:
    await _send(member_id, _(N_("Welcome to {tier}")).format(tier=tier_name),
                _(N_("You have moved up to {tier}. See your new benefits.")).format(tier=tier_name),
                "/m/", f"member:{member_id}:tier:{tier_name}")


async def points_expiring(member_id: int, points: int, on: dt.date) -> None:
    await _send(member_id, _(N_("Points expiring soon")),
                _(N_("{points} points expire on {date}. Use them before then.")).format(
                    points=points, date=on.isoformat()),
                "/m/rewards", f"member:{member_id}:expiring:{on.isoformat()}")


async def downgrade_notice(member_id: int, tier_name: str, on: dt.date) -> None:
    await _send(member_id, _(N_("Keep your tier")),
                _(N_("Your tier will change to {tier} on {date} unless you qualify again before then.")).format(
                    tier=tier_name, date=on.isoformat()),
                "/m/", f"member:{member_id}:downgrade:{on.isoformat()}")
