"""Use cases around users; each public write method is one unit of work."""

from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.errors import is_foreign_key_violation
from ..db.transaction import transactional
from ..errors import PostNotFoundError, UserNotFoundError
from ..models import Post, User, UserProfile
from ..repositories import PostRepository, UserRepository
from ..repositories.user import UserPostCount, UserStatistics
from ..schemas.post import PostCreate
from ..schemas.user import ProfileCreate, UserCreate, UserRead, UserUpdate
from ..security import PasswordHasher

# Validates a page of rows in one call.
_USERS = TypeAdapter(list[UserRead])
# The foreign key from a post to its author, as the metadata's naming convention names it
# (a missing author's 404 is `user_not_found` only if this is its name: tested).
_POST_AUTHOR_KEY = "fk_posts_author_id_users"


class UserService:
    def __init__(self, session: AsyncSession, hasher: PasswordHasher) -> None:
        self.session = session
        self.users = UserRepository(session)
        self.posts = PostRepository(session)
        self.hasher = hasher

    async def _new_user(self, data: UserCreate) -> User:
        values = data.model_dump(exclude={"password"})
        return User(**values, hashed_password=await self.hasher.hash(data.password))

    async def get_user(self, user_id: int) -> User:
        user = await self.users.get(user_id)
        if user is None:
            raise UserNotFoundError(user_id)
        return user

    async def read_user(self, user_id: int) -> UserRead:
        """The user as answered, read without loading the entity."""
        row = await self.users.get_public(user_id)
        if row is None:
            raise UserNotFoundError(user_id)
        return UserRead.model_validate(row)

    # Passwords are hashed before the unit of work opens: no connection is held (nor
    # transaction kept open) while Argon2 runs.
    async def create_user(self, data: UserCreate) -> User:
        return await self._add(await self._new_user(data))

    async def create_users(self, items: Sequence[UserCreate]) -> list[User]:
        """Create many users with one INSERT statement; all or none."""
        hashes = await self.hasher.hash_many([item.password for item in items])
        rows = [
            {**item.model_dump(exclude={"password"}), "hashed_password": hashed}
            for item, hashed in zip(items, hashes, strict=True)
        ]
        return await self._insert_users(rows)

    async def create_user_with_profile(self, data: UserCreate, profile: ProfileCreate) -> User:
        """The user and the profile are written together or not at all."""
        user = await self._new_user(data)
        user.profile = UserProfile(**profile.model_dump())
        return await self._add(user)

    @transactional
    async def _add(self, user: User) -> User:
        self.session.add(user)
        await self.session.flush()
        return user

    @transactional
    async def _insert_users(self, rows: list[dict[str, Any]]) -> list[User]:
        return await self.users.bulk_create(rows)

    async def update_user(self, user_id: int, data: UserUpdate) -> User:
        values = data.model_dump(exclude_unset=True, exclude={"password"})
        if data.password is not None:
            # Before the transaction opens: no connection is held while Argon2 runs.
            values["hashed_password"] = await self.hasher.hash(data.password)
{% if cookiecutter.use_auth %}
            # Tokens issued before the change stop working (auth/deps.py).
            values["token_version"] = User.token_version + 1
{% endif %}
        return await self._update_user(user_id, values)

    @transactional
    async def _update_user(self, user_id: int, values: dict[str, Any]) -> User:
        return await self.users.update(await self.get_user(user_id), values)

    @transactional
    async def delete_user(self, user_id: int) -> None:
        await self.users.delete(await self.get_user(user_id))

{% if cookiecutter.use_soft_delete %}
    @transactional
    async def restore_user(self, user_id: int) -> User:
        """Bring a soft-deleted user back; 409 if a live user took the name or email."""
        user = await self.users.get_including_deleted(user_id)
        if user is None:
            raise UserNotFoundError(user_id)
        user.restore()
        await self.session.flush()
        return user

{% endif %}
    @transactional
    async def create_post(self, user_id: int, data: PostCreate) -> Post:
{% if cookiecutter.use_soft_delete %}
        # A soft-deleted user's row still satisfies the foreign key: read it, locked.
        if await self.users.get_for_share(user_id) is None:
            raise UserNotFoundError(user_id)
{% endif %}
        # The foreign key checks the user and holds its row (KEY SHARE) until the commit,
        # so a concurrent delete waits: no read before the INSERT, one round trip fewer.
        try:
            return await self.posts.create(author_id=user_id, **data.model_dump())
        except IntegrityError as error:
            if is_foreign_key_violation(error, _POST_AUTHOR_KEY):
                raise UserNotFoundError(user_id) from error
            raise

    async def get_user_details(self, user_id: int) -> User:
        user = await self.users.get_with_details(user_id)
        if user is None:
            raise UserNotFoundError(user_id)
        return user

    async def list_posts(self, user_id: int, *, after: int, limit: int) -> Sequence[Post]:
        """The user's posts by id, `limit` at a time after the post `after`."""
        await self.get_user(user_id)
        return await self.posts.get_page_after(after, limit=limit, filters={"author_id": user_id})

    async def get_post(self, user_id: int, post_id: int) -> Post:
        await self.get_user(user_id)
        post = await self.posts.get(post_id)
        if post is None or post.author_id != user_id:
            raise PostNotFoundError(post_id)
        return post

    async def list_users(
        self, *, skip: int, limit: int, after: int | None = None
    ) -> list[UserRead]:
        """A page of users as answered, read without loading the entities."""
        rows = await self.users.list_public(skip=skip, limit=limit, after=after)
        return _USERS.validate_python(rows, from_attributes=True)

    async def search_users(self, term: str, *, skip: int, limit: int) -> Sequence[User]:
        return await self.users.search(term, skip=skip, limit=limit)

    async def statistics(self) -> UserStatistics:
        return await self.users.statistics()

    async def post_counts(self, *, skip: int, limit: int) -> list[UserPostCount]:
        return await self.users.post_counts(skip=skip, limit=limit)
