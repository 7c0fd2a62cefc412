"""``cartfleet stripe-sandbox``: its options and how webhook secrets pair with URLs."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from cli import main as cartfleet
from devtools.sandbox_command import _endpoints


def test_the_command_is_registered():
    result = CliRunner().invoke(cartfleet, ["stripe-sandbox", "--help"])

    assert result.exit_code == 0
    for option in ("--host", "--port", "--state-dir", "--webhook", "--webhook-secret"):
        assert option in result.output


def test_secrets_pair_with_webhooks_and_fall_back_to_the_fleet_secret():
    # tests/conftest.py sets STRIPE_WEBHOOK_SECRET=whsec_test_primary,whsec_test_rotated.
    assert _endpoints(("http://a", "http://b"), ("whsec_a",)) == [
        ("http://a", "whsec_a"),
        ("http://b", "whsec_test_primary"),
    ]
    with pytest.raises(click.BadParameter):
        _endpoints(("http://a",), ("whsec_a", "whsec_b"))
