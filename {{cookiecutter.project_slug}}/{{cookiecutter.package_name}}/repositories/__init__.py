from .base import Repository
from .post import PostRepository
from .role import RoleRepository
from .user import UserRepository

__all__ = ["PostRepository", "Repository", "RoleRepository", "UserRepository"]
