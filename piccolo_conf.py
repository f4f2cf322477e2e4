"""Piccolo finds this module at the project root: the engine comes from our settings."""

from piccolo.conf.apps import AppRegistry

from db.engine import make_engine
from db.settings import get_settings

DB = make_engine(get_settings())

APP_REGISTRY = AppRegistry(
    apps=[
        "db.staff.piccolo_app",
        "db.customers.piccolo_app",
        "db.pipeline.piccolo_app",
        "db.followups.piccolo_app",
        "db.orders.piccolo_app",
        "db.members.piccolo_app",
        "db.audit.piccolo_app",
        "db.imports.piccolo_app",
        "db.push.piccolo_app",
        "db.jobs.piccolo_app",
        "db.limits.piccolo_app",
        "db.reports.piccolo_app",
        "db.figures.piccolo_app",
    ]
)
