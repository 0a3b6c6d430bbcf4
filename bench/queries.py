"""The GraphQL documents of the scenarios (field order = the floor's JSON key order)."""

from __future__ import annotations

# Scenario 2: a page of opportunities with three relations.
OPPORTUNITY_PAGE = """query Page($limit: Int) {
  opportunities(limit: $limit) {
    items { id name stage amount account { name } owner { name } territory { name } }
  }
}"""

# Scenario 2's page in PostGraphile 4's schema (bench/peer.py), aliased to the gateway's shape: the
# same order (created_at, then id, newest first), fields and nesting.
POSTGRAPHILE_PAGE = """query Page($limit: Int) {
  opportunities: allOpportunities(first: $limit, orderBy: [CREATED_AT_DESC, ID_DESC]) {
    items: nodes {
      id name stage amount
      account: accountByAccountId { name }
      owner: userByOwnerId { name }
      territory: territoryByTerritoryId { name }
    }
  }
}"""

# Scenario 3: the same page plus two Customer Experience reads per account.
FEDERATED_PAGE = """query Federated($limit: Int) {
  opportunities(limit: $limit) {
    items {
      id name stage amount
      account { name health { score status } nps { score } }
      owner { name } territory { name }
    }
  }
}"""

# Scenario 4: the lead list without a total (offset 0, or keyset after a cursor).
LEAD_PAGE = """query Leads($first: Int, $after: String) {
  leads(first: $first, after: $after) {
    items { id status firstName lastName email company score assignedTo { id name } createdAt }
    pageInfo { hasNextPage endCursor }
  }
}"""

PIPELINE = """query Pipeline($ownerId: ID!, $period: String!) {
  pipeline(ownerId: $ownerId, period: $period) {
    summary { totalCount totalAmount weightedAmount }
    byStage { stage count totalAmount probability weightedAmount }
  }
}"""

FORECASTS = """query Forecasts($period: String!) {
  forecasts(period: $period) {
    territory { name } forecastType amount probabilityWeightedAmount aiPredictedAmount
  }
}"""
