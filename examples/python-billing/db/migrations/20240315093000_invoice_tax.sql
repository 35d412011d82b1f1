-- migrate:up
-- Tax per invoice, which the webhook path writes. NULL means "not computed yet", so a test can
-- tell a computed zero from a row the webhook never taxed.
ALTER TABLE billing.invoices ADD COLUMN tax_cents integer;

-- Re-runnable guard around the constraint: the block's statements end in `;` inside one
-- top-level statement, so a tool that splits the file on `;` would break it.
DO $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM pg_constraint
     WHERE conname = 'invoices_tax_not_negative'
       AND conrelid = 'billing.invoices'::regclass
  ) THEN
    ALTER TABLE billing.invoices
      ADD CONSTRAINT invoices_tax_not_negative CHECK (tax_cents >= 0);
  END IF;
  UPDATE billing.invoices SET tax_cents = 0 WHERE status = 'paid' AND tax_cents IS NULL;
END
$$;

-- migrate:down
ALTER TABLE billing.invoices DROP COLUMN tax_cents;
