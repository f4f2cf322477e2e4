"""Outcomes written as translated labels ("Interested · 周五下单", "有意向") become a code in
outcome_code and the rest in outcome. Only the labels the complete sheet ever wrote (English
and Chinese) are recognised; any other text stays as it is (shown as written).

Raw SQL on the columns this migration knows, never the live table classes."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder
from piccolo.querystring import QueryString

ID = "2026-12-04T10:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "follow-up outcome labels to codes"

SEPARATOR = " · "
LABELS = {
    "reached": ("Reached", "已联系上"),
    "no_answer": ("No answer", "未接通"),
    "interested": ("Interested", "有意向"),
    "not_interested": ("Not interested", "无意向"),
    "resolved": ("Resolved", "已解决"),
}


def split(text: str) -> tuple[str, str] | None:
    """(code, rest) when the text starts with a known label alone or before the separator."""
    for code, labels in LABELS.items():
        for label in labels:
            if text == label:
                return code, ""
            if text.startswith(label + SEPARATOR):
                return code, text[len(label) + len(SEPARATOR):]
    return None


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="followups", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        rows = await engine.run_querystring(QueryString(
            "SELECT id, outcome FROM follow_up WHERE outcome_code = '' AND outcome <> ''"))
        for row in rows:
            found = split(row["outcome"] or "")
            if found:
                await engine.run_querystring(QueryString(
                    "UPDATE follow_up SET outcome_code = {}, outcome = {} WHERE id = {}", *found, row["id"]))

    manager.add_raw(run)
    return manager

