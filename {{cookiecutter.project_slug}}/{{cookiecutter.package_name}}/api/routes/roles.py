from fastapi import APIRouter, status

from ...models import Role, User
from ...schemas.common import IdPath, Limit, Skip
from ...schemas.role import RoleCreate, RoleNamePath, RoleRead
from ...schemas.user import UserRead
from ..deps import RoleReaderDep, RoleServiceDep
from ..errors import DATABASE_ERROR_RESPONSES, error_responses

router = APIRouter(tags=["roles"], responses=DATABASE_ERROR_RESPONSES)


@router.post(
    "/roles",
    status_code=status.HTTP_201_CREATED,
    response_model=RoleRead,
    responses=error_responses(status.HTTP_409_CONFLICT),
)
async def create_role(data: RoleCreate, roles: RoleServiceDep) -> Role:
    return await roles.create_role(data)


@router.put(
    "/users/{user_id:int}/roles/{role_name}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(status.HTTP_404_NOT_FOUND),
)
async def assign_role(user_id: IdPath, role_name: RoleNamePath, roles: RoleServiceDep) -> None:
    """Give the user the role; giving it again is not an error."""
    await roles.assign_role(user_id, role_name)


@router.get(
    "/roles/{role_name}/users",
    response_model=list[UserRead],
    responses=error_responses(status.HTTP_404_NOT_FOUND),
)
async def users_with_role(
    role_name: RoleNamePath, roles: RoleReaderDep, skip: Skip = 0, limit: Limit = 100
) -> list[User]:
    return list(await roles.users_with_role(role_name, skip=skip, limit=limit))
