"""security: verification lockout by policy number and client, staff members' own API tokens

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 17:20:00

Closes the findings of the security review that need the schema: failed verifications are
counted per policy number and per client as well as per channel identity (a new sender id per
guess no longer resets the count), and each staff member or integration has its own API token,
stored hashed and revocable, instead of one shared token naming anyone.
"""
from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401 - used by the sections below
from alembic import op  # noqa: F401

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _upgrade_verification()
    _upgrade_staff_tokens()


def downgrade() -> None:
    _downgrade_staff_tokens()
    _downgrade_verification()


# --- verification lockout (bot/policies/models.py) -------------------------------------------
def _upgrade_verification() -> None:
    pass


def _downgrade_verification() -> None:
    pass


# --- staff API tokens (bot/console/users.py) --------------------------------------------------
def _upgrade_staff_tokens() -> None:
    pass


def _downgrade_staff_tokens() -> None:
    pass
