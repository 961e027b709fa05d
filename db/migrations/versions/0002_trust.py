"""trust: frozen broadcast content, unique usernames, bootstrap admins

Revision ID: 0002_trust
Revises: 0001

- broadcasts: the content is frozen at confirm time (``content``: text and entities, or a
  file id and caption), so the author's own message is no longer needed at send time:
  ``source_chat_id`` and ``source_message_id`` become nullable. On SQLite this rebuilds
  the table (a batch migration), which ``deliveries`` references.
- users: a username belongs to one user (the latest sighting); older duplicates are
  cleared before the index becomes unique.
- staff: ``bootstrap`` marks the admin rows that came from ADMIN_IDS (rows without an
  ``added_by``), so a start-up without that id can demote them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_trust"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content", sa.JSON(), nullable=True))
        batch_op.alter_column("source_chat_id", existing_type=sa.BigInteger(), nullable=True)
        batch_op.alter_column("source_message_id", existing_type=sa.BigInteger(), nullable=True)

    # Keep each username on its most recently updated user only.
    op.execute(
        """
        UPDATE users SET username = NULL
        WHERE username IS NOT NULL AND EXISTS (
            SELECT 1 FROM users AS newer
            WHERE newer.username = users.username
              AND (newer.updated_at > users.updated_at
                   OR (newer.updated_at = users.updated_at AND newer.id > users.id))
        )
        """
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_username")
        batch_op.create_index("ix_users_username", ["username"], unique=True)

    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("bootstrap", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
    op.execute("UPDATE staff SET bootstrap = true WHERE role = 'admin' AND added_by IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("bootstrap")

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_username")
        batch_op.create_index("ix_users_username", ["username"], unique=False)

    # Frozen-only broadcasts have no source message; 0 keeps the row under NOT NULL.
    op.execute("UPDATE broadcasts SET source_chat_id = 0 WHERE source_chat_id IS NULL")
    op.execute("UPDATE broadcasts SET source_message_id = 0 WHERE source_message_id IS NULL")
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.alter_column("source_message_id", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("source_chat_id", existing_type=sa.BigInteger(), nullable=False)
        batch_op.drop_column("content")
