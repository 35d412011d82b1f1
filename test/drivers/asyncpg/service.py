"""asyncpg behind a minimal asyncio HTTP server; one connection, transactions through
conn.transaction()."""
import asyncio
import json
import os
import sys

import asyncpg

VARIANT = sys.argv[1]
SELECT = "SELECT id, credits_balance FROM users WHERE email = $1"
INSERT = "INSERT INTO webhook_events (event_id, type) VALUES ($1, $2)"


def log(what, e):
    print(f"{what}: {getattr(e, 'sqlstate', '')} {e}", file=sys.stderr, flush=True)


async def broken(conn, event, email):
    try:
        async with conn.transaction():
            try:
                await conn.fetch(SELECT, email)
            except asyncpg.PostgresError as e:
                log("select failed, carrying on", e)
            try:
                await conn.execute(INSERT, event["id"], event["type"])
            except asyncpg.PostgresError as e:
                log("insert failed, carrying on", e)
    except asyncpg.PostgresError:
        pass
    return 200


async def fixed(conn, event, email):
    try:
        async with conn.transaction():
            await conn.fetch(SELECT, email)
            await conn.execute(INSERT, event["id"], event["type"])
        return 200
    except asyncpg.UndefinedColumnError as e:
        # conn.transaction() has rolled back; start again without the column.
        log("select failed, rolled back", e)
    except asyncpg.PostgresError as e:
        log("insert failed, rolled back", e)
        return 500
    try:
        async with conn.transaction():
            await conn.fetch("SELECT id FROM users WHERE email = $1", email)
            await conn.execute(INSERT, event["id"], event["type"])
        return 200
    except asyncpg.PostgresError as e:
        log("insert failed, rolled back", e)
        return 500


async def main():
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    handle = broken if VARIANT == "broken" else fixed
    # One connection holds one transaction at a time.
    lock = asyncio.Lock()

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
                email = ((event.get("data") or {}).get("object") or {}).get("customer_details", {}).get("email")
                async with lock:
                    status = await handle(conn, event, email)
            else:
                status = 404
        except Exception as e:  # a bad request must not stop the server
            log("request failed", e)
            status = 500
        writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", int(os.environ["PORT"]))
    async with server:
        await server.serve_forever()


asyncio.run(main())
