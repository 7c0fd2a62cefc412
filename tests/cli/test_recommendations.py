"""``cartfleet jobs run rebuild_recommendations``: the CLI's rebuild, through the same flow."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from cli import main as cartfleet
from models.db import Session
from models.infra.job_runs import JobRun
from models.recommendations.tables import ProductNeighbour
from tests.support import factories


def test_the_cli_queues_a_rebuild_that_a_worker_runs_and_records(broker, drain_queues):
    with Session.begin() as session:
        for sku in "AB":
            factories.product(session, sku)
        for _ in range(2):
            factories.order(session, lines={"A": 1, "B": 1}, status="paid")

    result = CliRunner().invoke(cartfleet, ["jobs", "run", "rebuild_recommendations"])
    drain_queues()

    assert result.exit_code == 0, result.output
    assert "Enqueued rebuild_recommendations on queue maintenance" in result.output
    with Session() as session:
        [run] = session.scalars(select(JobRun)).all()
        pairs = session.execute(select(ProductNeighbour.sku, ProductNeighbour.neighbour_sku))
        assert sorted(pairs) == [("A", "B"), ("B", "A")]
    assert (run.job, run.scheduled_for, run.outcome, run.items_processed) == (
        "rebuild_recommendations",
        None,
        "success",
        2,
    )
