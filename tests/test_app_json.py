"""app.json (the platform's manifest) stays in step with the Procfile and the settings."""

from __future__ import annotations

import json

from services.settings import REQUIRED_IN_PRODUCTION
from tests.support.services import ROOT

# Set by the add-ons, under the names the settings read.
ADDON_SETTINGS = {"heroku-postgresql": "DATABASE_URL", "heroku-redis": "REDIS_URL"}
# Only known once the app runs at its URL and the endpoint is registered (docs/deploy.md).
SET_AFTER_FIRST_DEPLOY = {"STRIPE_WEBHOOK_SECRET"}


def manifest() -> dict:
    return json.loads((ROOT / "app.json").read_text())


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_the_formation_runs_every_procfile_process_but_the_release_phase():
    processes = set(procfile())

    assert "release" in processes  # the platform runs it before each new release
    assert set(manifest()["formation"]) == processes - {"release"}


def test_every_required_setting_comes_from_an_add_on_or_is_asked_for_or_generated():
    app = manifest()
    # An add-on attached "as" NAME sets NAME_URL.
    from_addons = {f"{addon['as']}_URL" for addon in app["addons"]}
    env = app["env"]
    provided = {
        name
        for name, spec in env.items()
        if spec.get("required") or "generator" in spec or "value" in spec
    }

    required = {name.upper() for name in REQUIRED_IN_PRODUCTION}
    assert {addon["plan"] for addon in app["addons"]} == set(ADDON_SETTINGS)
    assert from_addons == set(ADDON_SETTINGS.values())
    assert required - from_addons - SET_AFTER_FIRST_DEPLOY <= provided
    assert set(env) >= SET_AFTER_FIRST_DEPLOY
    assert env["CARTFLEET_ENV"]["value"] == "staging"


def test_a_new_app_checks_itself_after_its_first_deploy():
    assert manifest()["scripts"]["postdeploy"] == "cartfleet check-deploy"
