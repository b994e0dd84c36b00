"""The local PostgreSQL server for tests that need one: connect as admin or skip, and a fresh
database per test, dropped afterwards (127.0.0.1:5432, user postgres, trust auth, or PG* variables)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

HOST = os.environ.get("PGHOST", "127.0.0.1")
USER = os.environ.get("PGUSER", "postgres")
PASSWORD = os.environ.get("PGPASSWORD", "")


def admin():  # noqa: ANN201 - a psycopg2 connection (psycopg2 is imported only when a test asks)
    """An autocommit connection to the `postgres` database; pytest.skip naming the server and the
    error when none is reachable."""
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        conn = psycopg2.connect(host=HOST, user=USER, password=PASSWORD, dbname="postgres", connect_timeout=2)
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server reachable at {HOST}:5432 ({str(exc).strip()})")
    conn.autocommit = True
    return conn


@contextmanager
def fresh_databases(*prefixes: str) -> Iterator[list[str]]:
    """One new database per prefix (`<prefix>_<8 hex>`), dropped (FORCE) on exit; skips as `admin`."""
    conn = admin()
    names = [f"{p}_{uuid.uuid4().hex[:8]}" for p in prefixes]
    try:
        with conn.cursor() as cur:
            for n in names:
                cur.execute(f"CREATE DATABASE {n}")
        yield names
    finally:
        with conn.cursor() as cur:
            for n in names:
                cur.execute(f"DROP DATABASE IF EXISTS {n} WITH (FORCE)")
        conn.close()


def dagster_env(db: str) -> dict[str, str]:
    """The DAGSTER_PG_* variables deploy/*/dagster.yaml read, for database `db` on this server."""
    return {
        "DAGSTER_PG_USER": USER,
        "DAGSTER_PG_PASSWORD": PASSWORD,
        "DAGSTER_PG_HOST": HOST,
        "DAGSTER_PG_DB": db,
    }
