"""A small, known sales organisation for tests (the demo seed is for people, this is for asserts).

admin
m1 (manager) -- owns T1 (rule: country US), members r1 r2 r3 (report to m1)
m2 (manager) -- owns T2 (catch-all rule), member r4 (reports to m2)
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import Territory, TerritoryMember, TerritoryRule, User
from sales_graph.domain import Role


@dataclass(frozen=True)
class Org:
    admin: User
    m1: User
    m2: User
    r1: User
    r2: User
    r3: User
    r4: User
    t1: Territory
    t2: Territory

    @property
    def t1_reps(self) -> list[User]:
        return [self.r1, self.r2, self.r3]


def _user(key: str, role: Role, manager: User | None = None) -> User:
    return User(
        email=f"{key}@ionoi-inc.com",
        name=f"User {key.upper()}",
        role=role.value,
        manager_id=manager.id if manager else None,
    )


async def make_org(session: AsyncSession) -> Org:
    admin = _user("admin", Role.ADMIN)
    m1 = _user("m1", Role.SALES_MANAGER)
    m2 = _user("m2", Role.SALES_MANAGER)
    session.add_all([admin, m1, m2])
    await session.flush()
    r1, r2, r3 = (_user(f"r{i}", Role.SALES_REP, m1) for i in (1, 2, 3))
    r4 = _user("r4", Role.SALES_REP, m2)
    session.add_all([r1, r2, r3, r4])
    await session.flush()
    t1 = Territory(name="T1 United States", owner_id=m1.id, priority=10)
    t2 = Territory(name="T2 Everywhere else", owner_id=m2.id, priority=100)
    session.add_all([t1, t2])
    await session.flush()
    session.add_all(
        [
            TerritoryRule(territory_id=t1.id, position=0, country="US"),
            TerritoryRule(territory_id=t2.id, position=0),
            *(
                TerritoryMember(territory_id=t1.id, user_id=rep.id, position=i)
                for i, rep in enumerate([r1, r2, r3])
            ),
            TerritoryMember(territory_id=t2.id, user_id=r4.id, position=0),
        ]
    )
    await session.flush()
    return Org(admin, m1, m2, r1, r2, r3, r4, t1, t2)
