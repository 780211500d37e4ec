"""`GET /users/{id}` with the cache: from Redis when it holds the user, else from a read
session, which is opened (and the request's turn for the database taken) only on a miss.
Readers that miss the same user at the same time share one read (`cache.flights`)."""

from functools import partial

from ..db.consistency import READ_YOUR_WRITES, ReadYourWrites, read_position
from ..db.session import Database
from ..errors import UserNotFoundError
from ..repositories import UserRepository
from ..schemas.user import UserRead
from .users import UserCache


class CachedUserReader:
    def __init__(
        self, cache: UserCache, database: Database, read_your_writes: ReadYourWrites
    ) -> None:
        self.cache = cache
        self.database = database
        self.read_your_writes = read_your_writes

    async def get_user(self, user_id: int) -> tuple[UserRead, bool]:
        """The user, and whether the cache had it; `UserNotFoundError` when there is none."""
        # Before the read: where the fill goes if the history changes meanwhile.
        space = self.cache.namespace
        required = self.read_your_writes.required_position
        user = await self.cache.get(user_id, at_least=required)
        if user is not None:
            return user, True
        if required is None and not self.read_your_writes.wrote:
            # Nothing this reader must see beyond what any other sees: share the read.
            load = partial(self._load, user_id, space)
            return await self.cache.loads.run((space, user_id), load), False
        return await self._load(user_id, space), False

    async def _load(self, user_id: int, space: str | None) -> UserRead:
        info = {READ_YOUR_WRITES: self.read_your_writes}
        async with self.database.admission(), self.database.read_sessions(info=info) as session:
            # Asked before the query: the entry is stamped no newer than the data it holds.
            position = await read_position(session)
            row = await UserRepository(session).get(user_id)
            if row is None:
                raise UserNotFoundError(user_id)
            user = UserRead.model_validate(row)
        # After the session closed: the connection is back before Redis is asked.
        await self.cache.fill(user, position=position, space=space)
        return user
