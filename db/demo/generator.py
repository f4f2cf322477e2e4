"""Generating the demo's customers with their orders, tags and interactions, in batches with
ids assigned here (deterministic for the seed, `now`, the ids given and the total)."""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any


from db.customers.identity import search_text
from db.demo.reference import (
    CATEGORIES,
    CATEGORY_WEIGHTS,
    CHANNEL_WEIGHTS,
    CN_OFFSET,
    DAY,
    DOUYIN_MOD,
    DOUYIN_MUL,
    EAST,
    EAST_PROVINCES,
    EMAIL_DOMAINS,
    EMAIL_SUFFIXES,
    GIVEN_FEMALE,
    GIVEN_MALE,
    HISTORY_DAYS,
    HOURLY,
    JD_MOD,
    JD_MUL,
    KIND_WEIGHTS_ONLINE,
    KIND_WEIGHTS_STORE,
    MOBILE_PREFIXES,
    NOTES,
    NOT_ALONE,
    PDD_MOD,
    PDD_MUL,
    PROMO_DAYS,
    PROVINCES,
    QQ_MODULUS,
    QQ_MULTIPLIER,
    QQ_OFFSET,
    SOUTH,
    SOUTH_PROVINCES,
    SURNAMES,
    TEAMS,
    TMALL_MOD,
    TMALL_MUL,
    WORK_HOURLY,
    given_names,
    hour_quantiles,
    money_text,
    sampler,
)

@dataclass
class Batch:
    customers: list
    orders: list
    customer_tags: list
    interactions: list


class CustomerGenerator:
    """Makes rows in batches. Deterministic for (seed, now, the ids it is given, total)."""

    def __init__(
        self,
        *,
        seed: int,
        now_ts: int,
        total: int,
        team_ids: dict[str, int],
        staff: list[tuple[int, str, str]],  # (id, team name, role)
        tag_ids: dict[str, int],
        next_ids: dict[str, int],
        ts: Callable[[int], Any],
        day: Callable[[date], Any],
        order_scale: float = 1.0,
    ):
        self.order_scale = order_scale
        self.rng = random.Random(seed)
        rng = self.rng
        self.now = now_ts
        self.remaining = total
        self.sorted_w = 1.0
        self.ts = ts
        self.day = day
        self.ids = dict(next_ids)
        self.team_ids = team_ids
        self.tag_ids = tag_ids
        self.today = datetime.fromtimestamp(now_ts + CN_OFFSET, UTC).date()
        local_midnight = (now_ts + CN_OFFSET) // DAY * DAY
        self.start_local = local_midnight - HISTORY_DAYS * DAY  # local-time epoch of day 0

        self.surnames = sampler([((s, p), w) for s, p, w in SURNAMES], 200_000)
        self.given = {
            "female": given_names(GIVEN_FEMALE),
            "male": given_names(GIVEN_MALE),
        }
        self.given["unknown"] = self.given["female"] + self.given["male"]
        self.given_alone = {g: [c for c in pool if c[0] not in NOT_ALONE]
                            for g, pool in self.given.items()}
        self.genders = sampler((("female", 58), ("male", 36), ("unknown", 6)))
        self.provinces = sampler(
            [((name, sampler(cities, 1000)), w) for name, w, cities in PROVINCES]
        )
        self.channels = sampler(CHANNEL_WEIGHTS)
        self.prefixes = sampler([((i, p), w) for i, (p, w) in enumerate(MOBILE_PREFIXES)], 20_000)
        self.categories = {
            g: sampler(list(enumerate(w))) for g, w in CATEGORY_WEIGHTS.items()
        }
        self.day_profile = hour_quantiles(HOURLY)
        self.work_profile = hour_quantiles(WORK_HOURLY)
        self.kinds_store = sampler(KIND_WEIGHTS_STORE)
        self.kinds_online = sampler(KIND_WEIGHTS_ONLINE)

        # Mobile numbers: per prefix a counter through a 4-round Feistel permutation of
        # [0, 10^8) (two halves of four digits), so every number is distinct by construction.
        self.feistel = [[rng.randrange(10_000) for _ in range(10_000)] for _ in range(4)]
        self.prefix_next = [rng.randrange(10**8) for _ in MOBILE_PREFIXES]
        self.email_locals: dict[str, int] = {}  # how often each local part was given out
        self.twin: tuple | None = None  # the last customer with a birthday (for demo duplicates)
        self.email_domains = sampler(EMAIL_DOMAINS, 100)
        self.qq_next = 0
        self.channel_next = {c: 0 for c, _ in CHANNEL_WEIGHTS}
        # Sequence numbers in web and store order numbers start at 1; the others are scrambled.
        self.channel_offset = {c: 1 if c in ("web", "store") else rng.randrange(10**11)
                               for c, _ in CHANNEL_WEIGHTS}

        # Products: the JSON of each item, pre-rendered per quantity.
        self.products = []  # per category: list of (sku, name, price, [json per qty])
        for code, _cat, items in CATEGORIES:
            rows = []
            for i, (name, spec, price) in enumerate(items):
                sku = f"{code}-{1001 + i}"
                full = f"{name} {spec}"
                frags = [""] + [
                    json.dumps({"sku": sku, "name": full, "qty": q, "price": money_text(price)},
                               ensure_ascii=False, separators=(",", ":"))
                    for q in range(1, 7)
                ]
                rows.append((sku, name, price, frags))
            self.products.append(rows)

        self.team_staff: dict[int, list[int]] = {}
        self.team_owner_pick: dict[int, list[int]] = {}
        for staff_id, team_name, role in staff:
            tid = team_ids[team_name]
            self.team_staff.setdefault(tid, []).append(staff_id)
            # Managers own fewer customers than their staff.
            weight = 1 if role == "manager" else 3
            self.team_owner_pick.setdefault(tid, []).extend([staff_id] * weight)
        self.store_teams = {team_ids[EAST], team_ids[SOUTH]}

        # Promotion days (local midnight, as UTC epoch) within the history window.
        self.promo = []
        for year in range(self.today.year - 3, self.today.year + 1):
            for month, dom in PROMO_DAYS:
                start = int(datetime(year, month, dom, tzinfo=UTC).timestamp()) - CN_OFFSET
                if self.start_local - CN_OFFSET <= start <= now_ts - DAY:
                    self.promo.append(start)

    # -------------------------------------------------------------- small helpers

    def _next_id(self, table: str) -> int:
        value = self.ids[table]
        self.ids[table] = value + 1
        return value

    def _mobile(self) -> str:
        index, prefix = self.prefixes[int(self.rng.random() * len(self.prefixes))]
        n = self.prefix_next[index] % 100_000_000
        self.prefix_next[index] = n + 1
        hi, lo = divmod(n, 10_000)
        for table in self.feistel:
            hi, lo = lo, (hi + table[lo]) % 10_000
        return f"+86{prefix}{hi:04d}{lo:04d}"

    def _email(self, sur_py: str, given_py: list[str], birth_year: int | None) -> str:
        r = self.rng.random
        if r() < 0.38:
            qq = 100_000_000 + (self.qq_next * QQ_MULTIPLIER + QQ_OFFSET) % QQ_MODULUS
            self.qq_next += 1
            return f"{qq}@qq.com"
        given = "".join(given_py)
        style = r()
        if style < 0.45:
            local = sur_py + given
        elif style < 0.65:
            local = f"{given}.{sur_py}"
        elif style < 0.8:
            local = f"{sur_py}_{given}"
        elif style < 0.9:
            local = sur_py[0] + "".join(p[0] for p in given_py)
        else:
            local = sur_py + given[0]
        seen = self.email_locals.get(local, 0)
        self.email_locals[local] = seen + 1
        if seen == 0:
            suffix = str(birth_year) if birth_year and (len(local) < 5 or r() < 0.35) else ""
        elif seen <= len(EMAIL_SUFFIXES):
            suffix = EMAIL_SUFFIXES[seen - 1]
        else:
            suffix = str(100_000 + seen)
        domain = self.email_domains[int(r() * len(self.email_domains))]
        return f"{local}{suffix}@{domain}"

    def _shaped(self, t: int, lo: int, hi: int, profile: list[int]) -> int:
        """Move t to a typical local hour of the same day, unless that leaves [lo, hi]."""
        day_start = (t + CN_OFFSET) // DAY * DAY - CN_OFFSET
        r = self.rng.random
        shaped = day_start + profile[int(r() * len(profile))] + int(r() * 60)
        return shaped if lo <= shaped <= hi else t

    def _external_id(self, channel: str, placed: int) -> str:
        k = self.channel_next[channel]
        self.channel_next[channel] = k + 1
        k += self.channel_offset[channel]
        if channel == "tmall":
            return str(10**18 + (k * TMALL_MUL) % TMALL_MOD)
        if channel == "jd":
            return str(2 * 10**11 + (k * JD_MUL) % JD_MOD)
        if channel == "douyin":
            return f"69{(k * DOUYIN_MUL) % DOUYIN_MOD:017d}"
        local = time.gmtime(placed + CN_OFFSET)
        ymd = f"{local.tm_year % 100:02d}{local.tm_mon:02d}{local.tm_mday:02d}"
        if channel == "pdd":
            return f"{ymd}-{(k * PDD_MUL) % PDD_MOD:015d}"
        if channel == "web":
            return f"WS{ymd}{k:07d}"
        return f"POS{ymd}{k:07d}"  # store

    # -------------------------------------------------------------- one batch

    def batch(self, n: int) -> Batch:
        rng = self.rng
        r = rng.random
        now = self.now
        ts, day = self.ts, self.day
        customers: list = []
        orders: list = []
        customer_tags: list = []
        interactions: list = []
        surnames, n_surnames = self.surnames, len(self.surnames)
        provinces, n_provinces = self.provinces, len(self.provinces)
        channels, n_channels = self.channels, len(self.channels)
        genders = self.genders
        day_profile, n_day_profile = self.day_profile, len(self.day_profile)
        team_ids, tag_ids = self.team_ids, self.tag_ids
        east, south, online, live = (team_ids[t] for t in TEAMS)
        products = self.products
        today_ord = self.today.toordinal()
        this_month = self.today.month

        for _ in range(n):
            # created_at: sorted uniforms (so ids follow time), denser toward today, shaped
            # to the hours people shop.
            self.sorted_w *= (1.0 - r()) ** (1.0 / self.remaining)
            self.remaining -= 1
            u = (1.0 - self.sorted_w) ** (1 / 1.4)
            x = u * HISTORY_DAYS
            d = int(x)
            sec = day_profile[int((x - d) * n_day_profile)]
            created = min(self.start_local - CN_OFFSET + d * DAY + sec, now - 60)
            tenure = now - created

            cid = self._next_id("customer")
            gender = genders[int(r() * len(genders))]
            surname, sur_py = surnames[int(r() * n_surnames)]
            if r() < 0.28:
                pool = self.given_alone[gender]
                parts = [pool[int(r() * len(pool))]]
            else:
                pool = self.given[gender]
                parts = [pool[int(r() * len(pool))], pool[int(r() * len(pool))]]
            name = surname + "".join(c for c, _ in parts)
            mobile = self._mobile()
            birthday = None
            birth_year = None
            if r() < 0.7:
                age = rng.triangular(18, 62, 29)
                born = date.fromordinal(today_ord - int(age * 365.2425))
                birthday = day(born)
                birth_year = born.year
            email = self._email(sur_py, [p for _, p in parts], birth_year) if r() < 0.35 else None
            province, cities = provinces[int(r() * n_provinces)]
            city = cities[int(r() * len(cities))]
            first_channel = channels[int(r() * n_channels)]
            # A few people signed up twice with another number: same name, city and birthday
            # (the duplicate review finds them). No random draw, so the rest stays the same.
            if cid % 97 == 0 and self.twin:
                name, gender, born, province, city = self.twin
                birthday = day(born)
            self.twin = (name, gender, born, province, city) if birthday else None

            # Team and owner.
            x = r()
            if x < 0.06:
                team = None
            elif first_channel == "store":
                team = south if province in SOUTH_PROVINCES else east if (
                    province in EAST_PROVINCES or x < 0.6) else south
            elif first_channel == "douyin":
                team = live if x < 0.85 else online
            elif x < 0.25 and province in EAST_PROVINCES:
                team = east
            elif x < 0.25 and province in SOUTH_PROVINCES:
                team = south
            else:
                team = online
            owner = None
            if team is not None and r() < 0.7:
                picks = self.team_owner_pick[team]
                owner = picks[int(r() * len(picks))]

            cats = self.categories[gender]
            fav = cats[int(r() * len(cats))]
            fav2 = cats[int(r() * len(cats))]

            # Orders.
            vip = tenure > 180 * DAY and r() < 0.03
            if vip:
                count = min(20 + int(rng.expovariate(1 / 12)), 80)
            elif r() < 0.12:
                count = 0
            else:
                count = 1 + int(math.log(1.0 - r()) / math.log(0.65))
                count = min(count, 1 + tenure // (7 * DAY))
            if self.order_scale != 1.0 and count:  # heavier order histories for benchmarks
                count = max(1, int(count * self.order_scale + r()))
            times = []
            if count:
                if r() < 0.75:
                    times.append(created + int(r() * min(7200, tenure)))
                promo = self.promo
                while len(times) < count:
                    if promo and r() < 0.08:
                        start = promo[int(r() * len(promo))]
                        t = start + day_profile[int(r() * n_day_profile)]
                        if created <= t <= now:
                            times.append(t)
                            continue
                    t = created + int(r() * tenure)
                    times.append(self._shaped(t, created, now, day_profile))
                times.sort()
            paid_total = 0
            paid_count = 0
            refunds = 0
            douyin_orders = 0
            pdd_orders = 0
            last_order = None
            for j, placed in enumerate(times):
                # The first order came through the channel the customer was first seen on.
                channel = (first_channel if j == 0 or r() < 0.6
                           else channels[int(r() * n_channels)])
                x = r()
                k = 1 if x < 0.6 else 2 if x < 0.85 else 3 if x < 0.95 else 4
                frags = []
                skus = []
                total = 0
                for _ in range(k):
                    y = r()
                    cat = fav if y < 0.75 else fav2 if y < 0.9 else int(r() * len(products))
                    catalogue = products[cat]
                    sku, _pname, price, pfrags = catalogue[int(r() * len(catalogue))]
                    if sku in skus:
                        continue
                    y = r()
                    qty = 1 if y < 0.78 else 2 if y < 0.93 else 3 if y < 0.98 else 4 + int(r() * 3)
                    skus.append(sku)
                    frags.append(pfrags[qty])
                    total += price * qty
                y = r()
                if y < 0.88:
                    status = "paid"
                    updated = placed
                    paid_total += total
                    paid_count += 1
                elif y < 0.95:
                    status = "refunded"
                    updated = min(placed + DAY + int(r() * 14 * DAY), now)
                    refunds += 1
                else:
                    status = "cancelled"
                    updated = min(placed + 300 + int(r() * 7200), now)
                if channel == "douyin":
                    douyin_orders += 1
                elif channel == "pdd":
                    pdd_orders += 1
                last_order = placed
                placed_s = ts(placed)
                orders.append((
                    self._next_id("order"), channel, self._external_id(channel, placed), cid,
                    placed_s, status, total, "CNY", "[" + ",".join(frags) + "]", placed_s,
                    placed_s if updated == placed else ts(updated),
                ))

            # Tags: candidates from what the customer did, about 40% get one or more.
            chosen = []
            if vip or paid_total >= 1_000_000:
                chosen.append("VIP")
            if r() < 0.37:
                candidates = []
                if paid_total >= 300_000:
                    candidates.append("高价值")
                if paid_count >= 3:
                    candidates.append("复购客户")
                if fav == 1:
                    candidates.append("母婴人群")
                if fav == 0 and count >= 2:
                    candidates.append("美妆达人")
                if douyin_orders or first_channel == "douyin":
                    candidates.append("直播粉丝")
                if pdd_orders or r() < 0.1:
                    candidates.append("价格敏感")
                if refunds and r() < 0.4 or r() < 0.01:
                    candidates.append("投诉过")
                if r() < 0.03:
                    candidates.append("企业客户")
                if r() < 0.12:
                    candidates.append("新品尝鲜")
                if last_order is not None and now - last_order > 180 * DAY:
                    candidates.append("沉睡唤醒")
                if birthday is not None and born.month == this_month:
                    candidates.append("生日月")
                if not candidates:
                    candidates.append("新品尝鲜" if r() < 0.5 else "价格敏感")
                rng.shuffle(candidates)
                chosen.extend(candidates[: 1 + int(r() * r() * 3)])
            for tag in chosen[:3]:
                if tag == "沉睡唤醒":  # tagged once the customer had gone quiet
                    quiet = last_order + 180 * DAY
                    tagged = quiet + int(r() * (now - quiet))
                else:
                    tagged = created + int(r() * tenure)
                customer_tags.append((self._next_id("customer_tag"), cid, tag_ids[tag], ts(tagged)))

            # Interactions, by the owner when there is one.
            mean = 0.72 if owner else 0.28 if team else 0.1
            if vip:
                mean *= 4
            limit = math.exp(-mean)
            p = r()
            count = 0
            while p > limit:
                count += 1
                p *= r()
            if count:
                kinds = self.kinds_store if team in self.store_teams else self.kinds_online
                team_staff = self.team_staff.get(team) if team else None
                catalogue = products[fav]
                cat_name = CATEGORIES[fav][1]
                for _ in range(count):
                    kind = kinds[int(r() * len(kinds))]
                    notes = NOTES[kind]
                    body = notes[int(r() * len(notes))]
                    if "{" in body:
                        body = body.format(p=catalogue[int(r() * len(catalogue))][1], c=cat_name)
                    staff_id = owner
                    if staff_id is None and team_staff and r() < 0.6:
                        staff_id = team_staff[int(r() * len(team_staff))]
                    t = created + int(r() * tenure)
                    happened = self._shaped(t, created, now, self.work_profile)
                    interactions.append((
                        self._next_id("interaction"), cid, staff_id, kind, body,
                        ts(happened), ts(min(happened + int(r() * 600), now)),
                    ))

            updated = created if r() < 0.6 else created + int(r() * tenure)
            customers.append((
                cid, name, mobile, email, gender, birthday, province, city, first_channel,
                owner, team, search_text(name, mobile, email), ts(created), ts(updated),
            ))
        return Batch(customers, orders, customer_tags, interactions)


CUSTOMER_COLUMNS = ("id", "name", "mobile", "email", "gender", "birthday", "province", "city",
                    "first_channel", "owner", "team", "search_text", "created_at", "updated_at")
ORDER_COLUMNS = ("id", "channel", "external_id", "customer", "placed_at", "status", "total_fen",
                 "currency", "items", "created_at", "updated_at")
CUSTOMER_TAG_COLUMNS = ("id", "customer", "tag", "created_at")
INTERACTION_COLUMNS = ("id", "customer", "staff", "kind", "body", "happened_at", "created_at")
BULK_TABLES = (
    ("customer", CUSTOMER_COLUMNS),
    ("order", ORDER_COLUMNS),
    ("customer_tag", CUSTOMER_TAG_COLUMNS),
    ("interaction", INTERACTION_COLUMNS),
)


def insert_sql(table: str, columns: tuple[str, ...]) -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    return f'INSERT INTO "{table}" ({names}) VALUES ({marks})'
