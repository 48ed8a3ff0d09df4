"""The database's tables, as numbered migrations.

``PRAGMA user_version`` records how many migrations a database has had. A feature that
needs a table appends one script to :data:`MIGRATIONS` (never edits a released one); every
database, new or old, runs the scripts it has not had yet, each in its own transaction, at
start-up. A database written by a newer gateway (more migrations than this one knows) is
refused rather than misread.
"""

from __future__ import annotations

import sqlite3

from gateway.store.errors import StorageUnavailable

MIGRATIONS: tuple[str, ...] = (
    # 1: keys, the server secret, day and month quota counters, daily usage.
    """
    CREATE TABLE meta (
        name TEXT PRIMARY KEY,
        value BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE keys (
        id TEXT PRIMARY KEY,
        key_hash TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        record TEXT NOT NULL
    );
    CREATE TABLE quota (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL,
        expires_at REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE usage (
        key_id TEXT NOT NULL,
        day TEXT NOT NULL,
        name TEXT NOT NULL,
        value INTEGER NOT NULL,
        expires_at REAL NOT NULL,
        PRIMARY KEY (key_id, day, name)
    ) WITHOUT ROWID;
    CREATE INDEX usage_expiry ON usage (expires_at);
    """,
    # 2: teams of keys.
    """
    CREATE TABLE teams (
        id TEXT PRIMARY KEY,
        created_at REAL NOT NULL,
        record TEXT NOT NULL
    );
    """,
    # 3: a day's usage of every key read at once (the overview).
    """
    CREATE INDEX usage_day ON usage (day);
    """,
)


def migrate(conn: sqlite3.Connection, name: str) -> None:
    """Bring ``conn``'s database (called ``name`` in errors) up to the latest schema."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > len(MIGRATIONS):
        raise StorageUnavailable(
            f"{name} was written by a newer gateway (schema {version}; this one knows "
            f"{len(MIGRATIONS)}): upgrade the gateway or use another store path"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        try:
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;"
            )
        except sqlite3.Error:
            if conn.in_transaction:
                conn.rollback()
            raise
