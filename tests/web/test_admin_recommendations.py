"""Admin: a product's neighbours and the last rebuild, its exclusion, a rebuild now."""

from __future__ import annotations

import pendulum
from sqlalchemy import select

from jobs.recommendations import rebuild
from models.audit import AuditEntry
from models.db import Session
from models.infra.job_runs import JobRun
from models.recommendations.build import BuildSettings
from models.recommendations.tables import RecommendationExclusion
from tests.support import factories
from tests.web.admin_helpers import logged_in

AUTH = {"Authorization": "Bearer test-admin-token"}


def _store():
    with Session.begin() as session:
        for sku in "ABC":
            factories.product(session, sku)
        for lines in [["A", "B"]] * 3 + [["A", "C"]] * 2:
            factories.order(session, lines=dict.fromkeys(lines, 1), status="paid")
        started = pendulum.now("UTC").subtract(minutes=5)
        session.add(
            JobRun(
                job="rebuild_recommendations",
                scheduled_for=None,
                started_at=started,
                finished_at=started.add(seconds=3),
                outcome="success",
                items_processed=3,
            )
        )
    rebuild(BuildSettings(min_support=2))


def test_the_report_lists_neighbours_with_scores_and_the_last_run(client):
    _store()

    body = client.get("/admin/api/products/A/recommendations", headers=AUTH).get_json()

    assert body["sku"] == "A" and body["excluded"] is False
    assert [(n["sku"], n["rank"], n["co_purchases"]) for n in body["neighbours"]] == [
        ("B", 1, 3),
        ("C", 2, 2),
    ]
    assert round(body["neighbours"][0]["score"], 4) == round(3 / (5 * 3) ** 0.5, 4)
    assert body["last_run"]["outcome"] == "success"
    assert body["last_run"]["items_processed"] == 3 and body["last_run"]["duration_s"] == 3.0
    missing = client.get("/admin/api/products/NOPE/recommendations", headers=AUTH)
    assert missing.status_code == 404


def test_excluding_a_product_takes_it_out_of_recommendations_and_is_audited(client):
    _store()

    excluded = client.put(
        "/admin/api/products/B/recommendations/exclusion", json={"excluded": True}, headers=AUTH
    )

    assert excluded.status_code == 200 and excluded.get_json()["excluded"] is True
    storefront = client.get("/api/products/A/recommendations").get_json()
    assert [item["sku"] for item in storefront["items"]] == ["C"]
    admin = client.get("/admin/api/products/A/recommendations", headers=AUTH).get_json()
    assert [n["excluded"] for n in admin["neighbours"]] == [True, False]

    back = client.put(
        "/admin/api/products/B/recommendations/exclusion", json={"excluded": False}, headers=AUTH
    )
    assert back.get_json()["excluded"] is False
    bad = client.put(
        "/admin/api/products/B/recommendations/exclusion", json={"excluded": "yes"}, headers=AUTH
    )
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "excluded"
    with Session() as session:
        assert session.scalars(select(RecommendationExclusion)).all() == []
        actions = session.scalars(
            select(AuditEntry.outcome).where(AuditEntry.action == "exclude_from_recommendations")
        ).all()
    assert sorted(actions) == ["failed", "ok", "ok"]


def test_recompute_enqueues_the_rebuild_for_an_operator_only(client, broker):
    viewer = logged_in(client, "viewer")
    refused = client.post("/admin/api/recommendations/recompute", headers={"X-CSRF-Token": viewer})

    queued = client.post("/admin/api/recommendations/recompute", headers=AUTH)

    assert refused.status_code == 403
    assert queued.status_code == 202
    assert queued.get_json()["job"] == "rebuild_recommendations"
    assert broker.client.llen("dramatiq:maintenance") == 1


def test_the_page_shows_neighbours_and_toggles_the_exclusion(client):
    _store()
    token = logged_in(client, "operator")

    page = client.get("/admin/recommendations?sku=A").get_data(as_text=True)
    assert 'id="neighbours"' in page and "<code>B</code>" in page and "0.7746" in page
    assert "Exclude from recommendations" in page and "success" in page

    done = client.post(
        "/admin/recommendations/B/exclusion",
        data={"csrf_token": token, "excluded": "true"},
        follow_redirects=True,
    )
    assert "B is kept out of recommendations" in done.get_data(as_text=True)
    assert "Include in recommendations" in done.get_data(as_text=True)
    no_csrf = client.post("/admin/recommendations/B/exclusion", data={"excluded": "false"})
    assert no_csrf.status_code == 400 and no_csrf.json["error"] == "csrf_failed"
    with Session() as session:
        assert session.get(RecommendationExclusion, "B").excluded_by == "operator@example.com"


def test_a_viewer_sees_the_page_without_buttons(client):
    _store()
    logged_in(client, "viewer")

    page = client.get("/admin/recommendations?sku=A").get_data(as_text=True)

    assert "<code>B</code>" in page
    assert "Rebuild now" not in page and "Exclude from recommendations" not in page
