"""The figure store's one table (the rules: db/figures/store.py)."""

from piccolo.columns import Integer, Serial, Text, Timestamptz, Varchar
from piccolo.table import Table


class FigureEntry(Table):
    """A computed bundle of figures for one kind (the dashboard, a report's data), period and
    scope, as JSON: what the dashboard and the reports read instead of computing live. `key`
    names all of that (db/figures/store.key_for); one row per key, replaced by an upsert."""

    id = Serial(primary_key=True)
    key = Varchar(length=400, unique=True)
    value = Text(default="{}")  # JSON, with tuples and dates tagged (db/figures/codec.py)
    computed_at = Timestamptz()  # when the computation began: the figures are as of then
    took_ms = Integer(default=0)  # how long it took (a cold dashboard at 1M customers: seconds)
