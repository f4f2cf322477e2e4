"""Demo opportunities for `crm demo`: a few hundred deals spread over the stages, with the
stage history that got them there, so the board and the customers' timelines are not empty.
Deterministic for a seed and `now`, like the rest of the demo."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from db.engine import raw, writing
from db.pipeline.tables import Opportunity, OpportunityStageChange, PipelineStage

THEMES = ("春季补货", "门店团购", "企业福利采购", "会员年卡续费", "婚礼伴手礼", "中秋礼盒", "新品试用装",
          "年会礼品", "护肤套装定制", "母亲节礼盒", "开学季囤货", "双11预售", "直播间专属套餐", "社区团购")
# How the deals are spread: (stage code, weight); closed ones went through every open stage.
SPREAD = (("lead", 30), ("contacted", 22), ("quoted", 18), ("won", 20), ("lost", 10))
PATH = ("lead", "contacted", "quoted")


async def load_demo_pipeline(seed: int, now: datetime, count: int) -> int:
    """Insert `count` opportunities (fewer when there are fewer customers); how many."""
    rng = random.Random(seed * 7919 + 17)
    stages = {s["code"]: s for s in await PipelineStage.select() if s["code"]}
    if any(code not in stages for code, _ in SPREAD):
        return 0  # a shop that reshaped its stages gets no demo deals
    customers = await raw("SELECT id, owner FROM customer WHERE owner IS NOT NULL ORDER BY id")
    if not customers:
        return 0
    picks = rng.sample(customers, min(count, len(customers)))
    codes, weights = zip(*SPREAD)
    async with writing():
        for customer in picks:
            code = rng.choices(codes, weights)[0]
            created = now - timedelta(days=rng.uniform(3, 120), minutes=rng.randint(0, 600))
            route = [c for c in PATH[: PATH.index(code) + 1]] if code in PATH else \
                [*PATH[: rng.randint(1, 3)], code]
            times = [created]
            for _ in route[1:]:
                times.append(min(times[-1] + timedelta(days=rng.uniform(0.5, 12)), now))
            amount = rng.choice((5, 8, 12, 20, 30, 50, 80, 120, 200, 350)) * 10_000  # ¥500 … ¥35,000
            last = stages[route[-1]]
            theme = rng.choice(THEMES)
            qty = rng.choice(("", " 20 份", " 50 份", " 100 份", " 200 份"))
            row = (await Opportunity.insert(Opportunity(
                customer=customer["id"], title=f"{theme}{qty}", amount_fen=amount,
                expected_close_on=(created + timedelta(days=rng.randint(10, 60))).date(),
                owner=customer["owner"], stage=last["id"], status=last["outcome"],
                created_at=created, updated_at=times[-1],
                closed_at=times[-1] if last["outcome"] != "open" else None, created_by=customer["owner"],
            )).returning(Opportunity.id))[0]
            await OpportunityStageChange.insert(*[OpportunityStageChange(
                opportunity=row["id"], customer=customer["id"], kind="created" if i == 0 else "moved",
                from_stage=stages[route[i - 1]]["id"] if i else None, to_stage=stages[c]["id"],
                changed_by=customer["owner"], changed_at=times[i], amount_fen=amount,
            ) for i, c in enumerate(route)])
    return len(picks)
