"""The figure store (db/figures/store.py): fresh, stale and missing entries, the refresh job,
the Refresh button, scopes kept apart, the nightly and start-up warm-ups, reports' data that
comes back from JSON exactly as it went in, and bad input that never becomes a 500.

The suite runs with CRM_FIGURES_MAX_AGE_SECONDS=0 (tests/conftest.py); these tests turn the
store on with `settings_env`, after any test client has started (a client's start-up queues
a warm-up when the store is on and empty, and its worker would run it meanwhile)."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from db.clock import now as real_now
from db.customers.scope import Scope
from db.engine import raw, reading
from db.figures import bundle, codec, store, warm
from db.figures.filters import ReportFilter, make_filter
from db.figures.key import key_figures
from db.figures.period import PRESETS, Period, shop_today
from db.jobs import nightly
from db.orders.ingest import ingest_order, parse_order
from reports import render
from reports.build import build, context, register_figures, report_data
from reports.registry import REPORTS
from tests import test_dashboard
from tests.test_dashboard import HX, NOV_QUERY
from tests.test_figures import NOV, scope_of
from tests.test_reports import ACTOR, _period, shop_fixture

KIND = "test:count"
shop, as_user = test_dashboard.shop, test_dashboard.as_user  # the dashboard tests' fixtures


@pytest.fixture
def turn_store_on(settings_env):
    """store_on(seconds=900): for tests with a client, called once it has started."""
    def apply(seconds: int = 900) -> None:
        settings_env(CRM_FIGURES_MAX_AGE_SECONDS=str(seconds))

    return apply


@pytest.fixture
def store_on(turn_store_on):
    turn_store_on()
    return turn_store_on


@pytest.fixture
def clock(monkeypatch):
    """The store's clock: clock(minutes=16) is sixteen minutes from now."""
    shift = {"delta": dt.timedelta()}
    monkeypatch.setattr(store, "now", lambda: real_now() + shift["delta"])

    def move(**kwargs):
        shift["delta"] = dt.timedelta(**kwargs)

    return move


@pytest.fixture
def counter():
    """A figure kind that counts its computations, with a tuple and a date in its value."""
    calls = []

    async def compute(period: Period, filt: ReportFilter) -> dict:
        calls.append((period, filt))
        return {"n": len(calls), "pair": (1, None), "day": period.start}

    store.register(KIND, compute)
    compute.calls = calls
    return compute


EVERYONE = ReportFilter(Scope.everything())


async def _entries() -> list[dict]:
    return await raw("SELECT key, value, computed_at, took_ms FROM figure_entry ORDER BY key")


async def _refresh_jobs() -> list[dict]:
    return await raw("SELECT id, args, unique_key, status FROM job WHERE kind = {}", store.REFRESH_KIND)


# ---------------------------------------------------------------- the policy


async def test_missing_is_computed_and_stored_then_fresh_is_read(store_on, clock, counter):
    first = await store.cached(KIND, NOV, EVERYONE, counter)
    assert first.value == {"n": 1, "pair": (1, None), "day": NOV.start}  # tuple and date back
    assert first.computed_at is not None and first.computed_at.tzinfo is not None
    [entry] = await _entries()
    assert entry["key"] == store.key_for(KIND, NOV, EVERYONE)
    clock(minutes=14)
    again = await store.cached(KIND, NOV, EVERYONE, counter)
    assert again.value["n"] == 1 and again.computed_at == first.computed_at and not again.stale
    assert len(counter.calls) == 1 and not await _refresh_jobs()


async def test_stale_serves_the_old_value_and_queues_one_refresh_that_updates_it(store_on, clock, counter):
    first = await store.cached(KIND, NOV, EVERYONE, counter)
    clock(minutes=16)
    for _ in range(3):  # three people look at the stale figures
        stale = await store.cached(KIND, NOV, EVERYONE, counter)
        assert stale.value["n"] == 1 and stale.stale and stale.computed_at == first.computed_at
    [job] = await _refresh_jobs()
    assert len(counter.calls) == 1
    await store.refresh_job({"id": job["id"], "args": json.loads(job["args"])})
    assert len(counter.calls) == 2
    fresh = await store.cached(KIND, NOV, EVERYONE, counter)
    assert fresh.value["n"] == 2 and not fresh.stale and fresh.computed_at > first.computed_at
    # a refresh of an entry that is fresh by then does nothing
    await store.refresh_job({"id": job["id"], "args": json.loads(job["args"])})
    assert len(counter.calls) == 2


async def test_fresh_true_recomputes_now(store_on, counter):
    await store.cached(KIND, NOV, EVERYONE, counter)
    again = await store.cached(KIND, NOV, EVERYONE, counter, fresh=True)
    assert again.value["n"] == 2 and len(await _entries()) == 1
    assert (await store.cached(KIND, NOV, EVERYONE, counter)).value["n"] == 2


async def test_max_age_zero_stores_nothing_and_always_computes(store_on, counter):
    store_on(0)
    for n in (1, 2):
        live = await store.cached(KIND, NOV, EVERYONE, counter)
        assert live.value["n"] == n and live.computed_at is None
    assert not await _entries() and not await _refresh_jobs()
    assert await warm.warm() == {"warmed": 0, "skipped": "CRM_FIGURES_MAX_AGE_SECONDS=0"}
    assert await warm.queue_if_empty() is None


async def test_an_older_computation_never_replaces_a_newer_one(store_on, counter):
    key = store.key_for(KIND, NOV, EVERYONE)
    t = real_now().replace(microsecond=0)
    await store._put(key, codec.dumps({"n": "new"}), t, 1)
    await store._put(key, codec.dumps({"n": "old"}), t - dt.timedelta(minutes=5), 1)
    assert (await store.cached(KIND, NOV, EVERYONE, counter)).value == {"n": "new"}


# ---------------------------------------------------------------- keys and scopes


def test_keys_share_what_is_the_same_and_separate_the_rest():
    key = lambda filt: store.key_for("dashboard", NOV, filt)  # noqa: E731
    admin1, admin2 = Scope("all", 1, 7), Scope("all", 2, None)
    assert key(make_filter(admin1)) == key(make_filter(admin2))  # two admins, one entry
    manager_a, manager_a2, manager_b = Scope("team", 3, 10), Scope("team", 4, 10), Scope("team", 5, 11)
    assert key(make_filter(manager_a)) == key(make_filter(manager_a2))
    assert key(make_filter(manager_a)) != key(make_filter(manager_b))
    assert key(make_filter(admin1, None, 10)) == key(make_filter(manager_a))  # the same rows
    assert key(make_filter(admin1)) != key(make_filter(admin1, None, 10))
    staff1, staff2 = Scope("own", 6, 10), Scope("own", 8, 10)
    assert key(make_filter(staff1)) != key(make_filter(staff2)) != key(make_filter(manager_a))
    assert key(make_filter(admin1, "jd")) != key(make_filter(admin1))
    assert key(make_filter(admin1)) != store.key_for("report:summary", NOV, make_filter(admin1))
    assert store.key_for("dashboard", Period(NOV.start, NOV.end - dt.timedelta(days=1)),
                         make_filter(admin1)) != key(make_filter(admin1))


async def test_a_manager_never_gets_another_team_s_entry_and_staff_get_their_own(shop, store_on):
    for name in ("ma", "sa1", "sb"):
        filt = make_filter(scope_of(shop, name))
        found = await bundle.dashboard(NOV, filt)
        live = await key_figures(NOV, filt)
        assert found.figures == live, name
    keys = [e["key"] for e in await _entries()]
    assert len(keys) == 3 and len(set(keys)) == 3
    # team B (through an admin narrowed to it) is not team A's entry
    team_b = shop["team"][shop["users"]["sb"]]
    narrowed = make_filter(scope_of(shop, "boss"), None, team_b)
    assert (await bundle.dashboard(NOV, narrowed)).figures == await key_figures(NOV, narrowed)
    team_a = make_filter(scope_of(shop, "ma"))
    assert (await bundle.dashboard(NOV, team_a)).figures == await key_figures(NOV, team_a)


# ---------------------------------------------------------------- the dashboard


async def _order(mobile: str, ext: str, total: str, placed: dt.datetime) -> None:
    await ingest_order(parse_order({
        "channel": "tmall", "external_id": ext, "status": "paid", "total": total,
        "customer": {"mobile": mobile, "name": "新客户"}, "placed_at": placed.isoformat()}), ACTOR)


def _tile(html: str, key: str) -> str:
    return re.sub(r"\s+", " ", html.split(f'id="tile-{key}"')[1].split("</a>")[0])


async def test_the_dashboard_says_how_old_its_figures_are_and_refresh_recomputes(shop, as_user, turn_store_on):
    boss = await as_user("boss")
    turn_store_on()
    page = await boss.get(f"/dashboard?{NOV_QUERY}")
    assert page.status_code == 200
    [entry] = await _entries()
    shown = store.key_for(bundle.KIND, NOV, make_filter(scope_of(shop, "boss")))
    assert entry["key"] == shown
    assert re.search(r'id="dash-as-of">数据更新于 \d\d:\d\d<', page.text), page.text[:3000]
    assert 'hx-post="/dashboard/refresh"' in page.text and "刷新" in page.text
    assert 'hx-indicator="#dash-refreshing, #dash"' in page.text  # the spinner, and the tiles fade
    orders = _tile(page.text, "orders")
    await _order("13911112222", "late-1", "123.45", dt.datetime(2026, 11, 15, 12, tzinfo=dt.timezone.utc))
    again = await boss.get(f"/dashboard?{NOV_QUERY}")
    assert _tile(again.text, "orders") == orders  # the stored figures, still fresh
    form = {"from": "2026-11-01", "to": "2026-11-30", "_csrf_token": ""}
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)
    form["_csrf_token"] = token
    fragment = await boss.post("/dashboard/refresh", data=form, headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert _tile(fragment.text, "orders") != orders and 'id="dash-as-of"' in fragment.text
    figures = await key_figures(NOV, make_filter(scope_of(shop, "boss")))
    assert f">{figures['orders'].value:,}<" in _tile(fragment.text, "orders")
    # without JavaScript: computed, then the page again
    plain = await boss.post("/dashboard/refresh", data=form, follow_redirects=False)
    assert plain.status_code == 303
    assert plain.headers["location"] == "/dashboard?from=2026-11-01&to=2026-11-30"


async def test_the_store_off_shows_no_time_and_no_button(shop, as_user):
    boss = await as_user("boss")
    page = await boss.get(f"/dashboard?{NOV_QUERY}")
    assert page.status_code == 200 and 'id="tile-orders"' in page.text
    assert "dash-as-of" not in page.text and "/dashboard/refresh" not in page.text
    assert not await _entries()


@pytest.mark.parametrize("form,status", [
    ({"from": "2026-13-01", "to": "2026-11-30"}, 200),
    ({"from": "2026-11-30", "to": "2026-11-01"}, 200),
    ({"from": "x" * 500, "to": "", "channel": "ebay", "team": "²"}, 200),
    ({"from": "2026-11-01", "to": "2026-11-30", "team": "99999999999999999999"}, 200),
])
async def test_bad_refresh_input_is_never_a_500(shop, as_user, turn_store_on, form, status):
    boss = await as_user("boss")
    turn_store_on()
    token = re.search(r'<meta name="csrf-token" content="([^"]*)"', (await boss.get("/dashboard")).text).group(1)
    fragment = await boss.post("/dashboard/refresh", data={**form, "_csrf_token": token}, headers=HX)
    assert fragment.status_code == status and "field-error" in fragment.text
    plain = await boss.post("/dashboard/refresh", data={**form, "_csrf_token": token}, follow_redirects=False)
    assert plain.status_code == 303


async def test_a_manager_refreshing_another_team_is_refused(shop, as_user, turn_store_on):
    manager = await as_user("ma")
    turn_store_on()
    token = re.search(r'<meta name="csrf-token" content="([^"]*)"', (await manager.get("/dashboard")).text).group(1)
    other = shop["team"][shop["users"]["sb"]]
    for headers in (HX, {}):
        answer = await manager.post("/dashboard/refresh", headers=headers, follow_redirects=False, data={
            "from": "2026-11-01", "to": "2026-11-30", "team": str(other), "_csrf_token": token})
        assert answer.status_code == 403
    assert not any(f"t{other}" in e["key"] for e in await _entries())


async def test_a_refresh_needs_the_csrf_token(shop, as_user, turn_store_on):
    boss = await as_user("boss")
    turn_store_on()
    answer = await boss.post("/dashboard/refresh", data={"from": "2026-11-01", "to": "2026-11-30"},
                             follow_redirects=False)
    assert answer.status_code == 403 and not await _entries()


# ---------------------------------------------------------------- bad entries and jobs


async def test_an_entry_that_does_not_decode_is_computed_again(store_on, counter):
    await store.cached(KIND, NOV, EVERYONE, counter)
    await raw("UPDATE figure_entry SET value = {}", "{not json")
    assert (await store.cached(KIND, NOV, EVERYONE, counter)).value["n"] == 2


async def test_a_dashboard_entry_of_another_shape_is_computed_again(shop, store_on):
    filt = make_filter(scope_of(shop, "boss"))
    await bundle.dashboard(NOV, filt)
    await raw("UPDATE figure_entry SET value = {}", codec.dumps({"version": 0, "figures": {}}))
    again = await bundle.dashboard(NOV, filt)
    assert again.figures == await key_figures(NOV, filt)


@pytest.mark.parametrize("args", [
    {}, {"kind": KIND}, {"kind": "nobody:registered", "from": "2026-11-01", "to": "2026-11-30",
                         "scope": {"kind": "all", "user_id": None, "team_id": None}, "team": None},
    {"kind": KIND, "from": "2026-11-31", "to": "2026-11-30", "scope": {}, "team": None},
    {"kind": KIND, "from": "2026-11-01", "to": "2026-11-30", "scope": {"kind": "root"}, "team": None},
    {"kind": KIND, "from": "2026-11-01", "to": "2026-11-30",
     "scope": {"kind": "all", "user_id": "x", "team_id": None}, "team": None},
    ["not", "a", "dict"],
])
async def test_a_refresh_job_with_bad_arguments_is_dropped(store_on, counter, args):
    await store.refresh_job({"id": 1, "args": args})
    assert not counter.calls and not await _entries()


def test_a_kind_name_is_checked():
    for bad in ("", "x" * 61, "a|b"):
        with pytest.raises(ValueError):
            store.register(bad, None)


def test_the_codec_refuses_what_would_not_come_back_the_same():
    for bad in ({1: "x"}, {"f": object()}, {"x": float("nan")}):
        with pytest.raises((TypeError, ValueError)):
            codec.dumps(bad)
    tricky = {"$t": [1], "$$d": ("a",), "when": dt.datetime(2026, 1, 2, 3, tzinfo=dt.timezone.utc)}
    assert codec.loads(codec.dumps(tricky)) == tricky


# ---------------------------------------------------------------- warming


async def test_the_nightly_job_warms_the_store(shop, store_on):
    register_figures()  # what reports/jobs.install does at the app's start
    assert await nightly.run_day(shop_today())
    keys = {e["key"] for e in await _entries()}
    teams = [r["id"] for r in await raw("SELECT id FROM team")]
    staff = await raw("SELECT id, team FROM staff_user WHERE role = 'staff' AND is_active = {}", True)
    today = shop_today()
    shops = [make_filter(Scope.everything())] + [make_filter(Scope.everything(), None, t) for t in teams]
    expected = {store.key_for("dashboard", Period.preset(p, today), f) for p in PRESETS for f in shops}
    expected |= {store.key_for("dashboard", Period.preset("30d", today), make_filter(Scope("own", s["id"], s["team"])))
                 for s in staff}
    expected |= {store.key_for("report:summary", Period.preset("30d", today), f) for f in shops}
    assert keys == expected
    # what the dashboard then shows is the warmed entry
    stored = await bundle.dashboard(Period.preset("30d"), make_filter(scope_of(shop, "ma")))
    assert stored.computed_at is not None
    assert len(await _entries()) == len(expected)


async def test_a_failing_warm_up_never_fails_the_night(shop, store_on, monkeypatch):
    async def broken(period, filt):
        raise RuntimeError("the figures broke")

    monkeypatch.setattr(bundle, "compute", broken)
    monkeypatch.setitem(store._computers, bundle.KIND, broken)
    result = await nightly.run_day(shop_today())
    assert result is not None and result["figures"]["failed"] > 0
    assert await nightly.is_done(shop_today())


async def test_start_up_queues_one_warm_up_when_the_store_is_empty(shop, store_on):
    first = await warm.queue_if_empty()
    assert first is not None and await warm.queue_if_empty() is None  # queued once
    await raw("DELETE FROM job")
    await warm.warm_job({"id": first, "args": {}})
    assert await warm.queue_if_empty() is None  # today's presets are there


async def test_old_entries_are_pruned(store_on, counter):
    key = store.key_for(KIND, NOV, EVERYONE)
    await store._put(key, codec.dumps({"n": 0}), real_now().replace(microsecond=0) - dt.timedelta(days=8), 1)
    assert await store.prune() == 1 and not await _entries()


# ---------------------------------------------------------------- reports


_CHART_ID = re.compile(r'chart-[0-9a-f-]{36}')


@pytest.mark.parametrize("name", list(REPORTS))
async def test_a_report_s_context_from_stored_data_equals_the_live_one(name, store_on):
    fx = await shop_fixture()
    report, period = REPORTS[name], _period(180)
    for filt in (make_filter(Scope.everything()), make_filter(Scope("team", 1, fx["a"]), "tmall")):
        async with reading():
            live = await report.data(period, filt)
        computed = await report_data(report, period, filt)
        stored = await report_data(report, period, filt)  # read back from the entry
        assert stored.computed_at == computed.computed_at is not None
        assert stored.value == live, name
        live_ctx = await context(report, period, filt, live)
        stored_ctx = await context(report, period, filt, stored.value)
        assert stored_ctx["d"] == live_ctx["d"]
        assert [(c.caption, c.headers, c.rows) for c in stored_ctx["charts"].values() if c] == \
               [(c.caption, c.headers, c.rows) for c in live_ctx["charts"].values() if c]
        html = lambda ctx: _CHART_ID.sub("chart", render.document(report.template, ctx))  # noqa: E731
        assert html(stored_ctx) == html(live_ctx)


async def test_a_report_from_the_store_says_how_old_its_figures_are(store_on):
    await shop_fixture()
    period, filt = _period(30), make_filter(Scope.everything())
    stored = await report_data(REPORTS["summary"], period, filt)
    ctx = await context(REPORTS["summary"], period, filt, stored.value, computed_at=stored.computed_at)
    assert ctx["r"]["as_of"] and "数据更新于" in render.document("summary.html", ctx)
    built = await build("summary", period, filt, "pdf")
    assert built.pages == 1


async def test_a_report_computed_live_says_nothing_of_it():
    period, filt = _period(30), make_filter(Scope.everything())
    stored = await report_data(REPORTS["summary"], period, filt)
    assert stored.computed_at is None
    ctx = await context(REPORTS["summary"], period, filt, stored.value)
    assert ctx["r"]["as_of"] is None and "数据更新于" not in render.document("summary.html", ctx)


def test_the_time_shown_is_the_shop_s_with_the_day_when_not_today(settings_env):
    from web.dashboard.pages import as_of_text

    settings_env(CRM_TIMEZONE="Asia/Shanghai")
    assert as_of_text(None) is None
    today = dt.datetime.combine(shop_today(), dt.time(9, 5), tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert as_of_text(today.astimezone(dt.timezone.utc)) == "09:05"
    earlier = as_of_text((today - dt.timedelta(days=1)).astimezone(dt.timezone.utc))
    assert earlier.endswith(" 09:05") and earlier != "09:05"


async def test_a_demo_load_forgets_the_empty_shop_s_figures(store_on):
    from db.demo import load_demo

    before = await bundle.dashboard(Period.preset("30d"), EVERYONE)  # a server started on no data
    assert before.figures["orders"].value == 0 and len(await _entries()) == 1
    await load_demo(customers=40, seed=5)
    assert not await _entries()
    after = await bundle.dashboard(Period.preset("30d"), EVERYONE)
    assert after.figures == await key_figures(Period.preset("30d"), EVERYONE)


async def test_two_askers_at_once_share_one_computation_and_get_copies_of_their_own(store_on):
    import asyncio

    calls = []

    async def slow(period, filt):
        calls.append(1)
        await asyncio.sleep(0.2)
        return {"rows": [{"n": 1}]}

    first, second = await asyncio.gather(store.cached(KIND, NOV, EVERYONE, slow),
                                         store.cached(KIND, NOV, EVERYONE, slow))
    assert len(calls) == 1 and first.value == second.value
    first.value["rows"][0]["href"] = "/mine"  # what a page adds to its rows
    assert "href" not in second.value["rows"][0]


async def test_a_stored_report_of_many_customers_is_made_at_once_not_in_the_background(
        store_on, monkeypatch):
    from reports import build as build_module
    from reports.build import likely_slow, report_named

    await shop_fixture()
    monkeypatch.setattr(build_module, "SLOW_CUSTOMERS", 5)  # the fixture has 7 customers
    everyone, month = make_filter(Scope.everything()), _period(30)
    assert await likely_slow("summary", month, everyone) is True  # its data not stored yet
    await report_data(report_named("summary"), month, everyone)
    assert await likely_slow("summary", month, everyone) is False  # only its one page left
    assert await likely_slow("loyalty", month, everyone) is True
