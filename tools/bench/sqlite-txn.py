#!/usr/bin/env python3
"""Commits small SQLite transactions for a fixed time and prints transactions per second: what a
database's write path does through a filesystem (every commit waits for fsync, synchronous=FULL).

    sqlite-txn.py DB_FILE --journal wal|delete --seconds S

The database (and its journal or WAL) is created fresh; each transaction inserts one row of 100
random bytes."""
import argparse
import os
import sqlite3
import sys
import time


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("db")
    p.add_argument("--journal", choices=["wal", "delete"], required=True)
    p.add_argument("--seconds", type=float, default=10)
    a = p.parse_args()
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.unlink(a.db + suffix)
        except FileNotFoundError:
            pass
    db = sqlite3.connect(a.db, isolation_level=None)
    db.execute(f"PRAGMA journal_mode={a.journal}")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
    done = 0
    start = time.monotonic()
    deadline = start + a.seconds
    while time.monotonic() < deadline:
        db.execute("BEGIN")
        db.execute("INSERT INTO t (v) VALUES (?)", (os.urandom(100),))
        db.execute("COMMIT")
        done += 1
    elapsed = time.monotonic() - start
    db.close()
    print(f"{done / elapsed:.0f}")


if __name__ == "__main__":
    sys.exit(main())
