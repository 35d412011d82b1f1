"""What the billing service does with a verified Stripe event, in its two variants.

Both variants run one transaction per event: record the event id in billing.processed_events
(a redelivery finds it there, is acknowledged and changes nothing), resolve or create the
account, upsert the invoice, write its tax to billing.invoices.tax_cents (a column a later
migration added), and mark the account paid or past due.

- `broken` is the pre-hotfix code. It swallows the error of the tax write and carries on in the
  same transaction: when the column is missing that error is 42703 and every later statement
  fails with 25P02 (InFailedSqlTransaction). It keeps one connection for the webhook worker and
  puts it back only after a successful commit, so after a failure the next webhook gets the
  same connection, still inside the aborted transaction: every later webhook fails too.
- `fixed` is the hotfix: any error rolls back; an UndefinedColumn from the tax write rolls back,
  opens a fresh transaction and redoes the event without the tax (remembered per connection);
  the connection always goes back to the pool, rolled back. A pooled connection the server has
  closed is discarded and the event redone once on a new one (so the service also survives a
  Postgres restart, or faultline's `restart: "perRun"` moving it to the next scenario's
  database).
"""

import logging
import threading

import psycopg2
import psycopg2.errors
import psycopg2.extensions

log = logging.getLogger("billing")

INVOICE_EVENTS = ("invoice.paid", "invoice.payment_failed")
SUBSCRIPTION_EVENTS = ("customer.subscription.updated",)


class BillingConnection(psycopg2.extensions.connection):
    """A pooled connection that remembers whether billing.invoices.tax_cents exists."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # None until a tax write told us; False once one failed with UndefinedColumn.
        self.has_tax_column = None


# --- SQL shared by both variants ------------------------------------------------------------


def record_event(cur, event) -> bool:
    """Claim the event id; False when it was processed before (a redelivery)."""
    cur.execute(
        "INSERT INTO billing.processed_events (event_id, type) VALUES (%s, %s)"
        " ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
        (event["id"], event["type"]),
    )
    return cur.fetchone() is not None


def resolve_account(cur, customer: str, email) -> int:
    """The account of a Stripe customer: by customer id, else an unlinked signup with the
    same email (then linked), else a new account created from the webhook."""
    cur.execute("SELECT id FROM billing.accounts WHERE external_customer_id = %s", (customer,))
    row = cur.fetchone()
    if row:
        return row[0]
    if email:
        cur.execute(
            "UPDATE billing.accounts SET external_customer_id = %s"
            " WHERE id = (SELECT id FROM billing.accounts"
            "   WHERE billing.normalise_email(email) = billing.normalise_email(%s)"
            "     AND external_customer_id IS NULL ORDER BY id LIMIT 1 FOR UPDATE)"
            " RETURNING id",
            (customer, email),
        )
        row = cur.fetchone()
        if row:
            return row[0]
    # Two deliveries for a new customer may race here: the loser takes the winner's row.
    cur.execute(
        "INSERT INTO billing.accounts (external_customer_id, email, created_via)"
        " VALUES (%s, %s, 'webhook')"
        " ON CONFLICT (external_customer_id)"
        " DO UPDATE SET email = coalesce(billing.accounts.email, EXCLUDED.email)"
        " RETURNING id",
        (customer, email),
    )
    return cur.fetchone()[0]


def upsert_invoice(cur, account_id: int, invoice) -> tuple:
    """Insert or update the invoice; a paid invoice never goes back to open. (id, status)."""
    paid_at = (invoice.get("status_transitions") or {}).get("paid_at")
    cur.execute(
        "INSERT INTO billing.invoices (account_id, stripe_invoice_id, amount_cents, status, paid_at)"
        " VALUES (%s, %s, %s, %s, to_timestamp(%s))"
        " ON CONFLICT (stripe_invoice_id) DO UPDATE"
        "   SET amount_cents = EXCLUDED.amount_cents, status = EXCLUDED.status,"
        "       paid_at = EXCLUDED.paid_at"
        "   WHERE billing.invoices.status <> 'paid'"
        " RETURNING id, status",
        (account_id, invoice["id"], invoice_amount(invoice), invoice["status"], paid_at),
    )
    row = cur.fetchone()
    if row:
        return row
    cur.execute(
        "SELECT id, status FROM billing.invoices WHERE stripe_invoice_id = %s", (invoice["id"],)
    )
    return cur.fetchone()


def write_tax(cur, invoice_id: int, tax_cents: int) -> None:
    """The statement that reads billing.invoices.tax_cents (added by the second migration)."""
    cur.execute(
        "UPDATE billing.invoices SET tax_cents = %s WHERE id = %s", (tax_cents, invoice_id)
    )


def mark_account(cur, account_id: int, invoice_status: str, period_end) -> None:
    """Paid through the invoice's period, or past due while an invoice is unpaid."""
    if invoice_status == "paid":
        cur.execute(
            "UPDATE billing.accounts SET billing_status = 'paid',"
            " paid_through = greatest(paid_through, to_timestamp(%s))"
            " WHERE id = %s",
            (period_end, account_id),
        )
    else:
        cur.execute(
            "UPDATE billing.accounts SET billing_status = 'past_due' WHERE id = %s",
            (account_id,),
        )


def update_subscription(cur, account_id: int, subscription) -> None:
    """The plan (price) and seats (quantity) of the subscription's first item."""
    items = (subscription.get("items") or {}).get("data") or []
    if not items:
        return
    price = items[0].get("price") or {}
    cur.execute(
        "UPDATE billing.accounts SET plan = %s, seats = %s WHERE id = %s",
        (price.get("lookup_key") or price.get("id") or "unknown", items[0].get("quantity") or 1,
         account_id),
    )


def invoice_amount(invoice) -> int:
    return int(invoice.get("amount_paid") or invoice.get("amount_due") or 0)


def invoice_tax(invoice) -> int:
    return sum(int(t.get("amount") or 0) for t in invoice.get("total_taxes") or [])


def invoice_period_end(invoice):
    lines = (invoice.get("lines") or {}).get("data") or []
    period = (lines[0].get("period") or {}) if lines else {}
    return period.get("end") or invoice.get("period_end")


def apply_event(cur, event, tax_writer) -> dict:
    """Everything one event does, in the caller's transaction. `tax_writer(cur, id, cents)`."""
    if not record_event(cur, event):
        return {"duplicate": True}
    kind = event["type"]
    obj = event["data"]["object"]
    if kind in INVOICE_EVENTS:
        account_id = resolve_account(cur, obj["customer"], obj.get("customer_email"))
        invoice_id, status = upsert_invoice(cur, account_id, obj)
        tax_writer(cur, invoice_id, invoice_tax(obj))
        mark_account(cur, account_id, status, invoice_period_end(obj))
    elif kind in SUBSCRIPTION_EVENTS:
        account_id = resolve_account(cur, obj["customer"], None)
        update_subscription(cur, account_id, obj)
    # Other types are recorded and acknowledged: Stripe stops resending what we answer 2xx.
    return {"received": True}


# --- broken: the pre-hotfix code ------------------------------------------------------------

# The webhook worker's connection, checked out under one key: psycopg2's pool hands the same
# connection back for the same key until it is put back. (Its putconn would roll back an open
# transaction; this code never gets that far after an error.)
WORKER_KEY = "stripe-webhooks"
_worker_lock = threading.Lock()


def write_tax_swallowing(cur, invoice_id: int, tax_cents: int) -> None:
    try:
        write_tax(cur, invoice_id, tax_cents)
    except psycopg2.Error as error:
        # The bug: log and go on in the same, now aborted, transaction.
        log.warning("could not record tax for invoice %s (%s): %s", invoice_id, error.pgcode,
                    str(error).strip())


def handle_broken(pool, event) -> dict:
    with _worker_lock:  # one webhook at a time on the worker's connection
        conn = pool.getconn(key=WORKER_KEY)
        with conn.cursor() as cur:
            result = apply_event(cur, event, write_tax_swallowing)
        conn.commit()
        pool.putconn(conn, key=WORKER_KEY)
        return result


# --- fixed: the hotfix ----------------------------------------------------------------------


def handle_fixed(pool, event) -> dict:
    for attempt in (1, 2):
        conn = pool.getconn()
        lost = False
        try:
            return process_fixed(conn, event)
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as error:
            # A pooled connection the server closed meanwhile (a restart, a failover, an idle
            # timeout) fails on first use: discard it and redo the event once on a new one.
            # Safe: the transaction did not commit, or only the COMMIT's reply was lost and the
            # redo finds the event id already processed.
            lost = conn.closed != 0
            if not lost or attempt == 2:
                raise
            log.warning("the pooled connection was closed (%s): redoing the event on a new one",
                        str(error).strip().splitlines()[0])
        finally:
            pool.putconn(conn, close=lost or conn.closed != 0)
    raise AssertionError("unreachable")


def process_fixed(conn, event) -> dict:
    try:
        while True:
            with_tax = conn.has_tax_column is not False

            def tax_writer(cur, invoice_id, tax_cents, with_tax=with_tax):
                if with_tax:
                    write_tax(cur, invoice_id, tax_cents)

            try:
                with conn.cursor() as cur:
                    result = apply_event(cur, event, tax_writer)
                conn.commit()
                if with_tax and event["type"] in INVOICE_EVENTS and result.get("received"):
                    conn.has_tax_column = True
                return result
            except psycopg2.errors.UndefinedColumn as error:
                # Roll back first: nothing more can run in this transaction. Then a fresh one,
                # without the optional column, unless the missing column was another one.
                conn.rollback()
                if not with_tax or "tax_cents" not in str(error):
                    raise
                log.warning("billing.invoices.tax_cents is missing (%s): rolled back, retrying the"
                            " event without tax on this connection", error.pgcode)
                conn.has_tax_column = False
    except BaseException:
        if not conn.closed:
            try:
                conn.rollback()
            except psycopg2.Error:
                pass  # the connection broke while rolling back: the caller discards it
        raise


HANDLERS = {"broken": handle_broken, "fixed": handle_fixed}
