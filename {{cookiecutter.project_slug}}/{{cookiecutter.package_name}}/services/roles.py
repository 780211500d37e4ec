"""Use cases around roles."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from ..db.transaction import transactional
from ..errors import RoleNotFoundError, UserNotFoundError
from ..models import Role, User
from ..repositories import RoleRepository, UserRepository
from ..schemas.role import RoleCreate


class RoleService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.roles = RoleRepository(session)
        self.users = UserRepository(session)

    async def get_role(self, name: str) -> Role:
        role = await self.roles.get_by_name(name)
        if role is None:
            raise RoleNotFoundError(name)
        return role

    @transactional
    async def create_role(self, data: RoleCreate) -> Role:
        return await self.roles.create(**data.model_dump())

    @transactional
    async def assign_role(self, user_id: int, role_name: str) -> None:
        if await self.users.get_for_share(user_id) is None:
            raise UserNotFoundError(user_id)
        role = await self.get_role(role_name)
        await self.roles.assign(user_id=user_id, role_id=role.id)

    @transactional
    async def remove_role(self, user_id: int, role_name: str) -> None:
        """Take the role from the user; a role the user does not have is not an error."""
        if await self.users.get(user_id) is None:
            raise UserNotFoundError(user_id)
        role = await self.get_role(role_name)
        await self.roles.unassign(user_id=user_id, role_id=role.id)

    async def list_roles(self, *, after: int, limit: int) -> Sequence[Role]:
        return await self.roles.get_page_after(after, limit=limit)

    async def users_with_role(self, role_name: str, *, skip: int, limit: int) -> Sequence[User]:
        await self.get_role(role_name)
        return await self.users.list_by_role(role_name, skip=skip, limit=limit)
