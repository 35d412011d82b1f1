"""A long-lived asyncpg pool for routing.pg.test.ts.

Usage: /usr/bin/python3 pool_asyncpg.py DSN
Prints {"ready": ...} once, then answers each stdin line with one JSON line:
  warm   query on two connections at once, so the pool holds two
  query  one attempt at `SELECT name FROM marker`: {"marker": ...} or {"error": ..., "message": ...}
Closes its pool and exits at the end of stdin.
"""

import asyncio
import json
import sys

import asyncpg


async def attempt(work):
    try:
        return await work()
    except Exception as error:  # the test records exactly what the library raised
        return {"error": type(error).__name__, "message": str(error).strip()}


async def main():
    pool = await asyncpg.create_pool(sys.argv[1], min_size=2, max_size=2)

    async def warm():
        async def one():
            async with pool.acquire() as conn:
                await conn.execute("SELECT pg_sleep(0.05)")
                return await conn.fetchval("SELECT name FROM marker")

        return {"markers": list(await asyncio.gather(one(), one()))}

    async def query():
        return {"marker": await pool.fetchval("SELECT name FROM marker")}

    print(json.dumps({"ready": asyncpg.__version__}), flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        command = line.strip()
        if command == "warm":
            print(json.dumps(await attempt(warm)), flush=True)
        elif command == "query":
            print(json.dumps(await attempt(query)), flush=True)
        else:
            message = f"unknown command {command!r}"
            print(json.dumps({"error": "usage", "message": message}), flush=True)
    await pool.close()


asyncio.run(main())
