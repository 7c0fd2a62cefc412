"""Process start-up, the same for every entry point: web, worker, scheduler and the CLI.

An entry point (above ``jobs`` in the layers): it may import the actors.
"""

from __future__ import annotations

from models import db
from services import cart_hints
from services.observability import configure_logging
from services.settings import Settings, get_settings


def start(*, actors: bool = True) -> Settings:
    """Read the settings, set up logging, bind the database, register the actors.

    ``actors=False`` for commands that need neither Redis nor the actors (migrations,
    seeding), so they run where no broker is configured.
    """
    settings = get_settings()
    configure_logging(settings)
    db.configure(settings.database_url)
    cart_hints.install(settings.redis_url)
    if actors:
        import jobs  # noqa: F401  (builds the broker from REDIS_URL and registers every actor)
    return settings
