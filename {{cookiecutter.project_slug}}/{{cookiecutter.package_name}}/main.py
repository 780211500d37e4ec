"""The ASGI application: `uvicorn {{ cookiecutter.package_name }}.main:app`."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from .api.errors import install_error_handlers
from .api.routes import health, {% if cookiecutter.use_pool_monitoring %}pools, {% endif %}roles, users
{% if cookiecutter.use_cache %}
from .cache import UserCache, create_redis
{% endif %}
{% if cookiecutter.use_pool_monitoring %}
from .db.monitoring import monitor_pools
{% endif %}
from .db.session import Database
from .security import PasswordHasher
from .settings import Settings, get_settings

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings are read when it starts unless given here (tests do)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        active = settings or get_settings()
        # No connection is made here: the app starts even when the database is down.
        database = Database.from_settings(active)
        app.state.settings = active
        app.state.database = database
        app.state.password_hasher = PasswordHasher.from_settings(active)
        app.state.probe_engines = health.create_probe_engines(database, active)
{% if cookiecutter.use_pool_monitoring %}
        app.state.pool_monitors = monitor_pools(database.engines)
{% endif %}
{% if cookiecutter.use_cache %}
        redis = create_redis(active)
        app.state.user_cache = UserCache(
            redis, ttl_seconds=active.cache_ttl_seconds, prefix=active.cache_key_prefix
        )
{% endif %}
        logger.info("database: %s", active.primary_url)
        try:
            yield
        finally:
{% if cookiecutter.use_cache %}
            await redis.aclose()
{% endif %}
            await database.dispose()
            app.state.password_hasher.close()
            for probe_engine in app.state.probe_engines.values():
                await probe_engine.dispose()

    app = FastAPI(title={{ cookiecutter.project_name | tojson }}, lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(health.router)
{% if cookiecutter.use_pool_monitoring %}
    app.include_router(pools.router)
{% endif %}
    app.include_router(users.router)
    app.include_router(roles.router)
    return app


app = create_app()
