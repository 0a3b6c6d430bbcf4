"""Storage: tables, the engine and unit of work, repositories and migrations."""

from sales_graph.db.engine import Database

__all__ = ["Database"]
