<%!
from {{ cookiecutter.package_name }}.db.placement import frozen_by
%>\
"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}
revision: str = ${repr(up_revision)}
down_revision: str | Sequence[str] | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}
<% frozen = frozen_by(down_revision) %>\
% if frozen:
# Where the template's revisions this one follows stood when it was written: they stay
# there ({{ cookiecutter.package_name }}/db/placement.py).
template_revisions = ${repr(frozen)}
% endif


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
