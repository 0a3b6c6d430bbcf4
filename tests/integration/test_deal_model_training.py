"""`sales-graph model train` on the demo history: AUC on a held-out split, and a worse model
never replaces the one in use unless forced."""

from __future__ import annotations

from datetime import date

from sales_graph.db.engine import Database
from sales_graph.db.migrate import upgrade
from sales_graph.seed import seed_demo
from sales_graph.services.deal_models import current_model, train
from sales_graph.services.scoring import PRIOR


async def test_training_reports_auc_and_stores_only_what_scores_as_well(
    fresh_database: str,
) -> None:
    db = Database(fresh_database)
    try:
        await upgrade(db.engine)
        async with db.session() as session:
            await seed_demo(session, today=date(2026, 2, 11))
        async with db.session() as session:
            report = await train(session)
        assert report.trained_on + report.held_out == 449  # closed deals with a history
        assert 0.5 < report.auc <= 1
        assert 0.5 < report.prior_auc <= 1
        assert report.current_version == PRIOR.version
        assert report.current_auc == report.prior_auc
        # The demo outcomes were drawn from the prior: the fit scores lower and is not stored.
        assert report.auc < report.prior_auc
        assert not report.stored
        async with db.session() as session:
            assert (await current_model(session)).version == PRIOR.version
        async with db.session() as session:
            forced = await train(session, force=True)
        assert forced.stored
        async with db.session() as session:
            loaded = await current_model(session)
        assert loaded.version == forced.version
        assert loaded.auc == forced.auc
    finally:
        await db.dispose()
