-- Money in: online payments (Przelewy24, Stripe Checkout) from the moment a resident starts one,
-- and what each payment or credit paid (allocations of ledger credits to invoices).

-- What a ledger credit (a payment, a correction downwards) paid of which invoice. An invoice's
-- open amount is its amount due less its allocations; what a credit does not allocate stays on
-- the customer's balance as an overpayment, which the next invoice uses (credit_used_grosze).
-- Append-only like the ledger it explains.
CREATE TABLE invoice_allocations (
    ledger_entry_id  bigint NOT NULL REFERENCES ledger_entries (id),
    invoice_id       bigint NOT NULL REFERENCES invoices (id),
    amount_grosze    bigint NOT NULL CHECK (amount_grosze > 0),
    PRIMARY KEY (ledger_entry_id, invoice_id)
);
CREATE INDEX invoice_allocations_invoice ON invoice_allocations (invoice_id);

-- An invoice is never paid more than its amount due. The writers hold the customer's balance
-- row locked while they read what is open, so this sees every allocation of the invoice.
CREATE FUNCTION invoice_allocations_within_due() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    due        bigint;
    allocated  bigint;
BEGIN
    SELECT amount_due_grosze INTO due FROM invoices WHERE id = NEW.invoice_id;
    SELECT coalesce(sum(amount_grosze), 0) INTO allocated
      FROM invoice_allocations WHERE invoice_id = NEW.invoice_id;
    IF allocated + NEW.amount_grosze > due THEN
        RAISE EXCEPTION 'invoice % would be paid % of % grosze', NEW.invoice_id,
            allocated + NEW.amount_grosze, due
            USING ERRCODE = 'check_violation', CONSTRAINT = 'allocation_within_due';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER invoice_allocations_within_due BEFORE INSERT ON invoice_allocations
    FOR EACH ROW EXECUTE FUNCTION invoice_allocations_within_due();
CREATE TRIGGER invoice_allocations_append_only BEFORE UPDATE OR DELETE ON invoice_allocations
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER invoice_allocations_no_truncate BEFORE TRUNCATE ON invoice_allocations
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

CREATE TYPE payment_provider AS ENUM ('przelewy24', 'stripe', 'bank_transfer');
-- started: the resident was sent to the provider; booked: verified and in the ledger;
-- mismatch: the provider reported another amount or currency than ours (never booked, for
-- staff); failed: the provider reported it failed or it was abandoned.
CREATE TYPE payment_status AS ENUM ('started', 'booked', 'mismatch', 'failed');

CREATE TABLE payments (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id          bigint NOT NULL,
    customer_id         bigint NOT NULL,
    -- The account that started it (a resident; NULL when staff or the system did).
    account_id          bigint REFERENCES user_accounts (id),
    provider            payment_provider NOT NULL,
    -- Ours, given to the provider (Przelewy24's sessionId, Stripe's client_reference_id):
    -- random, so a notification cannot name someone else's payment by guessing.
    session_id          text NOT NULL UNIQUE CHECK (length(session_id) BETWEEN 16 AND 100),
    -- The invoice the resident chose to pay first (else the oldest open ones are paid).
    invoice_id          bigint,
    amount_grosze       bigint NOT NULL CHECK (amount_grosze > 0),
    currency            text NOT NULL DEFAULT 'PLN' CHECK (currency = 'PLN'),
    status              payment_status NOT NULL DEFAULT 'started',
    -- The provider's handle of the checkout (Przelewy24's token, Stripe's Checkout Session id).
    provider_token      text,
    -- The provider's reference of the money (Przelewy24's orderId, Stripe's PaymentIntent id).
    provider_reference  text,
    -- How it was paid, as the provider says (Przelewy24's methodId, Stripe's method type).
    method              text,
    -- Why it is a mismatch or failed, or what went wrong last (Polish, for staff).
    problem             text,
    ledger_entry_id     bigint UNIQUE REFERENCES ledger_entries (id),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    booked_at           timestamptz,
    FOREIGN KEY (utility_id, customer_id) REFERENCES customers (utility_id, id),
    FOREIGN KEY (utility_id, invoice_id) REFERENCES invoices (utility_id, id),
    CONSTRAINT booked_in_ledger CHECK ((status = 'booked') = (ledger_entry_id IS NOT NULL)),
    CONSTRAINT booked_when CHECK ((status = 'booked') = (booked_at IS NOT NULL))
);
CREATE UNIQUE INDEX payments_provider_reference ON payments (provider, provider_reference)
    WHERE provider_reference IS NOT NULL;
CREATE INDEX payments_customer ON payments (customer_id, created_at DESC);
CREATE INDEX payments_utility ON payments (utility_id, created_at DESC);
CREATE INDEX payments_to_check ON payments (utility_id, updated_at DESC) WHERE status = 'mismatch';
