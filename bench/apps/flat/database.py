"""The tutorial's database module: a sync engine and a session factory from DATABASE_URL."""

import os

from sqlalchemy import create_engine
from sqlalchemy.orm import DeclarativeBase, sessionmaker

# The tutorial hard-codes its URL here; the benchmark passes one for the sync psycopg 3 driver,
# e.g. postgresql+psycopg://postgres@127.0.0.1:5432/students_bench.
SQLALCHEMY_DATABASE_URL = os.environ["DATABASE_URL"]

# The tutorial's engine: SQLAlchemy's default pool (5 connections plus 10 overflow).
engine = create_engine(SQLALCHEMY_DATABASE_URL)
SessionLocal = sessionmaker(autoflush=False, bind=engine)


class Base(DeclarativeBase):
    pass
