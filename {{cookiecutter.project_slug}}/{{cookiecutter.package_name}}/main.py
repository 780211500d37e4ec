"""The ASGI application: `uvicorn {{ cookiecutter.package_name }}.main:app`."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

{% if cookiecutter.use_replica or cookiecutter.use_cache %}
from .api.consistency import ConsistencyTokenMiddleware
{% endif %}
from .api.errors import install_error_handlers
from .api.openapi import install_openapi
from .api.routes import health, {% if cookiecutter.use_pool_monitoring %}pools, {% endif %}roles, users
{% if cookiecutter.use_cache %}
from .cache import UserCache, create_redis
{% endif %}
{% if cookiecutter.use_pool_monitoring %}
from .db.monitoring import monitor_pools
{% endif %}
from .db.session import Database
from .logs import add_request_ids, configure_logging, read_log_settings
{% if cookiecutter.use_metrics %}
from .metrics import forget_worker, meter_pools
from .metrics import instrument_app as add_metrics
{% endif %}
from .security import PasswordHasher
from .settings import Settings, get_settings
{% if cookiecutter.use_tracing %}
from .tracing import add_trace_ids, instrument_engines
from .tracing import instrument_app as add_tracing
{% endif %}

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings are read when it starts unless given here (tests do)."""
    # Before anything logs: uvicorn's own lines take the same format.
    configure_logging(read_log_settings(){% if cookiecutter.use_tracing %}, processors=[add_trace_ids]{% endif %})

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        active = settings or get_settings()
        # No connection is made here: the app starts even when the database is down.
        database = Database.from_settings(active)
        app.state.settings = active
        app.state.database = database
        app.state.password_hasher = PasswordHasher.from_settings(active)
        app.state.probe_engines = health.create_probe_engines(database, active)
{% if cookiecutter.use_metrics %}
        meter_pools(database.engines, active)
{% endif %}
{% if cookiecutter.use_tracing %}
        instrument_engines(database.engines)
{% endif %}
{% if cookiecutter.use_pool_monitoring %}
        app.state.pool_monitors = monitor_pools(database.engines)
{% endif %}
{% if cookiecutter.use_replica or cookiecutter.use_analytics_db %}
        database.start()
{% endif %}
{% if cookiecutter.use_cache %}
        user_cache = UserCache(
            create_redis(active),
            ttl_seconds=active.cache_ttl_seconds,
            prefix=active.cache_key_prefix,
        )
        database.commit_listeners.append(user_cache.invalidate)
        app.state.user_cache = user_cache
{% endif %}
        logger.info("database: %s", active.primary_url)
        try:
            yield
        finally:
{% if cookiecutter.use_cache %}
            await user_cache.close()
{% endif %}
            await database.dispose()
            app.state.password_hasher.close()
            for probe_engine in app.state.probe_engines.values():
                await probe_engine.dispose()
{% if cookiecutter.use_metrics %}
            forget_worker()
{% endif %}

    app = FastAPI(title={{ cookiecutter.project_name | tojson }}, lifespan=lifespan)
    install_error_handlers(app)
    install_openapi(app, settings)
{% if cookiecutter.use_replica or cookiecutter.use_cache %}
    app.add_middleware(ConsistencyTokenMiddleware)
{% endif %}
{% if cookiecutter.use_metrics %}
    add_metrics(app)
{% endif %}
    add_request_ids(app)
{% if cookiecutter.use_tracing %}
    add_tracing(app)
{% endif %}
    app.include_router(health.router)
{% if cookiecutter.use_pool_monitoring %}
    app.include_router(pools.router)
{% endif %}
    app.include_router(users.router)
    app.include_router(roles.router)
    return app


app = create_app()
