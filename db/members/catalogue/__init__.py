"""The members catalogue as managers set it up: tiers (tiers.py), coupon types
(coupon_types.py) and rewards (rewards.py), their forms' field parsers in form_fields.py.

Each kind has list / get / create / update / delete. Input comes as the form's text values
and is validated in one go: a ValidationFailed carries one message per bad field and nothing
is written. Every change is in the audit log (`tier.*`, `reward.*`, `coupon_type.*`).
Callers use the catalogue as one (`catalogue.get_tier`, `catalogue.list_rewards`): this
module names what each part offers.
"""

from __future__ import annotations

from db.members.catalogue.coupon_types import (
    COUPON_FIELDS, MAX_VALID_DAYS, VALIDITY_MODES, coupon_type_values, create_coupon_type,
    delete_coupon_type, get_coupon_type, list_coupon_types, parse_coupon_type, update_coupon_type,
)
from db.members.catalogue.form_fields import window_days
from db.members.catalogue.rewards import (
    REWARD_FIELDS, create_reward, delete_reward, get_reward, list_rewards, parse_reward,
    reward_values, update_reward,
)
from db.members.catalogue.tiers import (
    MAX_POINTS, MAX_POSITION, MAX_TIERS, TIER_COLORS, TIER_FIELDS, create_tier, delete_tier,
    get_tier, list_tiers, multiplier_text, parse_tier, tier_values, update_tier,
)

__all__ = [
    "COUPON_FIELDS", "MAX_POINTS", "MAX_POSITION", "MAX_TIERS", "MAX_VALID_DAYS", "REWARD_FIELDS",
    "TIER_COLORS", "TIER_FIELDS", "VALIDITY_MODES", "coupon_type_values", "create_coupon_type",
    "create_reward", "create_tier", "delete_coupon_type", "delete_reward", "delete_tier",
    "get_coupon_type", "get_reward", "get_tier", "list_coupon_types", "list_rewards", "list_tiers",
    "multiplier_text", "parse_coupon_type", "parse_reward", "parse_tier", "reward_values",
    "tier_values", "update_coupon_type", "update_reward", "update_tier", "window_days",
]
