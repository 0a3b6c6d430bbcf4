"""Deal-score model versions: load the newest, train a new one on closed history."""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import DealScoreModel
from sales_graph.db.repositories import deal_models
from sales_graph.db.repositories.opportunities import closed_history
from sales_graph.domain.scope import AccessScope
from sales_graph.services.scoring import PRIOR, Example, Model, auc, features, fit
from sales_graph.timeutil import utcnow


def _from_row(row: DealScoreModel) -> Model:
    coefficients = row.coefficients
    return Model(
        version=row.version,
        intercept=row.intercept,
        weights=dict(coefficients["weights"]),
        baseline=dict(coefficients.get("baseline", {})),
        auc=row.auc,
    )


async def current_model(session: AsyncSession) -> Model:
    row = await deal_models.latest(session)
    return _from_row(row) if row else PRIOR


@dataclass(frozen=True, slots=True)
class TrainingReport:
    version: str
    trained_on: int
    held_out: int
    auc: float
    prior_auc: float
    # The model in use when training began (the newest stored, else the prior), scored on the
    # same held-out split; the new model is stored only when it scores at least as well.
    current_version: str
    current_auc: float
    stored: bool


async def train(
    session: AsyncSession,
    *,
    holdout: float = 0.25,
    seed: int = 42,
    limit: int = 50_000,
    force: bool = False,
) -> TrainingReport:
    """Fits on the organisation's closed won/lost history; AUC is measured on a held-out split.

    The new version is stored (and loaded by the gateway at its next start) when its held-out AUC
    is not below the model in use, or with ``force``: a worse model never replaces a better one
    by accident."""
    history = await closed_history(
        session, AccessScope.as_system("deal model training"), limit=limit
    )
    examples = [Example(features(signals, closed_at), won) for signals, closed_at, won in history]
    if len(examples) < 20 or len({e.won for e in examples}) < 2:
        raise ValueError(f"need at least 20 closed deals, won and lost; found {len(examples)}")
    random.Random(seed).shuffle(examples)  # noqa: S311  (a split, not a secret)
    cut = max(int(len(examples) * (1 - holdout)), 1)
    train_set, test_set = examples[:cut], examples[cut:]
    version = "trained-" + utcnow().strftime("%Y%m%dT%H%M%SZ")
    model = fit(train_set, version)
    labels = [e.won for e in test_set]
    score = auc([model.probability(e.values) for e in test_set], labels)
    prior = auc([PRIOR.probability(e.values) for e in test_set], labels)
    current = await current_model(session)
    current_score = auc([current.probability(e.values) for e in test_set], labels)
    stored = force or score >= current_score
    if stored:
        await deal_models.add(
            session,
            DealScoreModel(
                version=version,
                coefficients={"weights": dict(model.weights), "baseline": dict(model.baseline)},
                intercept=model.intercept,
                auc=score,
                trained_on=len(train_set),
            ),
        )
    return TrainingReport(
        version,
        len(train_set),
        len(test_set),
        score,
        prior,
        current_version=current.version,
        current_auc=current_score,
        stored=stored,
    )
