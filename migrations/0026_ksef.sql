-- Invoices sent to the national e-invoice system, KSeF 2.0 (the ebok-ksef crate).

-- Which of a utility's invoices go to KSeF: none (until the utility is ready), only those of
-- buyers with a NIP (businesses; a consumer's invoice may stay outside KSeF), or all; and which
-- KSeF environment they go to, which also decides the host of the verification link (KOD I)
-- printed on the invoice. The credentials are configuration (`[ksef.<slug>]`), not data.
CREATE TYPE ksef_scope AS ENUM ('off', 'with_nip', 'all');
CREATE TYPE ksef_environment AS ENUM ('test', 'demo', 'production');
ALTER TABLE utilities
    ADD COLUMN ksef_scope ksef_scope NOT NULL DEFAULT 'off',
    ADD COLUMN ksef_environment ksef_environment NOT NULL DEFAULT 'test';

-- One row per invoice to send, written when the invoice is issued (in its transaction) if the
-- utility's scope takes it: queued → sent (in an online session, waiting for KSeF's verdict)
-- → accepted (with its KSeF number and UPO) or rejected (KSeF refused it: staff see why). A
-- failure to reach KSeF keeps the row queued with a later next_attempt_at.
CREATE TYPE ksef_state AS ENUM ('queued', 'sent', 'accepted', 'rejected');

CREATE TABLE ksef_invoices (
    invoice_id          bigint PRIMARY KEY,
    utility_id          bigint NOT NULL,
    state               ksef_state NOT NULL DEFAULT 'queued',
    -- KSeF's references of the online session and of the invoice in it.
    session_reference   text,
    invoice_reference   text,
    ksef_number         text UNIQUE,
    -- When KSeF took the invoice (its acquisitionDate), and the UPO (official receipt, XML).
    acquired_at         timestamptz,
    upo                 text,
    -- KSeF's last word on the invoice (status code, description, details), for staff.
    status_code         integer,
    status_description  text,
    attempts            integer NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    last_error          text,
    queued_at           timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (utility_id, invoice_id) REFERENCES invoices (utility_id, id),
    CONSTRAINT accepted_has_number CHECK ((state = 'accepted') = (ksef_number IS NOT NULL)),
    CONSTRAINT sent_has_references CHECK (
        state NOT IN ('sent', 'accepted') OR (session_reference IS NOT NULL
                                              AND invoice_reference IS NOT NULL))
);
CREATE INDEX ksef_invoices_to_send ON ksef_invoices (utility_id, next_attempt_at)
    WHERE state IN ('queued', 'sent');
CREATE INDEX ksef_invoices_rejected ON ksef_invoices (utility_id, updated_at DESC)
    WHERE state = 'rejected';
