"""A long-lived SQLAlchemy engine (psycopg2) for routing.pg.test.ts.

Usage: /usr/bin/python3 pool_sqlalchemy.py URL [pre_ping]
Prints {"ready": ...} once, then answers each stdin line with one JSON line:
  warm   check out two connections at once and query on both, so the pool holds two
  query  one attempt at `SELECT name FROM marker`: {"marker": ...} or {"error": ..., "message": ...}
Ends its engine and exits at the end of stdin.
"""

import json
import sys

import sqlalchemy
from sqlalchemy import create_engine, text

url = sys.argv[1]
pre_ping = len(sys.argv) > 2 and sys.argv[2] == "pre_ping"
engine = create_engine(url, pool_size=2, max_overflow=0, pool_pre_ping=pre_ping)


def marker(conn):
    return conn.execute(text("SELECT name FROM marker")).scalar_one()


def attempt(work):
    try:
        return work()
    except Exception as error:  # the test records exactly what the library raised
        return {"error": type(error).__name__, "message": str(error).strip()}


def warm():
    with engine.connect() as first, engine.connect() as second:
        return {"markers": [marker(first), marker(second)]}


def query():
    with engine.connect() as conn:
        return {"marker": marker(conn)}


print(json.dumps({"ready": sqlalchemy.__version__, "pre_ping": pre_ping}), flush=True)
for line in sys.stdin:
    command = line.strip()
    if command == "warm":
        print(json.dumps(attempt(warm)), flush=True)
    elif command == "query":
        print(json.dumps(attempt(query)), flush=True)
    else:
        print(json.dumps({"error": "usage", "message": f"unknown command {command!r}"}), flush=True)
engine.dispose()
