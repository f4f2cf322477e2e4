"""Test set-up: the environment is set before the app is imported; every test gets a clean,
migrated database (SQLite by default, PostgreSQL when CRM_TEST_DATABASE_URL is set).

Under pytest-xdist every worker process imports this module itself, so each has its own
temporary folder (the SQLite file, the data folder the servers it starts use) and, on
PostgreSQL, its own database: CRM_TEST_DATABASE_URL's database with the worker's id appended
(`test_gw0`), created on first use; the given database is used as it is when run without xdist.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import re
import shutil
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ... under xdist; else empty


def _worker_database_url(base_url: str, worker: str) -> str:
    """The base URL with `_<worker>` appended to its database name; the database is created
    (from a connection to the base database) if it does not exist yet."""
    if not worker:
        return base_url
    parts = urlsplit(base_url)
    base_name = parts.path.lstrip("/")
    assert base_name, "CRM_TEST_DATABASE_URL must name a database"
    name = f"{base_name}_{worker}"

    async def create() -> None:
        import asyncpg

        conn = await asyncpg.connect(base_url)
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                quoted = '"' + name.replace('"', '""') + '"'
                try:
                    await conn.execute(f"CREATE DATABASE {quoted}")
                except asyncpg.DuplicateDatabaseError:
                    pass
        finally:
            await conn.close()

    asyncio.run(create())
    return urlunsplit(parts._replace(path=f"/{name}"))


_TMP = Path(tempfile.mkdtemp(prefix=f"crm-tests-{_WORKER}-" if _WORKER else "crm-tests-"))
# xdist's controller process imports this module too but runs no test (so no fixture removes it)
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)
_PG_URL = os.environ.get("CRM_TEST_DATABASE_URL", "").strip()
if _PG_URL:
    _PG_URL = _worker_database_url(_PG_URL, _WORKER)
os.environ["CRM_DATABASE_URL"] = _PG_URL or f"sqlite:///{_TMP / 'crm.sqlite3'}"
os.environ["CRM_DATA_DIR"] = str(_TMP / "data")
os.environ["CRM_SECRET_KEY"] = "test-secret-key-not-for-production-0123456789"
os.environ["CRM_ADMIN_2FA"] = "optional"
os.environ["CRM_DEMO"] = "0"
os.environ["CRM_COOKIE_SECURE"] = "1"
os.environ["CRM_LOG_LEVEL"] = "WARNING"
os.environ["CRM_NIGHTLY_AT"] = "off"  # tests run the nightly job themselves
os.environ["CRM_REMINDERS"] = "off"  # tests queue reminders themselves
os.environ["CRM_FIGURES_MAX_AGE_SECONDS"] = "0"  # live figures; tests/test_figure_store.py turns the store on
os.environ["CRM_PUSH_SENDER"] = "off"  # tests call db.push.sender.send_due themselves
# The test client serves the app on its own event loop; a pool would be tied to that loop.
os.environ["CRM_DB_POOL_SIZE"] = "0"
os.environ["PICCOLO_CONF"] = "piccolo_conf"

from litestar.testing import AsyncTestClient  # noqa: E402

from db.engine import engine  # noqa: E402
from web.cli import _migrate  # noqa: E402
from db.settings import get_settings  # noqa: E402

IS_SQLITE = not _PG_URL
TEMPLATE_DB = _TMP / "template.sqlite3"
BASE_URL = "https://testserver.local"
PASSWORD = "correct-horse-battery-staple"


def _sqlite_path() -> Path:
    return Path(engine().path)


async def _prepare_database() -> list[str]:
    eng = engine()
    if IS_SQLITE:
        path = _sqlite_path()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        with closing(sqlite3.connect(path)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
        await _migrate()
        with closing(sqlite3.connect(path)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copyfile(path, TEMPLATE_DB)
        return []
    await eng.run_ddl("DROP SCHEMA public CASCADE")
    await eng.run_ddl("CREATE SCHEMA public")
    await _migrate()
    rows = await eng.run_ddl(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'migration'"
    )
    tables = [r["tablename"] for r in rows]
    for table in tables:  # rows the migrations seed (the built-in pipeline stages)
        seeded = await eng.run_ddl(f'SELECT * FROM "{table}" ORDER BY id')
        if seeded:
            _SEEDED[table] = [{k: v for k, v in dict(r).items() if k != "id"} for r in seeded]
    return tables


_SEEDED: dict[str, list[dict]] = {}
_RESTART_SEQUENCES = ("SELECT setval(c.oid::regclass, 1, false) FROM pg_class c "
                      "WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace")


async def _empty_postgres(tables: list[str]) -> None:
    """DELETE every table's rows (foreign-key triggers off for this session, so the order does
    not matter), then restart every id sequence: the state TRUNCATE ... RESTART IDENTITY gives,
    without its cost (TRUNCATE makes new files for each table: 1.2 s for 55 tables here, more
    than most tests; DELETE of a test's few rows is about a millisecond)."""
    deletes = "; ".join(f'DELETE FROM "{t}"' for t in tables)
    async with engine().pool.acquire() as conn:
        await conn.execute(f"SET session_replication_role = replica; {deletes}; "
                           "SET session_replication_role = DEFAULT")
    await engine().run_ddl(_RESTART_SEQUENCES)


async def _reseed() -> None:
    """Put back what the migrations seeded, in id order (TRUNCATE restarted the ids)."""
    from piccolo.querystring import QueryString

    for table, rows in _SEEDED.items():
        for row in rows:
            columns = ", ".join(f'"{k}"' for k in row)
            marks = ", ".join("{}" for _ in row)
            await engine().run_querystring(
                QueryString(f'INSERT INTO "{table}" ({columns}) VALUES ({marks})', *row.values())
            )


async def _ensure_pool() -> None:
    """On PostgreSQL the tests' own queries share one pool on the session's event loop: a new
    connection per query (what CRM_DB_POOL_SIZE=0 means) made the PostgreSQL suite three
    times slower than SQLite's, waiting on PostgreSQL to start a backend each time. A test
    that closed it gets it back here."""
    eng = engine()
    if IS_SQLITE:
        return
    if not isinstance(eng, _LoopPoolEngine):
        eng.__class__ = type("_Engine", (_LoopPoolEngine, type(eng)), {"__slots__": ()})
    if eng.pool is None:
        # Commits need not wait for the disk: a test database is thrown away anyway.
        settings = {**eng.config.get("server_settings", {}), "synchronous_commit": "off"}
        await eng.start_connection_pool(min_size=1, max_size=10, server_settings=settings)


class _LoopPoolEngine:
    """The engine's pool is seen only from the event loop it was made on: a test that runs
    its own loop (asyncio.run) gets a connection per query, or starts a pool of its own."""

    __slots__ = ()

    @property
    def pool(self):
        from piccolo.engine.postgres import PostgresEngine

        pool = PostgresEngine.pool.__get__(self)  # the engine's own slot
        if pool is None:
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        return pool if getattr(pool, "_loop", None) is loop else None

    @pool.setter
    def pool(self, value) -> None:
        from piccolo.engine.postgres import PostgresEngine

        PostgresEngine.pool.__set__(self, value)


@pytest.fixture(scope="session", autouse=True)
async def _database_schema():
    tables = await _prepare_database()
    yield tables
    if not IS_SQLITE and engine().pool is not None:
        await engine().close_connection_pool()
    shutil.rmtree(_TMP, ignore_errors=True)


@pytest.fixture(autouse=True)
async def clean_database(_database_schema):
    """Each test starts from a freshly migrated, empty database."""
    if IS_SQLITE:
        engine().close_readers()  # the kept read connections must not watch the file change
        # Through SQLite's backup API, not a file copy: a connection left open by the test
        # before (an app's background task, say) sees a consistent database, not a torn file.
        # (closing(): a sqlite3 connection's own `with` commits but never closes.)
        with closing(sqlite3.connect(TEMPLATE_DB)) as source, \
                closing(sqlite3.connect(_sqlite_path())) as target:
            source.backup(target)
    else:
        await _ensure_pool()
        await _empty_postgres(_database_schema)
        await _reseed()
    from db.customers import shop_profile
    from db.members import config

    config.forget()  # the points rules are cached per process for a few seconds
    shop_profile.forget()  # and the brand's shop name
    yield


@pytest.fixture
def settings_env(monkeypatch):
    """Change settings for one test: settings_env(CRM_ADMIN_2FA='required')."""

    def apply(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()

    yield apply
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def app():
    from web.app import create_app

    return create_app()


@pytest.fixture
async def client(app):
    async with AsyncTestClient(app=app, base_url=BASE_URL) as c:
        yield c


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)"')


async def csrf_token(client, path: str = "/login") -> str:
    page = await client.get(path)
    found = CSRF_META.search(page.text)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


async def sign_in(client, username: str, password: str = PASSWORD):
    token = await csrf_token(client, "/login")
    return await client.post(
        "/login",
        data={"username": username, "password": password, "_csrf_token": token},
        follow_redirects=False,
    )


@pytest.fixture
def make_user():
    from db.staff.accounts import create_user

    async def factory(username: str = "wang.fang", role: str = "staff", team: str | None = "华东门店组",
                      password: str = PASSWORD) -> int:
        return await create_user(username, password, role, team, display_name=username)

    return factory


@pytest.fixture
async def signed_in(app, make_user):
    """A client signed in as a new user of the given role and team."""

    clients = []

    async def factory(username: str = "wang.fang", role: str = "staff", team: str | None = "华东门店组"):
        user_id = await make_user(username, role, team)
        c = AsyncTestClient(app=app, base_url=BASE_URL)
        await c.__aenter__()
        clients.append(c)
        response = await sign_in(c, username)
        assert response.status_code == 303, response.text
        c.user_id = user_id
        c.csrf = await csrf_token(c, "/more")
        return c

    yield factory
    for c in reversed(clients):  # test clients must close in the reverse order they opened
        await c.__aexit__(None, None, None)


@pytest.fixture
def signed_in_english(signed_in):
    """Like signed_in, for tests that check English wording (the default language is Chinese)."""

    async def factory(*args, **kwargs):
        client = await signed_in(*args, **kwargs)
        client.headers["Accept-Language"] = "en"
        return client

    return factory


@pytest.fixture
async def api_key():
    from db.staff.accounts import create_api_key

    return await create_api_key("test-shop")


@pytest.fixture
async def api(client, api_key):
    client.headers["Authorization"] = f"Bearer {api_key}"
    return client


@pytest.fixture
async def member_page_client(app):
    """A client signed in as a new member (through a support link, the quickest way in)."""
    from litestar.testing import AsyncTestClient

    clients = []

    async def factory(name: str = "王芳", mobile: str = "13812345678", lang: str = "en"):
        from db.members import signin
        from tests.test_member_signin import make_member

        member = await make_member(name, mobile)
        c = AsyncTestClient(app=app, base_url=BASE_URL)
        await c.__aenter__()
        clients.append(c)
        c.headers["Accept-Language"] = lang
        token, _ = await signin.create_login_link(mobile)
        page = await c.get(f"/m/login/link/{token}")
        csrf = CSRF_META.search(page.text).group(1)
        response = await c.post(f"/m/login/link/{token}", data={"_csrf_token": csrf}, follow_redirects=False)
        assert response.status_code == 303
        c.member = member
        c.csrf = CSRF_META.search((await c.get("/m/card")).text).group(1)
        return c

    yield factory
    for c in reversed(clients):
        await c.__aexit__(None, None, None)
