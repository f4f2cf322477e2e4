"""Rule tags: a tag whose members are the customers a filter selects, kept current.

(The rule compiler and the set-based refresh arrive with the tag management work; until then
no tag has a rule and there is nothing to refresh.)
"""

from __future__ import annotations


async def refresh_rule_tags(
    tag_ids: list[int] | None = None, customer_ids: list[int] | None = None
) -> None:
    """Bring rule tags' members up to date (all customers, or just these)."""
    return None
