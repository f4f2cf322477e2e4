"""The sales pipeline's rules (db/pipeline), on whichever engine the suite runs."""

from __future__ import annotations

from db.pipeline.tables import PipelineStage


async def test_the_five_built_in_stages_are_seeded_in_order():
    rows = await PipelineStage.select().order_by(PipelineStage.position)
    assert [(r["code"], r["outcome"], r["name"]) for r in rows] == [
        ("lead", "open", ""), ("contacted", "open", ""), ("quoted", "open", ""),
        ("won", "won", ""), ("lost", "lost", ""),
    ]
