"""SQLAlchemy 1.4 (psycopg2 dialect) behind http.server; one pooled connection, transactions
through Session.begin()."""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

VARIANT = sys.argv[1]
SELECT = text("SELECT id, credits_balance FROM users WHERE email = :email")
INSERT = text("INSERT INTO webhook_events (event_id, type) VALUES (:id, :type)")
url = os.environ["DATABASE_URL"].replace("postgres://", "postgresql+psycopg2://", 1)
engine = create_engine(url, pool_size=1, max_overflow=0, future=True)


def log(what, e):
    print(f"{what}: {getattr(e.orig, 'pgcode', '')} {e.orig}".strip(), file=sys.stderr, flush=True)


def broken(event, email):
    try:
        with Session(engine) as session, session.begin():
            try:
                session.execute(SELECT, {"email": email})
            except DBAPIError as e:
                log("select failed, carrying on", e)
            try:
                session.execute(INSERT, {"id": event["id"], "type": event["type"]})
            except DBAPIError as e:
                log("insert failed, carrying on", e)
    except DBAPIError:
        pass
    return 200


def fixed(event, email):
    params = {"id": event["id"], "type": event["type"]}
    try:
        with Session(engine) as session, session.begin():
            session.execute(SELECT, {"email": email})
            session.execute(INSERT, params)
        return 200
    except DBAPIError as e:
        # session.begin() has rolled back; only the missing column is worth a second try.
        if getattr(e.orig, "pgcode", None) != "42703":
            log("insert failed, rolled back", e)
            return 500
        log("select failed, rolled back", e)
    try:
        with Session(engine) as session, session.begin():
            session.execute(text("SELECT id FROM users WHERE email = :email"), {"email": email})
            session.execute(INSERT, params)
        return 200
    except DBAPIError as e:
        log("insert failed, rolled back", e)
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


HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
