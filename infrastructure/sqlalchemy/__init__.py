"""SQLAlchemy 2.x (asyncio, Core) adapters for SQLite, PostgreSQL and MariaDB/MySQL."""
