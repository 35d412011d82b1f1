"""python-billing: a small Stripe webhook receiver for a billing schema, on the standard library.

    BILLING_DB_URL=postgres://… HTTP_PORT=8000 STRIPE_SIGNING_SECRET=whsec_… python3 app.py

Routes: `POST /hooks/stripe` (Stripe-signed events: invoice.paid, invoice.payment_failed,
customer.subscription.updated; other types are recorded and acknowledged) and `GET /`, which
answers 200 once the server listens and its pool has connected. BILLING_VARIANT picks the
pre-hotfix (`broken`) or hotfix (`fixed`, the default) event handling: see billing.py.
"""

import json
import logging
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    import psycopg2
    import psycopg2.pool
except ImportError:
    sys.exit(
        f"python-billing: psycopg2 is not installed for {sys.executable}: install Debian's"
        " python3-psycopg2 (then run /usr/bin/python3) or `pip install psycopg2-binary`,"
        " or set PYTHON to a python that has it"
    )

import billing
import stripe_signature

WEBHOOK_PATH = "/hooks/stripe"
POOL_MIN, POOL_MAX = 1, 10
MAX_BODY_BYTES = 1 << 20

log = logging.getLogger("billing")


def settings():
    missing = [n for n in ("BILLING_DB_URL", "HTTP_PORT", "STRIPE_SIGNING_SECRET") if not os.environ.get(n)]
    if missing:
        sys.exit(f"python-billing: set {', '.join(missing)}")
    variant = os.environ.get("BILLING_VARIANT", "fixed")
    if variant not in billing.HANDLERS:
        sys.exit(f'python-billing: BILLING_VARIANT must be "fixed" or "broken", got {variant!r}')
    try:
        port = int(os.environ["HTTP_PORT"])
    except ValueError:
        sys.exit(f"python-billing: HTTP_PORT must be a port number, got {os.environ['HTTP_PORT']!r}")
    return {
        "database_url": os.environ["BILLING_DB_URL"],
        "host": os.environ.get("HTTP_HOST", "127.0.0.1"),
        "port": port,
        "secret": os.environ["STRIPE_SIGNING_SECRET"],
        "variant": variant,
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "python-billing"
    # Set on the class by main(): the pool, the secret and the variant's event handler.
    pool = None
    secret = ""
    handle_event = None
    variant = ""

    def reply(self, status: int, body) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.split("?")[0] == "/":
            self.reply(200, {"service": "python-billing", "variant": self.variant})
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self):
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit() or int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            self.reply(411 if length is None else 413, {"error": "a Content-Length up to 1 MiB is required"})
            return
        payload = self.rfile.read(int(length))
        if self.path.split("?")[0] != WEBHOOK_PATH:
            self.reply(404, {"error": "not found"})
            return
        try:
            stripe_signature.verify(payload, self.headers.get("Stripe-Signature"), self.secret)
        except stripe_signature.SignatureError as error:
            log.info("rejected a delivery: %s", error)
            self.reply(400, {"error": f"bad signature: {error}"})
            return
        try:
            event = json.loads(payload)
            event_id, kind = event["id"], event["type"]
            event["data"]["object"]
        except (ValueError, KeyError, TypeError) as error:
            self.reply(400, {"error": f"not a Stripe event: {error!r}"})
            return
        try:
            result = self.handle_event(self.pool, event)
        except psycopg2.pool.PoolError as error:
            log.error("%s %s: no connection: %s", kind, event_id, error)
            self.reply(503, {"error": str(error)})
            return
        except psycopg2.Error as error:
            log.error("%s %s failed (%s): %s", kind, event_id, error.pgcode, str(error).strip())
            self.reply(500, {"error": str(error).strip(), "sqlstate": error.pgcode})
            return
        except Exception as error:  # answer 500, so Stripe retries, whatever went wrong
            log.exception("%s %s failed", kind, event_id)
            self.reply(500, {"error": repr(error)})
            return
        log.info("%s %s: %s", kind, event_id, result)
        self.reply(200, result)

    def log_message(self, format, *args):
        log.debug("%s %s", self.address_string(), format % args)


def main():
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = settings()
    try:
        # Long-lived connections: opened once, reused by every request.
        pool = psycopg2.pool.ThreadedConnectionPool(
            POOL_MIN,
            POOL_MAX,
            dsn=config["database_url"],
            application_name=f"python-billing:{config['variant']}",
            connection_factory=billing.BillingConnection,
        )
    except psycopg2.Error as error:
        sys.exit(f"python-billing: cannot connect to BILLING_DB_URL: {str(error).strip()}")
    Handler.pool = pool
    Handler.secret = config["secret"]
    Handler.handle_event = staticmethod(billing.HANDLERS[config["variant"]])
    Handler.variant = config["variant"]
    server = ThreadingHTTPServer((config["host"], config["port"]), Handler)
    server.daemon_threads = True
    # SIGTERM ends serve_forever through SystemExit, so the pool is closed on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log.info(
        "listening on http://%s:%d (variant %s, POST %s)",
        config["host"], config["port"], config["variant"], WEBHOOK_PATH,
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()
        pool.closeall()


if __name__ == "__main__":
    main()
