-- Chasing what is owed (ebok_payments::dunning): reminders before and after the due date, and
-- the rates of statutory interest for late payment.

-- The yearly rates of statutory interest for delay, each in force from its day until the next
-- row's. consumer: art. 481 § 2 KC, the NBP reference rate + 5.5 pp, changing with the reference
-- rate; commercial: the act on payment terms in commercial transactions, reference rate + 10 pp,
-- fixed per half-year by the reference rate of 1 January and 1 July. An admin adds a row when a
-- rate changes (the notices in Monitor Polski); rows are never changed, since notes already
-- computed with them must stay reproducible.
CREATE TYPE interest_kind AS ENUM ('consumer', 'commercial');

CREATE TABLE statutory_interest_rates (
    kind           interest_kind NOT NULL,
    valid_from     date NOT NULL,
    -- Hundredths of a percent a year: 950 = 9.50 %.
    basis_points   integer NOT NULL CHECK (basis_points > 0 AND basis_points < 10000),
    source         text NOT NULL CHECK (btrim(source) <> ''),
    added_by       bigint REFERENCES user_accounts (id),
    added_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, valid_from)
);

CREATE FUNCTION statutory_interest_rates_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'interest rates are kept as they were: add a row from the new day'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'interest_rate_fixed';
END $$;
CREATE TRIGGER statutory_interest_rates_fixed BEFORE UPDATE OR DELETE ON statutory_interest_rates
    FOR EACH ROW EXECUTE FUNCTION statutory_interest_rates_fixed();

-- The rates since the reference rate of 5.75 % (5 October 2023), from the NBP's decisions on the
-- reference rate. Consumer: reference + 5.5 pp from the day of each change. Commercial:
-- reference of 1 January / 1 July + 10 pp for the half-year.
INSERT INTO statutory_interest_rates (kind, valid_from, basis_points, source) VALUES
    ('consumer', '2023-10-05', 1125, 'stopa referencyjna NBP 5,75% + 5,5 pp'),
    ('consumer', '2025-05-08', 1075, 'stopa referencyjna NBP 5,25% + 5,5 pp'),
    ('consumer', '2025-07-03', 1050, 'stopa referencyjna NBP 5,00% + 5,5 pp'),
    ('consumer', '2025-09-04', 1025, 'stopa referencyjna NBP 4,75% + 5,5 pp'),
    ('consumer', '2025-10-09', 1000, 'stopa referencyjna NBP 4,50% + 5,5 pp'),
    ('consumer', '2025-11-06', 975, 'stopa referencyjna NBP 4,25% + 5,5 pp'),
    ('consumer', '2025-12-04', 950, 'stopa referencyjna NBP 4,00% + 5,5 pp'),
    ('commercial', '2024-01-01', 1575, 'stopa referencyjna NBP 5,75% z 1 stycznia 2024 + 10 pp'),
    ('commercial', '2024-07-01', 1575, 'stopa referencyjna NBP 5,75% z 1 lipca 2024 + 10 pp'),
    ('commercial', '2025-01-01', 1575, 'stopa referencyjna NBP 5,75% z 1 stycznia 2025 + 10 pp'),
    ('commercial', '2025-07-01', 1525, 'stopa referencyjna NBP 5,25% z 1 lipca 2025 + 10 pp'),
    ('commercial', '2026-01-01', 1400, 'stopa referencyjna NBP 4,00% z 1 stycznia 2026 + 10 pp');

-- When each utility reminds: days after the due date of the first reminder (e-mail and push)
-- and of the demand for payment (e-mail and push, and a letter on paper that staff send from
-- the list of overdue customers).
ALTER TABLE utilities
    ADD COLUMN reminder_overdue_days smallint NOT NULL DEFAULT 3
        CHECK (reminder_overdue_days BETWEEN 1 AND 60),
    ADD COLUMN reminder_demand_days smallint NOT NULL DEFAULT 14
        CHECK (reminder_demand_days BETWEEN 2 AND 120),
    ADD CONSTRAINT demand_after_reminder CHECK (reminder_demand_days > reminder_overdue_days);

-- How many days before the due date a resident wants to be reminded; NULL: not at all. No row:
-- three days (the default the payments page shows).
CREATE TABLE payment_reminder_preferences (
    utility_id   bigint NOT NULL,
    account_id   bigint PRIMARY KEY,
    days_before  smallint CHECK (days_before BETWEEN 1 AND 14),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (utility_id, account_id) REFERENCES user_accounts (utility_id, id)
);

-- Each reminder sent, once: before the due date per account (each account's own day), after
-- it per invoice (to every account of the customer, by their channel preferences). The paper
-- demand is marked when staff print it.
CREATE TYPE reminder_stage AS ENUM ('before_due', 'overdue', 'demand', 'demand_on_paper');

CREATE TABLE payment_reminders (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id   bigint NOT NULL,
    invoice_id   bigint NOT NULL,
    stage        reminder_stage NOT NULL,
    -- The account reminded (before_due only).
    account_id   bigint,
    -- What was open when it was sent.
    open_grosze  bigint NOT NULL CHECK (open_grosze > 0),
    sent_at      timestamptz NOT NULL DEFAULT now(),
    sent_by      bigint REFERENCES user_accounts (id),
    FOREIGN KEY (utility_id, invoice_id) REFERENCES invoices (utility_id, id),
    CONSTRAINT account_only_before_due CHECK ((stage = 'before_due') = (account_id IS NOT NULL))
);
CREATE UNIQUE INDEX payment_reminders_once
    ON payment_reminders (invoice_id, stage, coalesce(account_id, 0));
CREATE INDEX payment_reminders_of_utility ON payment_reminders (utility_id, sent_at DESC);

-- Open invoices by due date, for the reminder job and the overdue list.
CREATE INDEX invoices_due ON invoices (utility_id, due_date);
-- The statement line of a payment (its value date is the payment's day, for interest).
CREATE INDEX bank_statement_lines_payment ON bank_statement_lines (payment_id)
    WHERE payment_id IS NOT NULL;
