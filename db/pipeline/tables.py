"""The sales pipeline: stages a shop configures, opportunities that move through them, and
every move, kept for the customer's timeline (线索 → 沟通 → 报价 → 成交/输单)."""

from piccolo.columns import BigInt, Date, ForeignKey, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from db.customers.tables import Customer
from db.staff.tables import StaffUser

BUILT_IN_CODES = ("lead", "contacted", "quoted", "won", "lost")
OUTCOMES = ("open", "won", "lost")
CHANGE_KINDS = ("created", "moved")


class PipelineStage(Table):
    """A column of the board. Built-in stages have a code and an empty name (shown in the
    reader's language); a manager's own stages have no code and the name they typed."""

    id = Serial(primary_key=True)
    code = Varchar(length=16, default="")
    name = Varchar(length=40, default="")
    outcome = Varchar(length=8, default="open")  # open | won | lost
    position = Integer(default=0)
    created_at = Timestamptz()


class Opportunity(Table):
    """A deal with a customer. `status` is the stage's outcome, copied on every move so that
    filters read it off an index without a join."""

    id = Serial(primary_key=True)
    customer = ForeignKey(Customer, null=False, on_delete=OnDelete.restrict)
    title = Varchar(length=120)
    amount_fen = BigInt(default=0)
    expected_close_on = Date(null=True, default=None)
    owner = ForeignKey(StaffUser, null=True, on_delete=OnDelete.set_null)
    stage = ForeignKey(PipelineStage, null=False, on_delete=OnDelete.restrict)
    status = Varchar(length=8, default="open")  # open | won | lost
    created_at = Timestamptz()
    updated_at = Timestamptz()
    closed_at = Timestamptz(null=True, default=None)
    created_by = ForeignKey(StaffUser, null=True, on_delete=OnDelete.set_null)


class OpportunityStageChange(Table):
    """One move of an opportunity (kind "created": from_stage is null). A stage deleted later
    leaves its side null. `customer` is copied for the timeline's (customer, changed_at, id)
    index."""

    id = Serial(primary_key=True)
    opportunity = ForeignKey(Opportunity, null=False, on_delete=OnDelete.cascade)
    customer = ForeignKey(Customer, null=False, on_delete=OnDelete.restrict)
    kind = Varchar(length=8, default="moved")  # created | moved
    from_stage = ForeignKey(PipelineStage, null=True, on_delete=OnDelete.set_null)
    to_stage = ForeignKey(PipelineStage, null=True, on_delete=OnDelete.set_null)
    changed_by = ForeignKey(StaffUser, null=True, on_delete=OnDelete.set_null)
    changed_at = Timestamptz()
    amount_fen = BigInt(default=0)
