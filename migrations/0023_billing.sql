-- Billing: tariffs, invoices with gap-free numbers and their documents, the meters' billed
-- registers (where the next invoice starts), billing runs, and the customers' append-only ledger.
-- Amounts are integer grosze; days are Europe/Warsaw calendar days.

-- A tariff of a tariff group from `valid_from` until the day before the next tariff of the group
-- starts (a tariff is superseded, never edited once in force: tariffs_frozen). Prices are net;
-- VAT is added on the invoice. The subscription fee is per supply point and month (the garden
-- one per garden sub-meter), pro rata by days for part of a month.
CREATE TABLE tariffs (
    id                           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id                   bigint NOT NULL REFERENCES utilities (id),
    tariff_group_id              bigint NOT NULL,
    valid_from                   date NOT NULL,
    water_price_grosze           integer NOT NULL CHECK (water_price_grosze >= 0),
    sewage_price_grosze          integer NOT NULL CHECK (sewage_price_grosze >= 0),
    subscription_grosze          integer NOT NULL CHECK (subscription_grosze >= 0),
    garden_subscription_grosze   integer NOT NULL CHECK (garden_subscription_grosze >= 0),
    -- Percent: 8 for water supply and sewage collection today.
    -- The rates in force in Poland (8 for water supply and sewage collection); KSeF's FA(3)
    -- has no other.
    vat_rate                     smallint NOT NULL CHECK (vat_rate IN (0, 5, 8, 23)),
    -- The resolution or decision that approved it ("Uchwała nr XII/85/2025").
    basis                        text,
    created_at                   timestamptz NOT NULL DEFAULT now(),
    created_by                   bigint,
    UNIQUE (tariff_group_id, valid_from),
    FOREIGN KEY (utility_id, tariff_group_id) REFERENCES tariff_groups (utility_id, id),
    FOREIGN KEY (utility_id, created_by) REFERENCES user_accounts (utility_id, id)
);

CREATE FUNCTION tariffs_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.valid_from <= (now() AT TIME ZONE 'Europe/Warsaw')::date
       OR (TG_OP = 'UPDATE' AND NEW.valid_from <= (now() AT TIME ZONE 'Europe/Warsaw')::date) THEN
        RAISE EXCEPTION 'tariff % is in force since %: supersede it with a new tariff', OLD.id, OLD.valid_from
            USING ERRCODE = 'check_violation', CONSTRAINT = 'tariff_in_force';
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER tariffs_frozen BEFORE UPDATE OR DELETE ON tariffs
    FOR EACH ROW EXECUTE FUNCTION tariffs_frozen();

-- How a utility bills.
ALTER TABLE utilities
    ADD COLUMN payment_term_days smallint NOT NULL DEFAULT 14 CHECK (payment_term_days BETWEEN 0 AND 90);

-- The last number given per utility, series and month of issue. A number is taken by updating
-- the row in the invoice's own transaction, so a rolled-back invoice gives its number back and
-- concurrent issuers queue on the row: numbers are gap-free.
CREATE TABLE invoice_counters (
    utility_id   bigint NOT NULL REFERENCES utilities (id),
    series       text NOT NULL CHECK (series ~ '^[A-Z]{1,8}$'),
    month        date NOT NULL CHECK (extract(day FROM month) = 1),
    last_number  integer NOT NULL CHECK (last_number >= 0),
    PRIMARY KEY (utility_id, series, month)
);

CREATE TYPE billing_run_state AS ENUM ('running', 'finished', 'failed');

-- A monthly billing run: its progress while it runs, its outcome after.
CREATE TABLE billing_runs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id       bigint NOT NULL REFERENCES utilities (id),
    -- First day of the billed month.
    period           date NOT NULL CHECK (extract(day FROM period) = 1),
    state            billing_run_state NOT NULL DEFAULT 'running',
    contracts_total  integer NOT NULL DEFAULT 0,
    contracts_done   integer NOT NULL DEFAULT 0,
    invoices_issued  integer NOT NULL DEFAULT 0,
    -- Contracts already billed for the period (by an earlier or a concurrent run).
    already_billed   integer NOT NULL DEFAULT 0,
    estimated        integer NOT NULL DEFAULT 0,
    error            text,
    -- Contracts left out, and why: [{"contract": "U/2024/0001", "reason": "…"}].
    problems         jsonb NOT NULL DEFAULT '[]',
    -- The staff account that started it; NULL from the command line.
    started_by       bigint,
    started_at       timestamptz NOT NULL DEFAULT now(),
    -- Progress is recorded after every batch: a running run not updated for minutes has died
    -- with its process (a new run of the month bills what it did not).
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    UNIQUE (utility_id, id),
    FOREIGN KEY (utility_id, started_by) REFERENCES user_accounts (utility_id, id)
);
CREATE INDEX billing_runs_utility ON billing_runs (utility_id, started_at DESC);

CREATE TYPE invoice_kind AS ENUM ('periodic', 'settlement', 'manual', 'correction');
CREATE TYPE invoice_delivery AS ENUM ('electronic', 'paper');

CREATE TABLE invoices (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- (The utility exists: the customer's foreign key below includes it.)
    utility_id          bigint NOT NULL,
    number              text NOT NULL,
    kind                invoice_kind NOT NULL,
    customer_id         bigint NOT NULL,
    contract_id         bigint,
    supply_point_id     bigint,
    -- The billed days, both inclusive (periodic invoices and settlements).
    period_from         date,
    period_to           date,
    issue_date          date NOT NULL,
    due_date            date NOT NULL,
    net_grosze          bigint NOT NULL,
    vat_grosze          bigint NOT NULL,
    gross_grosze        bigint NOT NULL,
    -- Overpayment used for this invoice, and what is left to pay.
    credit_used_grosze  bigint NOT NULL DEFAULT 0 CHECK (credit_used_grosze >= 0),
    amount_due_grosze   bigint NOT NULL CHECK (amount_due_grosze >= 0),
    corrects_id         bigint,
    billing_run_id      bigint,
    -- Whether the customer had the e-invoice consent at issue (else the invoice goes on paper).
    delivery            invoice_delivery NOT NULL,
    estimated           boolean NOT NULL DEFAULT false,
    -- The invoice as its documents show it (ebok_billing::document::InvoiceDocument), kept as
    -- written (json, not jsonb: it is read whole, never queried inside, and parsing it into
    -- jsonb was a tenth of a billing run's time).
    document            json NOT NULL,
    -- The FA(3) XML and its SHA-256, fixed at issue.
    ksef_xml            text NOT NULL,
    ksef_xml_sha256     bytea NOT NULL CHECK (length(ksef_xml_sha256) = 32),
    -- The PDF, rendered once (in a pass after the run or at the first download), then fixed.
    pdf                 bytea,
    pdf_sha256          bytea CHECK (length(pdf_sha256) = 32),
    issued_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (utility_id, number),
    UNIQUE (utility_id, id),
    FOREIGN KEY (utility_id, customer_id) REFERENCES customers (utility_id, id),
    FOREIGN KEY (utility_id, contract_id) REFERENCES contracts (utility_id, id),
    FOREIGN KEY (utility_id, supply_point_id) REFERENCES supply_points (utility_id, id),
    FOREIGN KEY (utility_id, corrects_id) REFERENCES invoices (utility_id, id),
    FOREIGN KEY (utility_id, billing_run_id) REFERENCES billing_runs (utility_id, id),
    CONSTRAINT gross_is_net_and_vat CHECK (gross_grosze = net_grosze + vat_grosze),
    CONSTRAINT due_after_issue CHECK (due_date >= issue_date),
    CONSTRAINT period_order CHECK (period_to >= period_from),
    CONSTRAINT periodic_has_contract_and_period CHECK (
        kind NOT IN ('periodic', 'settlement')
        OR (contract_id IS NOT NULL AND period_from IS NOT NULL AND period_to IS NOT NULL)),
    CONSTRAINT correction_corrects CHECK ((kind = 'correction') = (corrects_id IS NOT NULL)),
    CONSTRAINT pdf_with_hash CHECK ((pdf IS NULL) = (pdf_sha256 IS NULL)),
    -- A contract's day is billed once, however many runs and settlements there are.
    CONSTRAINT one_bill_per_day EXCLUDE USING gist (
        contract_id WITH =, daterange(period_from, period_to, '[]') WITH &&)
        WHERE (kind IN ('periodic', 'settlement'))
);
-- An invoice's document and XML (about 1.5 and 2 kB, half that compressed) stay in the row:
-- with the default target (2 kB) one of them went to the TOAST table for every invoice. lz4
-- compresses them several times faster than the default pglz.
ALTER TABLE invoices SET (toast_tuple_target = 4080);
ALTER TABLE invoices ALTER COLUMN document SET COMPRESSION lz4;
ALTER TABLE invoices ALTER COLUMN ksef_xml SET COMPRESSION lz4;
-- An invoice is corrected once (a second correction would correct the correction).
CREATE UNIQUE INDEX invoices_corrected_once ON invoices (corrects_id) WHERE corrects_id IS NOT NULL;
CREATE INDEX invoices_customer ON invoices (customer_id, issue_date DESC, id DESC);
CREATE INDEX invoices_run ON invoices (billing_run_id) WHERE billing_run_id IS NOT NULL;
CREATE INDEX invoices_contract ON invoices (contract_id, period_to DESC) WHERE contract_id IS NOT NULL;

-- An issued invoice never changes; its PDF is set once.
CREATE FUNCTION invoices_issued_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'invoice % is issued: correct it, do not delete it', OLD.number
            USING ERRCODE = 'check_violation', CONSTRAINT = 'invoice_issued';
    END IF;
    IF (to_jsonb(NEW) - 'pdf' - 'pdf_sha256') IS DISTINCT FROM (to_jsonb(OLD) - 'pdf' - 'pdf_sha256')
       OR (OLD.pdf IS NOT NULL AND (NEW.pdf IS DISTINCT FROM OLD.pdf
                                    OR NEW.pdf_sha256 IS DISTINCT FROM OLD.pdf_sha256)) THEN
        RAISE EXCEPTION 'invoice % is issued and cannot change', OLD.number
            USING ERRCODE = 'check_violation', CONSTRAINT = 'invoice_issued';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER invoices_issued_fixed BEFORE UPDATE OR DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION invoices_issued_fixed();

CREATE TABLE invoice_lines (
    invoice_id         bigint NOT NULL REFERENCES invoices (id),
    -- For a correction: the lines before it (true) and after it (false).
    before_correction  boolean NOT NULL DEFAULT false,
    line_no            smallint NOT NULL CHECK (line_no > 0),
    -- water, sewage, subscription, garden_subscription, service
    kind               text NOT NULL,
    name               text NOT NULL,
    unit               text NOT NULL,
    quantity_milli     bigint NOT NULL,
    unit_price_grosze  bigint NOT NULL,
    net_grosze         bigint NOT NULL,
    vat_rate           smallint NOT NULL,
    tariff_id          bigint REFERENCES tariffs (id),
    PRIMARY KEY (invoice_id, before_correction, line_no)
);

-- The register each invoice billed each meter to: the next invoice of the meter starts there.
-- An estimated end is replaced by the next real reading, which settles the estimate.
CREATE TABLE meter_billed_registers (
    meter_id     bigint NOT NULL REFERENCES meters (id),
    invoice_id   bigint NOT NULL REFERENCES invoices (id),
    at           timestamptz NOT NULL,
    litres       bigint NOT NULL CHECK (litres >= 0),
    -- How much of the register was estimated on top of the last real reading (0: all read).
    estimated_litres  bigint NOT NULL CHECK (estimated_litres >= 0),
    PRIMARY KEY (meter_id, at, invoice_id)
);

-- The ledger: what each customer was charged and paid, append-only. `seq` numbers a customer's
-- entries 1, 2, 3 … and `balance_after_grosze` is the sum of the amounts up to and including the
-- entry; both are set by ledger_append from customer_balances, never by the caller, and
-- customer_balances is written only by ledger_append. So a balance is always the sum of its
-- entries. Positive amounts are owed by the customer, negative ones paid or credited.
CREATE TYPE ledger_kind AS ENUM ('invoice', 'correction', 'payment', 'refund', 'adjustment');

CREATE TABLE customer_balances (
    customer_id     bigint PRIMARY KEY,
    utility_id      bigint NOT NULL,
    balance_grosze  bigint NOT NULL,
    entries         bigint NOT NULL CHECK (entries > 0),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (utility_id, customer_id) REFERENCES customers (utility_id, id)
);

CREATE TABLE ledger_entries (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id            bigint NOT NULL,
    customer_id           bigint NOT NULL,
    seq                   bigint NOT NULL,
    kind                  ledger_kind NOT NULL,
    amount_grosze         bigint NOT NULL CHECK (amount_grosze <> 0),
    balance_after_grosze  bigint NOT NULL,
    invoice_id            bigint,
    -- The payment provider's or bank's reference: a payment is booked once.
    reference             text,
    description           text NOT NULL,
    booked_at             timestamptz NOT NULL DEFAULT now(),
    booked_by             bigint,
    UNIQUE (customer_id, seq),
    FOREIGN KEY (utility_id, customer_id) REFERENCES customers (utility_id, id),
    FOREIGN KEY (utility_id, invoice_id) REFERENCES invoices (utility_id, id)
);
CREATE UNIQUE INDEX ledger_invoice_once ON ledger_entries (invoice_id) WHERE kind IN ('invoice', 'correction');
CREATE UNIQUE INDEX ledger_reference_once ON ledger_entries (utility_id, kind, reference) WHERE reference IS NOT NULL;

CREATE FUNCTION ledger_append() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
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
CREATE TRIGGER ledger_append BEFORE INSERT ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append();

CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: book a correcting entry instead'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_append_only';
END $$;
CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

-- Balances move only with the ledger (from inside ledger_append).
CREATE FUNCTION customer_balances_by_ledger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'a balance changes only by a ledger entry'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'balance_by_ledger';
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER customer_balances_by_ledger BEFORE INSERT OR UPDATE OR DELETE ON customer_balances
    FOR EACH ROW EXECUTE FUNCTION customer_balances_by_ledger();
CREATE TRIGGER customer_balances_no_truncate BEFORE TRUNCATE ON customer_balances
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
