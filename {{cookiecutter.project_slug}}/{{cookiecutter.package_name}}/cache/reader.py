"""`GET /users/{id}` with the cache: from Redis when it holds the user, else from a read
session, which is opened (and the request's turn for the database taken) only on a miss.
Readers that miss the same user at the same time share one read (`cache.flights`).

A fill's version must be no newer than the data it holds (`cache.users`): a position the
server serving the read had reached before the read began. Positions only move forward
on a server, so any position it was seen at earlier is such a lower bound; an older one
only makes the fill more likely to be refused (a miss later), never lets a stale one in.
`FillPositions` knows them without a query on the read's connection: a standby's from its
monitor's last check, the primary's from a query on its check connection, shared by every
miss while it is fresh (`MAX_AGE_SECONDS`, and no commit published since).
"""

import time
from functools import partial

from ..db.checks import Coalesced, ServerCheck
from ..db.consistency import (
    READ_POSITION_SQL,
    READ_YOUR_WRITES,
    Changes,
    ReadYourWrites,
    read_position,
)
from ..db.readonly import PRIMARY, ROUTE
from ..db.session import Database
from ..errors import UserNotFoundError
from ..repositories import UserRepository
from ..schemas.user import UserRead
from .users import UserCache

# How long a primary position known from the check connection versions fills: a write by
# another process in that time makes fills of its user wait that long for a newer one.
MAX_AGE_SECONDS = 0.1


class FillPositions:
    """The primary's position as last seen on its check connection, per cache namespace."""

    def __init__(self, primary: ServerCheck, *, max_age: float = MAX_AGE_SECONDS) -> None:
        self.max_age = max_age
        self._ask = Coalesced(lambda: primary.scalar(READ_POSITION_SQL))
        # (namespace, position, when asked): used under that history of the primary only.
        self._known: tuple[str, int, float] | None = None
        # Moves on at each `forget`: an answer asked for before it is not kept.
        self._generation = 0

    async def primary(self, space: str) -> int | None:
        """A position the primary had reached before this returns (so before the read that
        follows), seen while `space` was the cache's namespace; None when the check
        connection does not answer."""
        known = self._known
        asked = time.monotonic()
        if known is not None and known[0] == space and asked - known[2] < self.max_age:
            return known[1]
        generation = self._generation
        try:
            # Coalesced: the query answering this call starts after the call.
            position: int = await self._ask()
        except Exception:
            return None
        known = self._known
        if generation == self._generation and (known is None or known[2] < asked):
            self._known = (space, position, asked)
        return position

    async def committed(self, _changes: Changes, _position: int | None) -> None:
        """A commit listener (`Publisher`): a miss after this process's commit asks again,
        so its fill is versioned past the commit's tombstones."""
        self.forget()

    def forget(self) -> None:
        """The next miss asks the primary again."""
        self._known = None
        self._generation += 1

    async def close(self) -> None:
        await self._ask.close()


class CachedUserReader:
    def __init__(
        self,
        cache: UserCache,
        database: Database,
        read_your_writes: ReadYourWrites,
        positions: FillPositions,
    ) -> None:
        self.cache = cache
        self.database = database
        self.read_your_writes = read_your_writes
        self.positions = positions

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
        # Known before the read (see the module): the primary's, and each standby's.
        known = None if space is None else await self.positions.primary(space)
        standbys = {role: seen() for role, seen in self.database.visible_positions.items()}
        async with self.database.admission(), self.database.read_sessions(info=info) as session:
            # Unknown: asked where the query then runs, before it (what any server it
            # lands on has reached).
            asked = None if known is not None or space is None else await read_position(session)
            row = await UserRepository(session).get_public(user_id)
            if row is None:
                raise UserNotFoundError(user_id)
            user = UserRead.model_validate(row)
            role = session.info.get(ROUTE, PRIMARY)
        # After the session closed: the connection is back before Redis is asked.
        position = asked if asked is not None else known if role == PRIMARY else standbys.get(role)
        if position is not None:
            await self.cache.fill(user, position=position, space=space)
        return user
