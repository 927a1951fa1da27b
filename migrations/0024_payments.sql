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

-- Virtual accounts for bank transfers (ebok_billing::transfer): the sort code (bank and branch)
-- the utility's bank gave it and its client prefix; each customer's account is the prefix and
-- the customer's id. Without them invoices show the utility's own account.
ALTER TABLE utilities
    ADD COLUMN virtual_account_sort_code text CHECK (virtual_account_sort_code ~ '^[0-9]{8}$'),
    ADD COLUMN virtual_account_prefix text NOT NULL DEFAULT ''
        CHECK (virtual_account_prefix ~ '^[0-9]{0,6}$');

-- A ledger entry with a reference (a payment) is booked once, whatever the insert looks like.
-- ledger_append moves the customer's balance before the row is stored, so a plain unique index
-- is not enough: `INSERT … ON CONFLICT DO NOTHING` runs BEFORE triggers first and would move
-- the balance for a row it then skips (a replayed payment notification did exactly that in
-- `ebok bench payments`). So an entry with a reference first locks the customer's balance row
-- (made empty if it is their first entry), which waits for any other booking of the customer to
-- end, and is then skipped (the trigger returns NULL, nothing changes) when the reference is
-- booked already. A reference belongs to one customer's payment; should two customers' entries
-- ever carry the same reference at once, the unique index refuses the second (callers insert
-- without ON CONFLICT, so that refusal rolls back whatever it moved). No lock per reference is
-- held: a statement import books tens of thousands of references in one transaction.
-- Entries without a reference (invoices, corrections) take the plain path.
ALTER TABLE customer_balances DROP CONSTRAINT customer_balances_entries_check;
ALTER TABLE customer_balances ADD CONSTRAINT customer_balances_entries_check CHECK (entries >= 0);
CREATE OR REPLACE FUNCTION ledger_append() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.reference IS NOT NULL THEN
        INSERT INTO customer_balances (customer_id, utility_id, balance_grosze, entries)
        VALUES (NEW.customer_id, NEW.utility_id, 0, 0)
        ON CONFLICT (customer_id) DO NOTHING;
        PERFORM 1 FROM customer_balances WHERE customer_id = NEW.customer_id FOR UPDATE;
        IF EXISTS (SELECT 1 FROM ledger_entries
                   WHERE utility_id = NEW.utility_id AND kind = NEW.kind
                     AND reference = NEW.reference) THEN
            RETURN NULL;
        END IF;
    END IF;
    INSERT INTO customer_balances AS b (customer_id, utility_id, balance_grosze, entries)
    VALUES (NEW.customer_id, NEW.utility_id, NEW.amount_grosze, 1)
    ON CONFLICT (customer_id) DO UPDATE
        SET balance_grosze = b.balance_grosze + excluded.balance_grosze,
            entries = b.entries + 1,
            updated_at = now()
    RETURNING b.balance_grosze, b.entries INTO NEW.balance_after_grosze, NEW.seq;
    -- After the balance row's lock: entries of a customer are in booking order by time too.
    NEW.booked_at := clock_timestamp();
    RETURN NEW;
END $$;

-- Bank statements staff import (MT940), and each line: matched to a customer (by the virtual
-- account, else an invoice number in the title) and booked as a payment, or left for staff to
-- assign, or money going out (not ours to book). A line is known by its key (a hash of what
-- the bank says of it and its place among identical lines), so importing a statement again,
-- or another one that overlaps it, adds and books nothing twice.
CREATE TABLE bank_statements (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id   bigint NOT NULL REFERENCES utilities (id),
    account      text NOT NULL,
    number       text NOT NULL,
    format       text NOT NULL,
    file_sha256  bytea NOT NULL CHECK (length(file_sha256) = 32),
    lines_total  integer NOT NULL,
    lines_new    integer NOT NULL,
    imported_by  bigint REFERENCES user_accounts (id),
    imported_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (utility_id, id)
);

CREATE TYPE statement_line_status AS ENUM ('booked', 'unmatched', 'outgoing');

CREATE TABLE bank_statement_lines (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id      bigint NOT NULL,
    statement_id    bigint NOT NULL,
    line_key        text NOT NULL,
    value_date      date NOT NULL,
    credit          boolean NOT NULL,
    amount_grosze   bigint NOT NULL CHECK (amount_grosze > 0),
    title           text NOT NULL,
    counterparty    text NOT NULL,
    counterparty_account text,
    status          statement_line_status NOT NULL,
    -- How it was matched: virtual_account, invoice_number, or by_hand.
    matched_by      text,
    customer_id     bigint,
    payment_id      bigint REFERENCES payments (id),
    UNIQUE (utility_id, line_key),
    FOREIGN KEY (utility_id, statement_id) REFERENCES bank_statements (utility_id, id),
    FOREIGN KEY (utility_id, customer_id) REFERENCES customers (utility_id, id),
    CONSTRAINT booked_has_payment CHECK ((status = 'booked') = (payment_id IS NOT NULL))
);
CREATE INDEX bank_statement_lines_unmatched ON bank_statement_lines (utility_id, value_date)
    WHERE status = 'unmatched';
