"""SQLAlchemy 2 adapters: SQLite (embedded default) and PostgreSQL, with Alembic migrations."""
