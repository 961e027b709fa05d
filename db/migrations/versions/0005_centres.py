"""centres: staff grants per centre, a staff chat per centre, centre contacts

Revision ID: 0005_centres
Revises: 0004_outcomes

- staff_centres: a staff member's centres, each as ``manager`` or ``staff``.
  ``staff.role`` keeps its values: ``admin`` is a programme admin (every centre),
  ``staff`` sees only the centres granted here.
- centre_chats: the staff chat bound to a centre (``STAFF_CHAT_ID`` stays the
  programme-wide fallback).
- centres.contacts: optional contacts as JSON (phones, hours, contact person, map link,
  website, Instagram, Telegram channel).
- audit_log.centre_id: the centre an action concerns, so centre staff read their
  centres' log; filled here for the existing rows about applications, groups, courses
  and classes.
- index: courses by centre (a centre's courses; its applications then come from the
  existing applications (course_id, status) index, see bench/centres.py).

Existing staff keep exactly the reach they had: admins stay programme admins, and each
``staff`` member is granted every centre that exists now, as centre staff (not manager).
A programme admin narrows that from the bot (Team). No row is lost or changed otherwise.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_centres"
down_revision: str | None = "0004_outcomes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TARGET_CENTRE = {
    "application": (
        "SELECT courses.centre_id FROM applications JOIN courses"
        " ON courses.id = applications.course_id"
        " WHERE CAST(applications.id AS VARCHAR(64)) = audit_log.target_id"
    ),
    "group": (
        "SELECT courses.centre_id FROM groups JOIN courses ON courses.id = groups.course_id"
        " WHERE CAST(groups.id AS VARCHAR(64)) = audit_log.target_id"
    ),
    "course": (
        "SELECT courses.centre_id FROM courses"
        " WHERE CAST(courses.id AS VARCHAR(64)) = audit_log.target_id"
    ),
    "session": (
        "SELECT courses.centre_id FROM class_sessions"
        " JOIN groups ON groups.id = class_sessions.group_id"
        " JOIN courses ON courses.id = groups.course_id"
        " WHERE CAST(class_sessions.id AS VARCHAR(64)) = audit_log.target_id"
    ),
}


def upgrade() -> None:
    op.create_table(
        "staff_centres",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("centre_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("added_by", sa.BigInteger(), nullable=True),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["centre_id"], ["centres.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["staff.user_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "centre_id"),
    )
    op.create_index("ix_staff_centres_centre", "staff_centres", ["centre_id"])
    op.create_table(
        "centre_chats",
        sa.Column("centre_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=128), nullable=True),
        sa.Column("bound_by", sa.BigInteger(), nullable=True),
        sa.Column("bound_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["centre_id"], ["centres.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("centre_id"),
    )
    op.create_index("ix_centre_chats_chat", "centre_chats", ["chat_id"])
    # Plain ADD COLUMN on both databases (no table rebuild on SQLite).
    op.add_column(
        "centres",
        sa.Column("contacts", sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
    )
    op.add_column("audit_log", sa.Column("centre_id", sa.Integer(), nullable=True))
    op.create_index("ix_audit_log_centre", "audit_log", ["centre_id", "id"])
    op.create_index("ix_courses_centre", "courses", ["centre_id"])

    # Existing staff keep their reach: every centre, as centre staff.
    op.execute(
        sa.text(
            "INSERT INTO staff_centres (user_id, centre_id, role, added_by, added_at)"
            " SELECT staff.user_id, centres.id, 'staff', NULL, CURRENT_TIMESTAMP"
            " FROM staff CROSS JOIN centres WHERE staff.role = 'staff'"
        )
    )
    for target_type, query in _TARGET_CENTRE.items():
        op.execute(
            sa.text(
                f"UPDATE audit_log SET centre_id = ({query}) WHERE audit_log.target_type = :kind"
            ).bindparams(kind=target_type)
        )


def downgrade() -> None:
    op.drop_index("ix_courses_centre", table_name="courses")
    op.drop_index("ix_audit_log_centre", table_name="audit_log")
    # ALTER TABLE ... DROP COLUMN on both databases (SQLite >= 3.35): a batch rebuild of
    # centres would drop the table that courses reference.
    op.execute("ALTER TABLE audit_log DROP COLUMN centre_id")
    op.execute("ALTER TABLE centres DROP COLUMN contacts")
    op.drop_index("ix_centre_chats_chat", table_name="centre_chats")
    op.drop_table("centre_chats")
    op.drop_index("ix_staff_centres_centre", table_name="staff_centres")
    op.drop_table("staff_centres")
