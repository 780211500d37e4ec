"""The domain models; importing this package registers every table on `Base.metadata`."""

from ..db.base import Base
from .idempotency_key import IdempotencyKey
from .post import Post
from .role import Permission, Role, role_permissions, user_roles
from .user import User, UserProfile

__all__ = [
    "Base",
    "IdempotencyKey",
    "Permission",
    "Post",
    "Role",
    "User",
    "UserProfile",
    "role_permissions",
    "user_roles",
]
