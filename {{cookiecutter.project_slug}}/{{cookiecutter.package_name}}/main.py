"""The ASGI application: `uvicorn {{ cookiecutter.package_name }}.main:app`."""

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import URL

from .api.bodies import BodyLimits
from .api.errors import install_error_handlers
from .api.openapi import install_openapi
from .api.routes import health, roles, users
from .db.session import Database
from .enabled_features import FEATURES
from .logs import configure_logging, read_log_settings
from .repositories.user import UserStatistics
from .security import PasswordHasher
from .services.recent import Recent
from .settings import Settings, get_settings

logger = logging.getLogger(__name__)


def where(url: URL) -> str:
    """The server (or servers) and database `url` names, for the logs: where, not who
    (neither the user name nor the password)."""
    hosts = url.query.get("host", ())
    if hosts:
        names = (hosts,) if isinstance(hosts, str) else hosts
        return f"{url.drivername}://{','.join(names)}/{url.database}"
    server = URL.create(url.drivername, host=url.host, port=url.port, database=url.database)
    return server.render_as_string()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings are read when it starts unless given here (tests do)."""
    # Before anything logs: uvicorn's own lines take the same format.
    processors = [processor for feature in FEATURES for processor in feature.log_processors]
    configure_logging(read_log_settings(), processors=processors)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        active = settings or get_settings()
        # No connection is made here: the app starts even when the database is down.
        database = Database.from_settings(active)
        app.state.settings = active
        app.state.database = database
        app.state.password_hasher = PasswordHasher.from_settings(active)
        app.state.user_statistics = Recent[UserStatistics](active.stats_max_age_seconds)
        try:
            async with AsyncExitStack() as running:
                for feature in FEATURES:
                    if feature.serve is not None:
                        await running.enter_async_context(feature.serve(app, database, active))
                database.start()
                # Every server the requests use, standbys included: where, not who.
                for role, engine in database.engines.items():
                    logger.info("database %s: %s", role, where(engine.url))
                # What imports and startup made lives as long as the app: frozen, a full
                # collection no longer walks it (50 ms each, which was a cache hit's p99).
                gc.collect()
                gc.freeze()
                yield
        finally:
            gc.unfreeze()
            await database.dispose()
            app.state.password_hasher.close()

    app = FastAPI(title={{ cookiecutter.project_name | tojson }}, lifespan=lifespan)
    install_error_handlers(app)
    install_openapi(app, settings)
    # The busiest routes first: a request is matched against the routes in order (an
    # included router's, twice), and this order took a fifth off a cached read's CPU.
    app.include_router(users.router)
    app.include_router(roles.router)
    app.include_router(health.router)
    # Added first, so it is the innermost middleware: its refusals carry the request id
    # and are counted like any other response.
    app.add_middleware(BodyLimits)
    for feature in FEATURES:
        if feature.install is not None:
            feature.install(app)
    return app


app = create_app()
