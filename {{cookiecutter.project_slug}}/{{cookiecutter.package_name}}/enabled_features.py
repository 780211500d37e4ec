{% import "switches.jinja" as switches with context %}
"""The app's switchable parts, listed in one place (each is a module of its own).

`main.create_app` installs them in this order, so a later part's middleware wraps an
earlier one's, and at startup enters their `serve` contexts in this order, leaving them
in reverse order at shutdown.
"""

from collections.abc import Sequence

{% if switches.consistency %}
from .api.consistency import FEATURE as CONSISTENCY_TOKENS
{% endif %}
{% if cookiecutter.use_pool_monitoring %}
from .api.routes.pools import FEATURE as POOL_MONITORING
{% endif %}
{% if cookiecutter.use_auth %}
from .auth.routes import FEATURE as AUTHENTICATION
{% endif %}
{% if cookiecutter.use_cache %}
from .cache.serving import FEATURE as USER_CACHE
{% endif %}
from .feature import Feature
from .logs import add_request_ids
{% if cookiecutter.use_metrics %}
from .metrics import FEATURE as METRICS
{% endif %}
{% if cookiecutter.use_tracing %}
from .tracing import FEATURE as TRACING
{% endif %}

FEATURES: Sequence[Feature] = [
{% if switches.consistency %}
    # Entered first: the cache registers with its publisher.
    CONSISTENCY_TOKENS,
{% endif %}
{% if cookiecutter.use_metrics %}
    METRICS,
{% endif %}
    Feature("request ids", install=add_request_ids),
{% if cookiecutter.use_tracing %}
    # Outside the request ids: a server span records the id the response carries.
    TRACING,
{% endif %}
{% if cookiecutter.use_pool_monitoring %}
    POOL_MONITORING,
{% endif %}
{% if cookiecutter.use_auth %}
    # Checks AUTH_SECRET_KEY at startup; installs /auth/token, /users/me and the 401/403s.
    AUTHENTICATION,
{% endif %}
{% if cookiecutter.use_cache %}
    # Entered last, left first: the cache closes before the engines are disposed.
    USER_CACHE,
{% endif %}
]
