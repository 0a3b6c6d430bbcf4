"""The deal score: a logistic model of the chance to win, with its top factors.

Features are computed from what is stored locally (the opportunity, its account's last known
upstream signals, its lead), so scoring never waits on an upstream system. ``PRIOR`` is the
documented starting model (docs/deal-scoring.md); ``train`` fits a new one on closed history.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sales_graph.domain import OpportunityStage as S
from sales_graph.domain.signals import Signals

STAGE_PROGRESS = {S.DISCOVERY: 0.0, S.QUALIFICATION: 1 / 3, S.PROPOSAL: 2 / 3, S.NEGOTIATION: 1.0}
INBOUND_SOURCES = frozenset({"webinar", "referral", "organic", "trade_show"})

FEATURES = (
    "stage_progress",
    "days_in_stage",
    "close_date_slips",
    "amount_to_account_size",
    "lead_score",
    "inbound_source",
    "account_health",
    "nps",
    "critical_tickets",
    "escalations",
    "has_next_step",
    "competitors",
)


def features(signals: Signals, now: datetime) -> dict[str, float]:
    days = max((now - signals.stage_changed_at).total_seconds() / 86400, 0.0)
    revenue = float(signals.account_annual_revenue or 0)
    amount = float(signals.amount or 0)
    return {
        "stage_progress": STAGE_PROGRESS.get(signals.stage, 1.0),
        "days_in_stage": min(days, 365.0) / 30.0,
        "close_date_slips": float(min(signals.close_date_slips, 10)),
        "amount_to_account_size": min(100 * amount / revenue, 20.0) if revenue > 0 else 1.0,
        "lead_score": (signals.lead_score if signals.lead_score is not None else 50) / 100,
        "inbound_source": 1.0 if (signals.lead_source or "") in INBOUND_SOURCES else 0.0,
        "account_health": (signals.account_health if signals.account_health is not None else 50)
        / 100,
        "nps": (signals.nps or 0) / 100,
        "critical_tickets": float(min(signals.critical_tickets or 0, 5)),
        "escalations": float(min(signals.escalations or 0, 5)),
        "has_next_step": 1.0 if signals.next_step else 0.0,
        "competitors": float(min(signals.competitors, 5)),
    }


_EXPLAIN = {
    "stage_progress": "How far along the sales stages the deal is",
    "days_in_stage": "Time spent in the current stage ({value:.1f} months)",
    "close_date_slips": "The close date moved later {value:.0f} time(s)",
    "amount_to_account_size": "Deal size is {value:.1f}% of the account's annual revenue",
    "lead_score": "Marketing lead score of {pct:.0f}",
    "inbound_source": "The lead came from an inbound source",
    "account_health": "Account health is {pct:.0f}/100",
    "nps": "Account NPS is {pct:.0f}",
    "critical_tickets": "{value:.0f} open critical support ticket(s)",
    "escalations": "{value:.0f} support escalation(s)",
    "has_next_step": "A next step is recorded",
    "competitors": "{value:.0f} competitor(s) in the deal",
}


@dataclass(frozen=True, slots=True)
class Factor:
    feature: str
    direction: str  # positive | negative
    weight: float
    explanation: str


@dataclass(frozen=True, slots=True)
class Model:
    version: str
    intercept: float
    weights: Mapping[str, float]
    baseline: Mapping[str, float]
    auc: float | None = None

    def probability(self, values: Mapping[str, float]) -> float:
        z = self.intercept + sum(self.weights[f] * values[f] for f in FEATURES)
        return 1 / (1 + math.exp(-max(min(z, 40.0), -40.0)))

    def score(self, signals: Signals, now: datetime, top: int = 3) -> tuple[int, list[Factor]]:
        if signals.stage is S.CLOSED_WON:
            return 100, []
        if signals.stage is S.CLOSED_LOST:
            return 0, []
        values = features(signals, now)
        contributions = {
            f: self.weights[f] * (values[f] - self.baseline.get(f, 0.0)) for f in FEATURES
        }
        ranked = sorted(contributions.items(), key=lambda item: abs(item[1]), reverse=True)
        positive = [(f, c) for f, c in ranked if c > 0.05][:top]
        negative = [(f, c) for f, c in ranked if c < -0.05][:top]
        factors = [
            Factor(
                feature=f,
                direction="positive" if c > 0 else "negative",
                weight=round(abs(c), 3),
                explanation=_EXPLAIN[f].format(value=values[f], pct=values[f] * 100),
            )
            for f, c in positive + negative
        ]
        return round(100 * self.probability(values)), factors


PRIOR = Model(
    version="prior-1",
    intercept=-0.9,
    weights={
        "stage_progress": 2.4,
        "days_in_stage": -0.25,
        "close_date_slips": -0.4,
        "amount_to_account_size": -0.1,
        "lead_score": 0.8,
        "inbound_source": 0.3,
        "account_health": 1.4,
        "nps": 0.8,
        "critical_tickets": -0.35,
        "escalations": -0.5,
        "has_next_step": 0.4,
        "competitors": -0.3,
    },
    baseline={
        "stage_progress": 0.5,
        "days_in_stage": 1.0,
        "amount_to_account_size": 1.0,
        "lead_score": 0.5,
        "inbound_source": 0.5,
        "account_health": 0.6,
        "nps": 0.2,
        "has_next_step": 0.5,
    },
)


@dataclass
class Example:
    values: dict[str, float]
    won: bool
    extra: dict[str, float] = field(default_factory=dict)


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Area under the ROC curve: the chance a won deal scores above a lost one (ties half)."""
    ranked = sorted(zip(scores, labels, strict=True), key=lambda pair: pair[0])
    rank_sum, position, positives = 0.0, 0, sum(labels)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("AUC needs both won and lost examples")
    while position < len(ranked):
        end = position
        while end < len(ranked) and ranked[end][0] == ranked[position][0]:
            end += 1
        average_rank = (position + 1 + end) / 2
        rank_sum += average_rank * sum(1 for _, won in ranked[position:end] if won)
        position = end
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (the systems here are 13 x 13)."""
    n = len(vector)
    a = [[*row[:], vector[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        if abs(a[col][col]) < 1e-12:
            continue
        for r in range(col + 1, n):
            factor = a[r][col] / a[col][col]
            for c in range(col, n + 1):
                a[r][c] -= factor * a[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        if abs(a[r][r]) < 1e-12:
            continue
        x[r] = (a[r][n] - sum(a[r][c] * x[c] for c in range(r + 1, n))) / a[r][r]
    return x


def fit(examples: Sequence[Example], version: str, ridge: float = 1.0, rounds: int = 25) -> Model:
    """Logistic regression by Newton's method (IRLS) with an L2 penalty."""
    rows = [[1.0, *(e.values[f] for f in FEATURES)] for e in examples]
    labels = [1.0 if e.won else 0.0 for e in examples]
    size = len(FEATURES) + 1
    beta = [0.0] * size
    for _ in range(rounds):
        gradient = [0.0] * size
        hessian = [[0.0] * size for _ in range(size)]
        for x, y in zip(rows, labels, strict=True):
            z = max(min(sum(b * v for b, v in zip(beta, x, strict=True)), 40.0), -40.0)
            p = 1 / (1 + math.exp(-z))
            w = p * (1 - p)
            for i in range(size):
                gradient[i] += (y - p) * x[i]
                row = hessian[i]
                for j in range(i, size):
                    row[j] += w * x[i] * x[j]
        for i in range(size):
            for j in range(i):
                hessian[i][j] = hessian[j][i]
            if i:
                gradient[i] -= ridge * beta[i]
                hessian[i][i] += ridge
        step = _solve(hessian, gradient)
        beta = [b + s for b, s in zip(beta, step, strict=True)]
        if max(abs(s) for s in step) < 1e-6:
            break
    means = {f: sum(e.values[f] for e in examples) / len(examples) for f in FEATURES}
    return Model(version, beta[0], dict(zip(FEATURES, beta[1:], strict=True)), means)
