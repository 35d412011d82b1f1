"""psycopg2 behind http.server; one connection in psycopg2's default mode, where the first
statement opens a transaction and commit()/rollback() end it."""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

import psycopg2

VARIANT = sys.argv[1]
SELECT = "SELECT id, credits_balance FROM users WHERE email = %s"
INSERT = "INSERT INTO webhook_events (event_id, type) VALUES (%s, %s)"
conn = psycopg2.connect(os.environ["DATABASE_URL"])


def log(what, e):
    print(f"{what}: {e.pgcode} {e}".strip(), file=sys.stderr, flush=True)


def broken(event, email):
    with conn.cursor() as cur:
        try:
            cur.execute(SELECT, (email,))
        except psycopg2.Error as e:
            log("select failed, carrying on", e)
        try:
            cur.execute(INSERT, (event["id"], event["type"]))
        except psycopg2.Error as e:
            log("insert failed, carrying on", e)
    try:
        conn.commit()
    except psycopg2.Error:
        pass
    return 200


def fixed(event, email):
    with conn.cursor() as cur:
        try:
            cur.execute(SELECT, (email,))
        except psycopg2.errors.UndefinedColumn as e:
            log("select failed, rolling back", e)
            conn.rollback()
            cur.execute("SELECT id FROM users WHERE email = %s", (email,))
        try:
            cur.execute(INSERT, (event["id"], event["type"]))
            conn.commit()
            return 200
        except psycopg2.Error as e:
            log("insert failed, rolling back", e)
            conn.rollback()
            return 500


HANDLE = broken if VARIANT == "broken" else fixed


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.answer(200 if self.path == "/healthz" else 404)

    def do_POST(self):
        if self.path != "/webhooks/stripe":
            return self.answer(404)
        event = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        email = (((event.get("data") or {}).get("object") or {}).get("customer_details") or {}).get("email")
        try:
            status = HANDLE(event, email)
        except Exception as e:  # the service must keep serving
            print(f"webhook failed: {e}", file=sys.stderr, flush=True)
            status = 500
        self.answer(status)

    def answer(self, status):
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


# HTTPServer serves one request at a time, which the single connection needs.
HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
