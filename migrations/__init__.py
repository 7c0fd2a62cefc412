"""The schema's Alembic migrations, shipped inside the package so any install can migrate.

``alembic.ini`` beside the repository is for writing revisions; running them goes through
``alembic_config``, which finds the scripts wherever the package is installed.
"""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

SCRIPTS = Path(__file__).resolve().parent


def alembic_config(url: str | None = None) -> Config:
    """Alembic's config for these migrations, aimed at ``url`` (else ``DATABASE_URL``)."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.set_main_option("path_separator", "os")
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config
