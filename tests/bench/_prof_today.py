import asyncio, cProfile, pstats, os, time
os.environ.setdefault("CRM_LOG_LEVEL", "WARNING")
from tests.bench.bench_today import _prepare, _cleanup
async def main():
    from db.followups import service
    from web.i18n import current_zone
    from web.templating import env
    user_id, token = await _prepare(500)
    try:
        t=time.perf_counter()
        for _ in range(20): lists = await service.today_lists(user_id, current_zone())
        print("db ms", (time.perf_counter()-t)/20*1000)
        tpl = env.get_template("followups/today.html")
        from jinja2_fragments import render_block
        ctx = {"groups": lists["groups"], "counts": lists["counts"], "is_manager": False, "has_devices": True, "user": None, "csrf_token": "", "lang": "zh-CN", "oob": [], "now": __import__("db.clock").clock.now()}
        t=time.perf_counter()
        for _ in range(20): render_block(env, "followups/today.html", "lists", ctx)
        print("render ms", (time.perf_counter()-t)/20*1000)
        pr = cProfile.Profile(); pr.enable()
        for _ in range(5): render_block(env, "followups/today.html", "lists", ctx)
        pr.disable(); pstats.Stats(pr).sort_stats("cumulative").print_stats(25)
    finally:
        await _cleanup(user_id)
asyncio.run(main())
