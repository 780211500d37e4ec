"""Who may call a write route: the dependencies its decorator lists,
`@router.patch(..., dependencies=OWNERS)`.

- `OWNERS`: the user the path's `user_id` names, or a superuser.
- `SUPERUSERS`: a superuser only.
{% if cookiecutter.use_auth %}

They check the caller's token (`auth.deps`); `/openapi.json` documents their 401 and 403.
{% else %}

Without authentication (the `use_auth` switch) they are empty: every caller may write.
{% endif %}
"""

from collections.abc import Sequence

from fastapi import params
{% if cookiecutter.use_auth %}

from ..auth.deps import OWNER_OR_SUPERUSER, SUPERUSER

OWNERS: Sequence[params.Depends] = [OWNER_OR_SUPERUSER]
SUPERUSERS: Sequence[params.Depends] = [SUPERUSER]
{% else %}

OWNERS: Sequence[params.Depends] = []
SUPERUSERS: Sequence[params.Depends] = []
{% endif %}
