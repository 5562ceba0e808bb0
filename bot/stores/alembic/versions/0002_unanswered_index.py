"""index a customer's unanswered messages and unsent replies

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 19:40:00

The worker's "oldest unanswered message of this customer" query used the sender index alone and
read every earlier message of the customer: answers slowed as a conversation grew. The new index
(sender, status, channel) replaces the sender index and serves lookups by customer as well; the
same for the outbox, where the next reply to send and held replies are looked up per customer.
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_inbound_messages_unanswered', 'inbound_messages',
                    ['sender', 'status', 'channel'], unique=False)
    op.drop_index('ix_inbound_messages_sender', table_name='inbound_messages')
    op.create_index('ix_outbound_messages_unsent', 'outbound_messages',
                    ['recipient', 'status', 'channel'], unique=False)
    op.drop_index('ix_outbound_messages_recipient', table_name='outbound_messages')


def downgrade() -> None:
    op.create_index('ix_outbound_messages_recipient', 'outbound_messages', ['recipient'],
                    unique=False)
    op.drop_index('ix_outbound_messages_unsent', table_name='outbound_messages')
    op.create_index('ix_inbound_messages_sender', 'inbound_messages', ['sender'], unique=False)
    op.drop_index('ix_inbound_messages_unanswered', table_name='inbound_messages')
