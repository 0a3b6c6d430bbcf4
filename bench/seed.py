"""Bulk load of the benchmark organisation (``bench.org``) with ``generate_series``, server-side.

Foreign-key triggers are off while loading (``session_replication_role = replica``): the rows
are consistent by construction and 1M opportunities load in well under a minute instead of
several. ``VACUUM ANALYZE`` afterwards leaves the tables as autovacuum would. The lead counts
the triggers keep are rebuilt after it (``sales-graph migrate --recount-leads``, ``bench/run.py``).
"""

from __future__ import annotations

import time

import asyncpg  # type: ignore[import-untyped]

from bench.org import Org

# The tables of the organisation; CASCADE empties whatever else refers to them.
_TABLES = (
    "users, territories, territory_members, territory_rules, accounts, contacts, leads, "
    "lead_assignments, opportunities, opportunity_products, opportunity_history, forecasts, "
    "quotas"
)

# Fixed instants, so that a reseed gives the same rows (and the same cursors).
_ANCHOR = "timestamptz '2026-11-01 00:00:00+00'"

_USERS = """
INSERT INTO users (id, email, name, role, manager_id, lead_capacity, is_active,
                   created_at, updated_at)
SELECT md5('admin:0')::uuid, 'admin0@bench.example', 'Ada Admin', 'admin', NULL::uuid, NULL::int,
       true,
       {anchor}, {anchor}
UNION ALL
SELECT md5('vp:0')::uuid, 'vp0@bench.example', 'Vera Head of Sales', 'sales_manager', NULL,
       NULL, true, {anchor}, {anchor}
UNION ALL
SELECT md5('manager:' || j)::uuid, 'manager' || j || '@bench.example', 'Manager ' || j,
       'sales_manager', md5('vp:0')::uuid, NULL, true, {anchor}, {anchor}
  FROM generate_series(0, $1 - 1) AS j
UNION ALL
SELECT md5('rep:' || k)::uuid, 'rep' || k || '@bench.example',
       (ARRAY['Ada','Grace','Alan','Linus','Barbara','Ken','Margaret','Dennis','Fran'])[k % 9 + 1]
         || ' Rep ' || k,
       'sales_rep', md5('manager:' || (k % $1))::uuid, NULL, true, {anchor}, {anchor}
  FROM generate_series(0, $2 - 1) AS k
"""

_TERRITORIES = """
INSERT INTO territories (id, name, description, owner_id, is_active, priority, assignment_seq,
                         version, created_at, updated_at)
SELECT md5('territory:' || j)::uuid, 'Territory ' || j, NULL, md5('manager:' || j)::uuid, true,
       j, 0, 1, {anchor}, {anchor}
  FROM generate_series(0, $1 - 1) AS j
"""

_MEMBERS = """
INSERT INTO territory_members (territory_id, user_id, position, turns, added_at)
SELECT md5('territory:' || (k % $1))::uuid, md5('rep:' || k)::uuid, k / $1, 0, {anchor}
  FROM generate_series(0, $2 - 1) AS k
"""

_ACCOUNTS = """
INSERT INTO accounts (id, name, name_normalized, domain, industry, employee_count,
                      annual_revenue, country, region, owner_id, territory_id,
                      created_at, updated_at)
SELECT md5('account:' || a)::uuid, 'Account ' || a, 'account ' || a,
       'account' || a || '.example',
       (ARRAY['Technology','Healthcare','Finance','Retail','Manufacturing','Education'])[a % 6 + 1],
       50 + (a * 37) % 5000, 1000000 + (a * 7919) % 90000000, 'US', 'West',
       md5('rep:' || (a % $2))::uuid, md5('territory:' || ((a % $2) % $1))::uuid,
       {anchor} - make_interval(secs => a * 3.7), {anchor} - make_interval(secs => a * 3.7)
  FROM generate_series(0, $3 - 1) AS a
"""

_LEADS = """
INSERT INTO leads (id, status, first_name, last_name, email, email_normalized, company, title,
                   industry, employee_count, country, source, score, lead_metadata,
                   assigned_to_id, territory_id, assigned_at, version, created_at, updated_at)
SELECT md5('lead:' || i)::uuid,
       (ARRAY['new','working','qualified','disqualified','converted'])[(i / $2) % 5 + 1],
       (ARRAY['Ada','Grace','Alan','Linus','Barbara','Ken','Margaret','Dennis','Fran'])[i % 9 + 1],
       (ARRAY['Lovelace','Hopper','Turing','Torvalds','Liskov','Thompson','Hamilton'])[i % 7 + 1],
       'lead' || i || '@bench.example', 'lead' || i || '@bench.example',
       'Company ' || (i % 5000), 'Buyer', 'Technology', 10 + i % 990, 'US', 'web',
       CASE WHEN i % 7 = 0 THEN NULL ELSE i % 100 END, '{{}}'::jsonb,
       md5('rep:' || (i % $2))::uuid, md5('territory:' || ((i % $2) % $1))::uuid,
       {anchor} - make_interval(secs => i * 1.000137),
       1,
       {anchor} - make_interval(secs => i * 1.000137),
       {anchor} - make_interval(secs => i * 1.000137) + interval '1 hour'
  FROM generate_series(0, $3 - 1) AS i
"""

# 20 slots: 14 open (discovery 5, qualification 4, proposal 3, negotiation 2), 6 closed.
_OPPORTUNITIES = """
INSERT INTO opportunities (id, name, account_id, stage, amount, probability, forecast_category,
                           expected_close_date, owner_id, territory_id, opportunity_metadata,
                           deal_score, deal_score_factors, close_date_slips, stage_changed_at,
                           closed_at, version, created_at, updated_at)
SELECT md5('opportunity:' || i)::uuid, 'Opportunity ' || i,
       md5('account:' || (((i / $2) % 100) * $2 + i % $2))::uuid,
       s.stage, 1000 + ((i::bigint * 7919) % 200) * 500,
       CASE s.stage WHEN 'discovery' THEN 20 WHEN 'qualification' THEN 40 WHEN 'proposal' THEN 60
                    WHEN 'negotiation' THEN 90 WHEN 'closed_won' THEN 100 ELSE 0 END,
       CASE s.stage WHEN 'discovery' THEN 'pipeline' WHEN 'qualification' THEN 'pipeline'
                    WHEN 'proposal' THEN 'best_case' WHEN 'negotiation' THEN 'commit'
                    WHEN 'closed_won' THEN 'closed' ELSE 'omitted' END,
       current_date - 365 + (((i / $2) * 37 + (i % $2) * 11) % 730)::int,
       md5('rep:' || (i % $2))::uuid, md5('territory:' || ((i % $2) % $1))::uuid,
       '{{}}'::jsonb, (i * 31) % 100, '[]'::jsonb, 0,
       {anchor} - make_interval(secs => i * 1.000071),
       CASE WHEN s.stage LIKE 'closed%' THEN {anchor} - make_interval(secs => i * 1.000071) END,
       1,
       {anchor} - make_interval(secs => i * 1.000071),
       {anchor} - make_interval(secs => i * 1.000071)
  FROM generate_series(0, $3 - 1) AS i
 CROSS JOIN LATERAL (
       SELECT (ARRAY['discovery','discovery','discovery','discovery','discovery',
                     'qualification','qualification','qualification','qualification',
                     'proposal','proposal','proposal','negotiation','negotiation',
                     'closed_won','closed_won','closed_won',
                     'closed_lost','closed_lost','closed_lost'])[((i / $2) * 7) % 20 + 1] AS stage
 ) AS s
"""


async def seed(dsn: str, org: Org) -> dict[str, float]:
    """Empties the organisation's tables and loads ``org``; returns seconds per step."""
    timings: dict[str, float] = {}
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("SET session_replication_role = replica")
        await connection.execute("SET maintenance_work_mem = '256MB'")
        steps: list[tuple[str, str, tuple[int, ...]]] = [
            ("truncate", f"TRUNCATE {_TABLES} CASCADE", ()),
            ("users", _USERS, (org.territories, org.reps)),
            ("territories", _TERRITORIES, (org.territories,)),
            ("members", _MEMBERS, (org.territories, org.reps)),
            ("accounts", _ACCOUNTS, (org.territories, org.reps, org.accounts)),
            ("leads", _LEADS, (org.territories, org.reps, org.rows)),
            ("opportunities", _OPPORTUNITIES, (org.territories, org.reps, org.rows)),
        ]
        for name, sql, args in steps:
            began = time.perf_counter()
            await connection.execute(sql.format(anchor=_ANCHOR), *args)
            timings[name] = round(time.perf_counter() - began, 2)
        began = time.perf_counter()
        for table in ("users", "territories", "territory_members", "accounts", "leads"):
            await connection.execute(f"VACUUM ANALYZE {table}")
        await connection.execute("VACUUM ANALYZE opportunities")
        timings["vacuum_analyze"] = round(time.perf_counter() - began, 2)
    finally:
        await connection.close()
    return timings
