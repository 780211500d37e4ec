from fastapi import APIRouter, Request, Response, status

from ...models import Role, User
from ...schemas.common import After, IdPath, Limit, Skip
from ...schemas.role import RoleCreate, RoleNamePath, RoleRead
from ...schemas.user import UserRead
from ..access import SUPERUSERS
from ..deps import RoleReaderDep, RoleServiceDep
from ..errors import DATABASE_ERROR_RESPONSES, error_responses
from ..idempotency import IdempotentRoute
from ..links import CREATED, PAGED, link_next_page, locate

router = APIRouter(tags=["roles"], responses=DATABASE_ERROR_RESPONSES, route_class=IdempotentRoute)


@router.post(
    "/roles",
    status_code=status.HTTP_201_CREATED,
    response_model=RoleRead,
    responses={**CREATED, **error_responses(status.HTTP_409_CONFLICT)},
    dependencies=SUPERUSERS,
)
async def create_role(
    data: RoleCreate, roles: RoleServiceDep, request: Request, response: Response
) -> Role:
    role = await roles.create_role(data)
    locate(request, response, "get_role", role_name=role.name)
    return role


@router.get("/roles", response_model=list[RoleRead], responses={**PAGED, **error_responses()})
async def list_roles(
    roles: RoleReaderDep,
    request: Request,
    response: Response,
    after: After = None,
    limit: Limit = 100,
) -> list[Role]:
    """Roles by id, paged by key like `GET /users` (`after`, `Link`): few, but not bounded."""
    page = list(await roles.list_roles(after=after or 0, limit=limit))
    link_next_page(request, response, page, limit)
    return page


@router.get(
    "/roles/{role_name}",
    response_model=RoleRead,
    responses=error_responses(status.HTTP_404_NOT_FOUND),
)
async def get_role(role_name: RoleNamePath, roles: RoleReaderDep) -> Role:
    return await roles.get_role(role_name)


@router.put(
    "/users/{user_id:int}/roles/{role_name}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(status.HTTP_404_NOT_FOUND),
    dependencies=SUPERUSERS,
)
async def assign_role(user_id: IdPath, role_name: RoleNamePath, roles: RoleServiceDep) -> None:
    """Give the user the role; giving it again is not an error."""
    await roles.assign_role(user_id, role_name)


@router.delete(
    "/users/{user_id:int}/roles/{role_name}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(status.HTTP_404_NOT_FOUND),
    dependencies=SUPERUSERS,
)
async def remove_role(user_id: IdPath, role_name: RoleNamePath, roles: RoleServiceDep) -> None:
    """Take the role from the user: 404 for an unknown user or role; a role the user does
    not have is not an error (204, like assigning twice)."""
    await roles.remove_role(user_id, role_name)


@router.get(
    "/roles/{role_name}/users",
    response_model=list[UserRead],
    responses=error_responses(status.HTTP_404_NOT_FOUND),
)
async def users_with_role(
    role_name: RoleNamePath, roles: RoleReaderDep, skip: Skip = 0, limit: Limit = 100
) -> list[User]:
    return list(await roles.users_with_role(role_name, skip=skip, limit=limit))
