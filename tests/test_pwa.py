"""The installable shell: service worker, manifest, offline page and static caching."""

import json


async def test_service_worker_is_served_from_the_root_scope(client):
    response = await client.get("/sw.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert response.headers["service-worker-allowed"] == "/"
    assert "no-cache" in response.headers["cache-control"]
    assert "/offline" in response.text


async def test_manifest_names_the_app_and_its_icons(client):
    manifest = json.loads((await client.get("/manifest.webmanifest")).text)
    assert manifest["start_url"] == "/today" and manifest["display"] == "standalone"
    for icon in manifest["icons"]:
        assert (await client.get(icon["src"])).status_code == 200


async def test_offline_page_needs_no_sign_in(client):
    response = await client.get("/offline")
    assert response.status_code == 200 and "<html" in response.text


async def test_versioned_static_files_are_cached_for_a_year(client):
    page = await client.get("/login")
    assert "/static/js/htmx.min.js?v=" in page.text
    response = await client.get("/static/css/app.css?v=abc")
    assert "immutable" in response.headers["cache-control"]


async def test_htmx_request_after_session_end_redirects_the_whole_page(client):
    response = await client.get("/customers?q=1234&before=99", headers={
        "HX-Request": "true", "HX-Current-URL": "https://testserver.local/customers?q=1234"})
    assert response.status_code == 401
    assert response.headers["hx-redirect"] == "/login?next=%2Fcustomers%3Fq%3D1234"


async def test_language_setting_overrides_the_browser(signed_in):
    me = await signed_in("li.na")
    await me.post("/account/language", data={"lang": "en", "_csrf_token": me.csrf})
    page = await me.get("/customers", headers={"Accept-Language": "zh-CN"})
    assert "Customers" in page.text and '<html lang="en"' in page.text
    await me.post("/account/language", data={"lang": "auto", "_csrf_token": me.csrf})
    page = await me.get("/customers", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert '<html lang="zh-CN"' in page.text


async def test_static_files_are_compressed_and_pages_are_not(client):
    css = await client.get("/static/css/app.css?v=1", headers={"Accept-Encoding": "gzip"})
    assert css.headers.get("content-encoding") == "gzip"
    page = await client.get("/login", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in page.headers


async def test_everything_the_worker_precaches_is_there_without_sign_in(client):
    """One missing file fails the worker's install: every precached URL answers 200."""
    import re

    worker = (await client.get("/sw.js")).text
    urls = re.findall(r'"(/[^"]*)"', worker[worker.index("const OFFLINE_URL"):worker.index("function precache")])
    assert "/m/offline" in urls and "/static/member/member.css" in urls
    for url in set(urls) - {"/offline"}:
        if url.startswith("/") and not url.endswith("/"):
            assert (await client.get(url)).status_code == 200, url


async def test_member_offline_page_is_the_member_look_without_nav(client):
    response = await client.get("/m/offline")
    assert response.status_code == 200
    assert "member.css" in response.text and "m-nav" not in response.text
