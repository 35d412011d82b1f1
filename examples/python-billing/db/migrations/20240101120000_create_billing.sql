-- migrate:up
-- The billing service's own schema: accounts keyed by the Stripe customer, invoices keyed by
-- the Stripe invoice, and the events already handled (Stripe delivers at least once).
CREATE SCHEMA billing;

-- Emails are compared lower-cased and trimmed; a function body holds its own `;`.
CREATE FUNCTION billing.normalise_email(email text) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT
  AS $fn$ SELECT lower(btrim(email)); $fn$;

CREATE TABLE billing.accounts (
  id bigserial PRIMARY KEY,
  external_customer_id text UNIQUE,
  email text,
  plan text NOT NULL DEFAULT 'free',
  seats integer NOT NULL DEFAULT 1,
  -- 'signup' for accounts made by the product, 'webhook' for payers Stripe told us about first
  created_via text NOT NULL DEFAULT 'signup',
  billing_status text NOT NULL DEFAULT 'unpaid',
  paid_through timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX accounts_email ON billing.accounts (billing.normalise_email(email));

CREATE TABLE billing.invoices (
  id bigserial PRIMARY KEY,
  account_id bigint NOT NULL REFERENCES billing.accounts (id),
  stripe_invoice_id text NOT NULL UNIQUE,
  amount_cents integer NOT NULL,
  status text NOT NULL,
  paid_at timestamptz
);

CREATE TABLE billing.processed_events (
  event_id text PRIMARY KEY,
  type text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);

-- migrate:down
DROP SCHEMA billing CASCADE;
