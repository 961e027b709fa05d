"""outcomes: extra sign-up questions and answers, trainee progress, certificates,
follow-ups after the course

Revision ID: 0004_outcomes
Revises: 0003_conversations
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_outcomes"
down_revision: str | None = "0003_conversations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROGRESS_COLUMNS = ("progress", "progress_at", "dropout_reason", "dropout_note")


def upgrade() -> None:
    # Nullable columns only: existing applications keep every value (no progress yet).
    op.add_column("applications", sa.Column("progress", sa.String(length=16), nullable=True))
    op.add_column("applications", sa.Column("progress_at", sa.DateTime(), nullable=True))
    op.add_column("applications", sa.Column("dropout_reason", sa.String(length=32), nullable=True))
    op.add_column("applications", sa.Column("dropout_note", sa.Text(), nullable=True))
    op.create_table(
        "questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("min_value", sa.Float(), nullable=True),
        sa.Column("max_value", sa.Float(), nullable=True),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "course_questions",
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["question_id"], ["questions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("course_id", "question_id"),
    )
    op.create_table(
        "answers",
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["question_id"], ["questions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("application_id", "question_id"),
    )
    op.create_index("ix_answers_question", "answers", ["question_id", "value"], unique=False)
    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("issuer", sa.String(length=128), nullable=False),
        sa.Column("file_id", sa.String(length=256), nullable=True),
        sa.Column("file_kind", sa.String(length=16), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("application_id"),
    )
    op.create_table(
        "follow_ups",
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("employer", sa.String(length=128), nullable=True),
        sa.Column("park_resident", sa.Boolean(), nullable=True),
        sa.Column("contact_consent", sa.Boolean(), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("application_id", "wave"),
    )


def downgrade() -> None:
    op.drop_table("follow_ups")
    op.drop_table("certificates")
    op.drop_index("ix_answers_question", table_name="answers")
    op.drop_table("answers")
    op.drop_table("course_questions")
    op.drop_table("questions")
    with op.batch_alter_table("applications", schema=None) as batch_op:
        for column in reversed(PROGRESS_COLUMNS):
            batch_op.drop_column(column)
