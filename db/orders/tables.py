from piccolo.columns import JSONB, BigInt, ForeignKey, Serial, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from db.customers.tables import Customer

CHANNELS = ("tmall", "jd", "douyin", "pdd", "web", "store")
STATUSES = ("paid", "refunded", "cancelled")


class Order(Table):
    """Unique per (channel, external_id): a unique index is added in the migration."""

    id = Serial(primary_key=True)
    channel = Varchar(length=16)
    external_id = Varchar(length=64)
    customer = ForeignKey(Customer, null=False, index=True, on_delete=OnDelete.restrict)
    placed_at = Timestamptz(index=True)
    status = Varchar(length=16)
    total_fen = BigInt()
    currency = Varchar(length=3, default="CNY")
    items = JSONB(default="[]")
    created_at = Timestamptz()
    updated_at = Timestamptz()
