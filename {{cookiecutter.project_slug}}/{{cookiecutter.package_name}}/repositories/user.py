"""Queries about users."""

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, NamedTuple

from sqlalchemy import Row, bindparam, func, or_, select
from sqlalchemy.orm import selectinload

from ..models import Post, Role, User
from ..schemas.user import UserRead
from .base import Repository, by_id

NEW_USER_WINDOW = timedelta(days=30)
# Built once (see `by_id`): every post and role assignment runs it.
BY_ID_FOR_SHARE = by_id(User).with_for_update(read=True)
# What a user is answered with (`UserRead`): reads that need no more select these columns
# rather than the entity, which costs an object and its tracked state per row.
PUBLIC_COLUMNS = tuple(getattr(User, name) for name in UserRead.model_fields)
_PUBLIC_BY_ID = select(*PUBLIC_COLUMNS).where(User.id == bindparam("id"))


class UserStatistics(NamedTuple):
    total_users: int
    active_users: int
    new_users_30d: int


class UserPostCount(NamedTuple):
    id: int
    username: str
    email: str
    post_count: int


def escape_like(term: str, escape: str = "\\") -> str:
    """Make `%`, `_` and the escape character match themselves in a LIKE pattern."""
    for char in (escape, "%", "_"):
        term = term.replace(char, escape + char)
    return term


class UserRepository(Repository[User]):
    model = User

{% if cookiecutter.use_soft_delete %}
    async def get_including_deleted(self, id_: int) -> User | None:
        statement = select(User).where(User.id == id_).execution_options(include_deleted=True)
        return await self.session.scalar(statement)

{% endif %}
    async def get_public(self, id_: int) -> Row[Any] | None:
        """The user's `PUBLIC_COLUMNS`, None when there is none."""
        return (await self.session.execute(_PUBLIC_BY_ID, {"id": id_})).first()

    async def list_public(
        self, *, skip: int = 0, limit: int = 100, after: int | None = None
    ) -> Sequence[Row[Any]]:
        """Users' `PUBLIC_COLUMNS` by id: after id `after` (by key) when given, less the
        first `skip` (see `Repository.get_page_after`)."""
        statement = select(*PUBLIC_COLUMNS).order_by(User.id)
        if after is not None:
            statement = statement.where(User.id > after)
        return (await self.session.execute(statement.offset(skip).limit(limit))).all()

    async def get_for_share(self, id_: int) -> User | None:
        """The user, locked (FOR SHARE) until the transaction ends: a concurrent update or
        delete waits, so rows attached to the user now cannot end up under a deleted one."""
        return await self.session.scalar(BY_ID_FOR_SHARE, {"id": id_})

    async def get_by_email(self, email: str) -> User | None:
        return await self.session.scalar(select(User).where(User.email == email))

    async def list_active(self, *, skip: int = 0, limit: int = 100) -> Sequence[User]:
        return await self.get_many(filters={"is_active": True}, skip=skip, limit=limit)

    async def list_by_role(
        self, role_name: str, *, skip: int = 0, limit: int = 100
    ) -> Sequence[User]:
        statement = (
            select(User)
            .join(User.roles)
            .where(func.lower(Role.name) == func.lower(role_name))
            .order_by(User.id)
            .offset(skip)
            .limit(limit)
        )
        return (await self.session.scalars(statement)).all()

    async def search(self, term: str, *, skip: int = 0, limit: int = 100) -> Sequence[User]:
        """Case-insensitive substring match on username, email or full name."""
        pattern = f"%{escape_like(term)}%"
        statement = (
            select(User)
            .where(
                or_(
                    User.username.ilike(pattern, escape="\\"),
                    User.email.ilike(pattern, escape="\\"),
                    User.full_name.ilike(pattern, escape="\\"),
                )
            )
            .order_by(User.id)
            .offset(skip)
            .limit(limit)
        )
        return (await self.session.scalars(statement)).all()

    async def get_with_details(self, id_: int) -> User | None:
        """The user with roles, posts and profile loaded (one query per relationship)."""
        statement = (
            select(User)
            .where(User.id == id_)
            .options(selectinload(User.roles), selectinload(User.posts), selectinload(User.profile))
            # Refresh an instance the session already holds, so the loaders run.
            .execution_options(populate_existing=True)
        )
        return await self.session.scalar(statement)

    async def statistics(self) -> UserStatistics:
        """Total, active and recently created users in one query."""
        statement = select(
            func.count(),
            func.count().filter(User.is_active),
            func.count().filter(User.created_at >= func.now() - NEW_USER_WINDOW),
        ).select_from(User)
        total, active, new = (await self.session.execute(statement)).one()
        return UserStatistics(total_users=total, active_users=active, new_users_30d=new)

    async def post_counts(self, *, skip: int = 0, limit: int = 100) -> list[UserPostCount]:
        """Users with the number of posts each wrote, in one query, ordered by id."""
        statement = (
            select(User.id, User.username, User.email, func.count(Post.id))
            .outerjoin(Post, Post.author_id == User.id)
            .group_by(User.id)
            .order_by(User.id)
            .offset(skip)
            .limit(limit)
        )
        rows = await self.session.execute(statement)
        return [UserPostCount(*row) for row in rows]
