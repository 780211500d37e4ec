"""Queries about roles and their assignment to users."""

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert

from ..models import Role, user_roles
from .base import Repository


class RoleRepository(Repository[Role]):
    model = Role

    async def get_by_name(self, name: str) -> Role | None:
        """The role named `name`, whatever its letter case (names are unique ignoring it)."""
        statement = select(Role).where(func.lower(Role.name) == func.lower(name))
        return await self.session.scalar(statement)

    async def assign(self, *, user_id: int, role_id: int) -> None:
        """Give a user a role; assigning it again changes nothing."""
        statement = (
            insert(user_roles)
            .values(user_id=user_id, role_id=role_id)
            .on_conflict_do_nothing(index_elements=["user_id", "role_id"])
        )
        await self.session.execute(statement)

    async def unassign(self, *, user_id: int, role_id: int) -> None:
        """Take a role from a user; a role the user does not have changes nothing."""
        statement = delete(user_roles).where(
            user_roles.c.user_id == user_id, user_roles.c.role_id == role_id
        )
        await self.session.execute(statement)
