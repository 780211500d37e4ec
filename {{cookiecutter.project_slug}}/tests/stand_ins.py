"""Read-only stand-ins for replica and analytics databases, on the test server.

A role whose transactions are read-only by default (`default_transaction_read_only`)
reads the same data as the primary, and any write routed to it fails loudly.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import uuid4

from sqlalchemy import URL

from tests.conftest import DatabaseServer


@asynccontextmanager
async def read_only_url(server: DatabaseServer, url: URL) -> AsyncIterator[URL]:
    """A URL for `url`'s database as a new read-only role, dropped afterwards."""
    role = f"reader_{uuid4().hex[:12]}"
    password = uuid4().hex
    await server.execute(
        url,
        f"CREATE ROLE {role} LOGIN PASSWORD '{password}'",
        f"ALTER ROLE {role} SET default_transaction_read_only = on",
        f'GRANT CONNECT ON DATABASE "{url.database}" TO {role}',
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}",
    )
    try:
        yield url.set(username=role, password=password)
    finally:
        await server.execute(url, f"DROP OWNED BY {role}", f"DROP ROLE {role}")
