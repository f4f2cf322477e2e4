"""Likely duplicates: customers with the same name and a similar mobile, e-mail or address.

Exact duplicates cannot exist: the unique indexes on the normalised mobile (E.164) and the
lower-cased e-mail stop a second customer at every door (form, API, order ingest, import).
What is left are people who typed a different number or address each time. A pair is a
*likely* duplicate when both have the same name key (lower case, spaces removed) and at least
one of:

- mobile: national digits within Levenshtein distance 2, or the same last 8 digits;
- e-mail: the same local part at another domain, or a ratio of 90 or more;
- address: the normalised addresses have a ratio of 90 or more;
- city and birthday: the same city and the same birthday.

Cost: customers are read one block of equal name keys at a time, in name-key order, through
the `customer_name_key` expression index (migration 2026-12-01T20:05): a page of keys that
occur more than once, then the members of those keys. Pairs are only formed inside a block;
a large block is compared with `rapidfuzz.process.cdist` in chunks (a 5,000-row block takes
about 0.25 s for the mobiles). Nothing is stored: the review always reflects the data as it
is (a merged or dismissed pair drops out at once), and a call stops after `limit` pairs or a
bounded amount of work, returning the cursor to go on from (`after`). A full pass over every
block is what a background job would run (see tests/bench/bench_duplicates.py for figures).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from db.audit.log import record
from db.clock import now
from db.customers import identity
from db.customers.scope import Scope
from db.customers.tables import DuplicateDismissal
from db.engine import as_date, as_datetime, is_unique_violation, raw, reading, writing
from db.errors import NotFound, ValidationFailed
from db.text import strip_control

# The same expression as the index in the migration: change both or neither.
NAME_KEY = "lower(replace(replace({a}name, ' ', ''), '\u3000', ''))"

KEYS_PER_QUERY = 500  # name keys read per query
ROWS_PER_QUERY = 5_000  # members read per query (one larger block is read alone)
MAX_ROWS_PER_CALL = 100_000  # work bound of one call: then return the cursor
CHUNK = 1_000  # cdist rows per chunk: CHUNK x block size bytes of memory at most

MOBILE_MAX_DISTANCE = 2
EMAIL_MIN_RATIO = 90
ADDRESS_MIN_RATIO = 90

# Points a kind of evidence adds to the 50 a shared name gives (the score is capped at 99).
WEIGHTS = {
    ("mobile", "distance1"): 35, ("mobile", "distance2"): 25, ("mobile", "last8"): 30,
    ("email", "same_local"): 30, ("email", "similar"): 25,
    ("address", "same"): 30, ("address", "similar"): 20,
    ("city_birthday", "same"): 30,
}

CANDIDATE_COLUMNS = (
    "c.id, c.name, c.mobile, c.email, c.gender, c.birthday, c.province, c.city, c.address, "
    "c.owner, c.team, c.orders_count, c.total_spent_fen, c.last_order_at, c.created_at"
)

_ADDRESS_NOISE = re.compile(r"[\s,，.。、#\-－/()（）]+")


@dataclass
class Candidate:
    row: dict
    digits: str = ""
    email_local: str = ""
    email_domain: str = ""
    address: str = ""


@dataclass
class Pair:
    low: int
    high: int
    evidence: dict[str, dict] = field(default_factory=dict)  # field -> {"how", "detail"}

    def add(self, name: str, how: str, detail=None) -> None:
        current = self.evidence.get(name)
        if current is None or WEIGHTS[(name, how)] > WEIGHTS[(name, current["how"])]:
            self.evidence[name] = {"how": how, "detail": detail}

    @property
    def score(self) -> int:
        return min(99, 50 + sum(WEIGHTS[(k, v["how"])] for k, v in self.evidence.items()))


def normalise_address(text: str | None) -> str:
    return _ADDRESS_NOISE.sub("", (text or "").lower())


def _candidate(row: dict) -> Candidate:
    email = row.get("email") or ""
    local, _, domain = email.partition("@")
    return Candidate(
        row=row, digits=identity.national_digits(row.get("mobile")),
        email_local=local, email_domain=domain, address=normalise_address(row.get("address")),
    )


def _close_pairs(
    values: list[str], positions: list[int], scorer, cutoff, close, dtype=np.float32
) -> list[tuple[int, int, int]]:
    """(i, j, score) for i < j (block positions) whose values `close(score)` says are similar."""
    out = []
    n = len(values)
    if n < 2:
        return out
    for start in range(0, n, CHUNK):
        matrix = process.cdist(values[start:start + CHUNK], values, scorer=scorer,
                               score_cutoff=cutoff, dtype=dtype, workers=1)
        rows, cols = np.nonzero(close(matrix))
        for r, c in zip(rows.tolist(), cols.tolist()):
            i = start + r
            if c > i:
                out.append((positions[i], positions[c], int(matrix[r, c])))
    return out


def compare_block(rows: list[dict]) -> list[Pair]:
    """Every likely-duplicate pair inside one block of customers that share a name key."""
    members = [_candidate(r) for r in rows]
    pairs: dict[tuple[int, int], Pair] = {}

    def pair(i: int, j: int) -> Pair:
        a, b = members[i].row["id"], members[j].row["id"]
        key = (a, b) if a < b else (b, a)
        if key not in pairs:
            pairs[key] = Pair(*key)
        return pairs[key]

    def groups(key_of) -> list[list[int]]:
        found = defaultdict(list)
        for i, m in enumerate(members):
            key = key_of(m)
            if key:
                found[key].append(i)
        return [g for g in found.values() if len(g) > 1]

    with_mobile = [i for i, m in enumerate(members) if m.digits]
    for i, j, d in _close_pairs([members[i].digits for i in with_mobile], with_mobile,
                                Levenshtein.distance, MOBILE_MAX_DISTANCE,
                                lambda m: m <= MOBILE_MAX_DISTANCE, dtype=np.uint8):
        pair(i, j).add("mobile", f"distance{d}", d)
    for group in groups(lambda m: m.digits[-8:] if len(m.digits) >= 8 else ""):
        for x, i in enumerate(group):
            for j in group[x + 1:]:
                pair(i, j).add("mobile", "last8", members[i].digits[-8:])

    for group in groups(lambda m: m.email_local):
        for x, i in enumerate(group):
            for j in group[x + 1:]:
                if members[i].email_domain != members[j].email_domain:
                    pair(i, j).add("email", "same_local", members[i].email_local)
    with_email = [i for i, m in enumerate(members) if m.email_local]
    for i, j, ratio in _close_pairs([members[i].row["email"] for i in with_email], with_email,
                                    fuzz.ratio, EMAIL_MIN_RATIO, lambda m: m >= EMAIL_MIN_RATIO):
        pair(i, j).add("email", "similar", ratio)

    with_address = [i for i, m in enumerate(members) if m.address]
    for i, j, ratio in _close_pairs([members[i].address for i in with_address], with_address,
                                    fuzz.ratio, ADDRESS_MIN_RATIO, lambda m: m >= ADDRESS_MIN_RATIO):
        pair(i, j).add("address", "same" if ratio == 100 else "similar", ratio)

    for group in groups(lambda m: (m.row.get("city") or "", m.row.get("birthday"))
                        if m.row.get("city") and m.row.get("birthday") else None):
        for x, i in enumerate(group):
            for j in group[x + 1:]:
                pair(i, j).add("city_birthday", "same")
    return list(pairs.values())


def suggested_survivor(a: dict, b: dict) -> tuple[dict, dict]:
    """(survivor, merged): more paid orders first, then the older customer."""
    def rank(row):
        created = as_datetime(row["created_at"])
        return (-(row.get("orders_count") or 0), created, row["id"])
    return (a, b) if rank(a) <= rank(b) else (b, a)






def _present(row: dict) -> dict:
    row["created_at"] = as_datetime(row["created_at"])
    row["last_order_at"] = as_datetime(row.get("last_order_at"))
    row["birthday"] = as_date(row.get("birthday"))
    row["mobile_masked"] = identity.mask_mobile(row.get("mobile"))
    return row


async def _keys_page(scope: Scope, after: str) -> list[dict]:
    scope_sql, args = scope.clause("c")
    key = NAME_KEY.format(a="c.")
    return await raw(
        f"SELECT k, COUNT(*) AS n FROM (SELECT {key} AS k FROM customer c "
        f"WHERE {scope_sql} AND {key} > {{}}) named GROUP BY k HAVING COUNT(*) > 1 "
        f"ORDER BY k LIMIT {KEYS_PER_QUERY}",
        *args, after,
    )


async def _members(scope: Scope, keys: list[str]) -> list[dict]:
    scope_sql, args = scope.clause("c")
    key = NAME_KEY.format(a="c.")
    marks = ", ".join("{}" for _ in keys)
    return await raw(
        f"SELECT {key} AS k, {CANDIDATE_COLUMNS} FROM customer c "
        f"WHERE {scope_sql} AND {key} IN ({marks}) ORDER BY k, c.id",
        *args, *keys,
    )


async def _dismissed(pairs: list[Pair]) -> set[tuple[int, int]]:
    if not pairs:
        return set()
    lows = sorted({p.low for p in pairs})
    found: set[tuple[int, int]] = set()
    for start in range(0, len(lows), 500):
        part = lows[start:start + 500]
        marks = ", ".join("{}" for _ in part)
        rows = await raw(
            f"SELECT low_id, high_id FROM duplicate_dismissal WHERE low_id IN ({marks})", *part
        )
        found.update((r["low_id"], r["high_id"]) for r in rows)
    return found


async def find_likely_duplicates(
    scope: Scope, limit: int = 50, after: str | None = None
) -> tuple[list[dict], str | None]:
    """Likely-duplicate pairs in name-key order, and the cursor to go on from (or None).

    Whole name blocks are returned, so a page may hold a few more than `limit` pairs; a
    call also stops after reading MAX_ROWS_PER_CALL customers (the page may then be short
    or empty, with a cursor). Both customers of a pair are in `scope`; dismissed pairs are
    left out. Each pair: {"a", "b" (a is the suggested survivor), "score", "evidence":
    {field: {"how", "detail"}}, "key"}.
    """
    cursor = strip_control(after or "")  # from a URL: a NUL would break the query
    found: list[dict] = []
    read = 0
    exhausted = False
    async with reading():
        while len(found) < limit and read < MAX_ROWS_PER_CALL:
            keys = await _keys_page(scope, cursor)
            if not keys:
                exhausted = True
                break
            # Read members for as many keys as fit the row budget (at least one key).
            batch, rows_in_batch = [], 0
            for k in keys:
                if batch and rows_in_batch + k["n"] > ROWS_PER_QUERY:
                    break
                batch.append(k["k"])
                rows_in_batch += k["n"]
            members = await _members(scope, batch)
            read += len(members)
            blocks: dict[str, list[dict]] = defaultdict(list)
            for row in members:
                blocks[row.pop("k")].append(row)
            stop_at = None
            page_pairs: list[tuple[str, Pair]] = []
            for name_key in batch:
                page_pairs.extend((name_key, p) for p in compare_block(blocks.get(name_key, [])))
                if len(found) + len(page_pairs) >= limit:
                    stop_at = name_key
                    break
            dismissed = await _dismissed([p for _, p in page_pairs])
            by_id = {r["id"]: r for r in members}
            for name_key, p in page_pairs:
                if (p.low, p.high) in dismissed:
                    continue
                survivor, merged = suggested_survivor(by_id[p.low], by_id[p.high])
                found.append({"a": survivor, "b": merged, "score": p.score,
                              "evidence": p.evidence, "key": name_key})
            cursor = stop_at or batch[-1]
            if stop_at is None and len(batch) == len(keys) and len(keys) < KEYS_PER_QUERY:
                exhausted = True
                break
    for item in found:
        for side in ("a", "b"):
            if "mobile_masked" not in item[side]:
                _present(item[side])
    return found, (None if exhausted else cursor)


async def pair_in_scope(scope: Scope, first_id: int, second_id: int) -> tuple[dict, dict]:
    """Both customers, or NotFound when either is missing or outside the scope."""
    if first_id == second_id:
        raise ValidationFailed({"merged_id": "a customer cannot be merged with itself"})
    scope_sql, args = scope.clause("c")
    rows = await raw(
        f"SELECT {CANDIDATE_COLUMNS} FROM customer c WHERE c.id IN ({{}}, {{}}) AND {scope_sql}",
        first_id, second_id, *args,
    )
    by_id = {r["id"]: _present(r) for r in rows}
    if first_id not in by_id or second_id not in by_id:
        raise NotFound()
    return by_id[first_id], by_id[second_id]


async def dismiss_pair(scope: Scope, first_id: int, second_id: int, actor) -> None:
    """Record that two customers are different people; the review stops showing the pair.
    Saying it twice is fine."""
    low, high = sorted((first_id, second_id))
    try:
        async with writing():
            await pair_in_scope(scope, low, high)
            exists = await DuplicateDismissal.exists().where(
                (DuplicateDismissal.low_id == low) & (DuplicateDismissal.high_id == high)
            )
            if exists:
                return
            await DuplicateDismissal.insert(
                DuplicateDismissal(low_id=low, high_id=high, actor_id=actor.id, dismissed_at=now())
            )
            await record("customer.duplicate_dismiss", actor_id=actor.id, actor=actor.label,
                         target_type="customer", target_id=low, ip=actor.ip,
                         detail={"other_id": high})
    except Exception as exc:
        if not is_unique_violation(exc):  # a concurrent dismissal of the same pair won
            raise
