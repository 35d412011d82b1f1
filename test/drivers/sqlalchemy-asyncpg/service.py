"""SQLAlchemy 1.4's async engine (postgresql+asyncpg) behind a minimal asyncio HTTP server;
one pooled connection, transactions through AsyncSession.begin()."""
import asyncio
import json
import os
import sys

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

VARIANT = sys.argv[1]
SELECT = text("SELECT id, credits_balance FROM users WHERE email = :email")
INSERT = text("INSERT INTO webhook_events (event_id, type) VALUES (:id, :type)")
url = os.environ["DATABASE_URL"].replace("postgres://", "postgresql+asyncpg://", 1)
engine = create_async_engine(url, pool_size=1, max_overflow=0)


def sqlstate(e):
    # The dialect wraps asyncpg's error; the original, with its SQLSTATE, is the cause.
    return getattr(e.orig.__cause__, "sqlstate", None)


def log(what, e):
    print(f"{what}: {sqlstate(e)} {e.orig}", file=sys.stderr, flush=True)


async def broken(event, email):
    try:
        async with AsyncSession(engine) as session, session.begin():
            try:
                await session.execute(SELECT, {"email": email})
            except DBAPIError as e:
                log("select failed, carrying on", e)
            try:
                await session.execute(INSERT, {"id": event["id"], "type": event["type"]})
            except DBAPIError as e:
                log("insert failed, carrying on", e)
    except DBAPIError:
        pass
    return 200


async def fixed(event, email):
    params = {"id": event["id"], "type": event["type"]}
    try:
        async with AsyncSession(engine) as session, session.begin():
            await session.execute(SELECT, {"email": email})
            await session.execute(INSERT, params)
        return 200
    except DBAPIError as e:
        # session.begin() has rolled back; only the missing column is worth a second try.
        if sqlstate(e) != "42703":
            log("insert failed, rolled back", e)
            return 500
        log("select failed, rolled back", e)
    try:
        async with AsyncSession(engine) as session, session.begin():
            await session.execute(text("SELECT id FROM users WHERE email = :email"), {"email": email})
            await session.execute(INSERT, params)
        return 200
    except DBAPIError as e:
        log("insert failed, rolled back", e)
        return 500


async def main():
    handle = broken if VARIANT == "broken" else fixed

    async def serve(reader, writer):
        try:
            request_line = (await reader.readline()).decode()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode().partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            method, path, _ = request_line.split(" ", 2)
            if method == "GET" and path == "/healthz":
                status = 200
            elif method == "POST" and path == "/webhooks/stripe":
                event = json.loads(body)
                email = (((event.get("data") or {}).get("object") or {}).get("customer_details") or {}).get("email")
                status = await handle(event, email)
            else:
                status = 404
        except Exception as e:  # a bad request must not stop the server
            print(f"request failed: {e}", file=sys.stderr, flush=True)
            status = 500
        writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    # Requests wait for the pool's single connection, so they run one at a time.
    server = await asyncio.start_server(serve, "127.0.0.1", int(os.environ["PORT"]))
    async with server:
        await server.serve_forever()


asyncio.run(main())
