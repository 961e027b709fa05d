"""centre_reach: whom a centre's announcements reach, widened by a programme admin

Revision ID: 0006_centre_reach
Revises: 0005_centres

- centre_reach: one row per centre whose announcement reach a programme admin widened:
  ``region`` (its applicants, plus people whose application names a district of the
  centre's region or who applied to a centre of that region) or ``everyone`` (everyone
  who uses the bot). No row: the centre's own applicants only, as before.

A new table only: no existing row is touched, so every centre keeps today's reach.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_centre_reach"
down_revision: str | None = "0005_centres"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "centre_reach",
        sa.Column("centre_id", sa.Integer(), nullable=False),
        sa.Column("reach", sa.String(length=16), nullable=False),
        sa.Column("set_by", sa.BigInteger(), nullable=True),
        sa.Column("set_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["centre_id"], ["centres.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("centre_id"),
    )


def downgrade() -> None:
    op.drop_table("centre_reach")
