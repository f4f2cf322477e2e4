"""The pipeline's stages, as a manager configures them: rename, add, reorder, delete.

Rules: stage names are 1–40 characters (a built-in stage's name may be left empty: it is then
shown translated); a stage with opportunities in it cannot be deleted; at least one open
stage, one won stage and one lost stage always remain. New stages are open and go after the
last open stage. Positions are renumbered 10, 20, 30… after every change.
"""

from __future__ import annotations

from db.audit.log import record
from db.clock import now
from db.actor import Actor
from db.engine import raw, reading, writing
from db.errors import NotFound, ValidationFailed
from db.pipeline.tables import Opportunity, PipelineStage

NAME_MAX = 40
MAX_STAGES = 20


async def list_stages() -> list[dict]:
    """Every stage in board order: id, code, name, outcome, position."""
    return await PipelineStage.select(
        PipelineStage.id, PipelineStage.code, PipelineStage.name, PipelineStage.outcome,
        PipelineStage.position,
    ).order_by(PipelineStage.position).order_by(PipelineStage.id)


async def get_stage(stage_id: int | None) -> dict:
    row = None
    if stage_id is not None:
        row = await PipelineStage.select().where(PipelineStage.id == stage_id).first()
    if row is None:
        raise NotFound()
    return row


def _name(text: str, *, allow_empty: bool) -> str:
    name = " ".join(str(text or "").split())
    if not name and not allow_empty:
        raise ValidationFailed({"name": "required"})
    if len(name) > NAME_MAX:
        raise ValidationFailed({"name": f"at most {NAME_MAX} characters"})
    return name


async def _renumber(ids: list[int]) -> None:
    for index, stage_id in enumerate(ids):
        await PipelineStage.update({PipelineStage.position: (index + 1) * 10}).where(
            PipelineStage.id == stage_id
        )


async def add_stage(name: str, actor: Actor) -> int:
    name = _name(name, allow_empty=False)
    async with writing():
        stages = await list_stages()
        if len(stages) >= MAX_STAGES:
            raise ValidationFailed({"name": f"at most {MAX_STAGES} stages"})
        row = (await PipelineStage.insert(
            PipelineStage(code="", name=name, outcome="open", position=0, created_at=now())
        ).returning(PipelineStage.id))[0]
        ids = [s["id"] for s in stages]
        last_open = max((i for i, s in enumerate(stages) if s["outcome"] == "open"), default=-1)
        ids.insert(last_open + 1, row["id"])
        await _renumber(ids)
        await record("pipeline_stage.create", actor_id=actor.id, actor=actor.label, ip=actor.ip,
                     target_type="pipeline_stage", target_id=row["id"])
    return row["id"]


async def rename_stage(stage_id: int, name: str, actor: Actor) -> None:
    async with writing():
        stage = await get_stage(stage_id)
        name = _name(name, allow_empty=bool(stage["code"]))
        await PipelineStage.update({PipelineStage.name: name}).where(PipelineStage.id == stage_id)
        await record("pipeline_stage.update", actor_id=actor.id, actor=actor.label, ip=actor.ip,
                     target_type="pipeline_stage", target_id=stage_id, detail={"fields": ["name"]})


async def reorder_stages(stage_ids: list[int], actor: Actor) -> None:
    """Put the stages in this order; every stage must be listed exactly once."""
    async with writing():
        current = [s["id"] for s in await list_stages()]
        if sorted(stage_ids) != sorted(current):
            raise ValidationFailed({"order": "list every stage once"})
        await _renumber(stage_ids)
        await record("pipeline_stage.reorder", actor_id=actor.id, actor=actor.label, ip=actor.ip,
                     target_type="pipeline_stage")


async def move_stage(stage_id: int, delta: int, actor: Actor) -> None:
    """One place up (delta -1) or down (+1); at either end nothing changes."""
    async with writing():
        ids = [s["id"] for s in await list_stages()]
        if stage_id not in ids:
            raise NotFound()
        i = ids.index(stage_id)
        j = i + (-1 if delta < 0 else 1)
        if 0 <= j < len(ids):
            ids[i], ids[j] = ids[j], ids[i]
            await reorder_stages(ids, actor)


async def delete_stage(stage_id: int, actor: Actor) -> None:
    async with writing():
        stage = await get_stage(stage_id)
        if await Opportunity.count().where(Opportunity.stage == stage_id):
            raise ValidationFailed({"stage": "move its opportunities to another stage first"})
        same = await PipelineStage.count().where(PipelineStage.outcome == stage["outcome"])
        if same <= 1:
            raise ValidationFailed({"stage": {
                "open": "the pipeline needs at least one open stage",
                "won": "the pipeline needs a won stage",
                "lost": "the pipeline needs a lost stage",
            }.get(stage["outcome"], "required")})
        await PipelineStage.delete().where(PipelineStage.id == stage_id)
        await _renumber([s["id"] for s in await list_stages()])
        await record("pipeline_stage.delete", actor_id=actor.id, actor=actor.label, ip=actor.ip,
                     target_type="pipeline_stage", target_id=stage_id)


async def stages_with_counts() -> list[dict]:
    """Every stage, how many opportunities are in it and whether it may be deleted (the settings page)."""
    async with reading():
        stages = await list_stages()
        counts = {r["stage"]: int(r["n"]) for r in await raw(
            "SELECT stage, COUNT(*) AS n FROM opportunity GROUP BY stage")}
    per_outcome = {o: sum(1 for s in stages if s["outcome"] == o) for o in ("open", "won", "lost")}
    for stage in stages:
        stage["count"] = counts.get(stage["id"], 0)
        stage["deletable"] = not stage["count"] and per_outcome.get(stage["outcome"], 0) > 1
    return stages
