-- Cases (the ebok-cases crate): the application types a utility offers, each with its form;
-- residents' applications from draft to closed; their attachments and the utility's documents,
-- each stored once with its hash; and every step of a case, append-only.

-- Documents: attachments, acknowledgements, decisions, contracts. One row per utility and
-- content (its SHA-256), so a file uploaded twice is stored once, and anyone holding a
-- document can check it against the hash. `content` is here unless `storage` says the bytes
-- are elsewhere (a directory or an S3-compatible store, by the hash).
CREATE TABLE documents (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id    bigint NOT NULL REFERENCES utilities (id),
    sha256        bytea NOT NULL CHECK (length(sha256) = 32),
    content_type  text NOT NULL,
    bytes         bigint NOT NULL CHECK (bytes > 0),
    storage       text NOT NULL DEFAULT 'postgres' CHECK (storage IN ('postgres', 'directory', 's3')),
    content       bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (utility_id, sha256),
    UNIQUE (utility_id, id),
    CONSTRAINT content_where_stored CHECK ((storage = 'postgres') = (content IS NOT NULL)),
    CONSTRAINT content_is_its_size CHECK (content IS NULL OR octet_length(content) = bytes)
);

-- A document never changes: a new version is a new document.
CREATE FUNCTION documents_unchanged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a stored document never changes: store a new one'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'documents_unchanged';
END $$;
CREATE TRIGGER documents_unchanged BEFORE UPDATE ON documents
    FOR EACH ROW EXECUTE FUNCTION documents_unchanged();

-- What a utility offers residents to apply for. Copied from ebok_cases::builtin when the
-- utility first lists them; its admin edits the copy (the form is checked by
-- FormDefinition::check before it is stored) and may withdraw a type (active = false).
CREATE TABLE application_types (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id   bigint NOT NULL REFERENCES utilities (id),
    code         text NOT NULL CHECK (code ~ '^[a-z][a-z0-9_]{0,39}$'),
    prefix       text NOT NULL CHECK (prefix ~ '^[A-Z]{2,6}$'),
    name         text NOT NULL CHECK (btrim(name) <> ''),
    description  text NOT NULL,
    -- An approved case goes on to a supply contract.
    contract     boolean NOT NULL DEFAULT false,
    form         jsonb NOT NULL,
    active       boolean NOT NULL DEFAULT true,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    updated_by   bigint REFERENCES user_accounts (id),
    UNIQUE (utility_id, code),
    UNIQUE (utility_id, prefix),
    UNIQUE (utility_id, id)
);

CREATE TYPE case_state AS ENUM (
    'draft', 'registered', 'assigned', 'awaiting_supplement', 'approved', 'refused',
    'appealed', 'contract_offered', 'contract_signed', 'concluded', 'closed', 'withdrawn');

-- The last number given per utility, prefix and year (WTP/2026/000123), taken in the
-- submitting transaction (the row lock orders two submissions of one prefix).
CREATE TABLE case_counters (
    utility_id  bigint NOT NULL REFERENCES utilities (id),
    prefix      text NOT NULL,
    year        integer NOT NULL,
    last        integer NOT NULL CHECK (last > 0),
    PRIMARY KEY (utility_id, prefix, year)
);

-- A resident's application: a draft until submitted (no number), then a case.
CREATE TABLE cases (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id        bigint NOT NULL,
    type_id           bigint NOT NULL,
    number            text,
    state             case_state NOT NULL DEFAULT 'draft',
    -- The resident whose case it is (who submits, supplements, signs).
    account_id        bigint NOT NULL,
    -- The customer it concerns, when the resident applies as one.
    customer_id       bigint,
    -- A clerk who filled the draft in the resident's name (seed 000): it is submitted only by
    -- the resident.
    prepared_by       bigint REFERENCES user_accounts (id),
    -- The answers: as typed while a draft, checked and canonical once submitted.
    answers           jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(answers) = 'object'),
    -- The form it was submitted against: the type may be edited later.
    form              jsonb,
    -- What the status page asks for with the number (from the answers or the customer).
    applicant_pesel   text CHECK (applicant_pesel ~ '^[0-9]{11}$'),
    applicant_nip     text CHECK (applicant_nip ~ '^[0-9]{10}$'),
    assigned_to       bigint REFERENCES user_accounts (id),
    submitted_at      timestamptz,
    -- The deadline's clock (ebok_cases::deadline): the day complete, the days waited for
    -- supplements, since when it waits now, and the one extension.
    complete_on       date,
    paused_days       integer NOT NULL DEFAULT 0 CHECK (paused_days >= 0),
    awaiting_since    date,
    extended          boolean NOT NULL DEFAULT false,
    decided_on        date,
    appealed          boolean NOT NULL DEFAULT false,
    state_changed_at  timestamptz NOT NULL DEFAULT now(),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (utility_id, number),
    UNIQUE (utility_id, id),
    FOREIGN KEY (utility_id, type_id) REFERENCES application_types (utility_id, id),
    FOREIGN KEY (utility_id, account_id) REFERENCES user_accounts (utility_id, id),
    FOREIGN KEY (utility_id, customer_id) REFERENCES customers (utility_id, id),
    CONSTRAINT numbered_once_submitted CHECK ((state = 'draft') = (number IS NULL)),
    CONSTRAINT submitted_when CHECK ((state = 'draft') = (submitted_at IS NULL)),
    CONSTRAINT clock_once_submitted CHECK ((state = 'draft') OR complete_on IS NOT NULL)
);
CREATE INDEX cases_account ON cases (account_id, updated_at DESC);
CREATE INDEX cases_open ON cases (utility_id, state, complete_on)
    WHERE state NOT IN ('draft', 'closed', 'withdrawn');
CREATE INDEX cases_assigned ON cases (assigned_to, state) WHERE assigned_to IS NOT NULL;

-- The files attached to a case (to its draft, or later as a supplement), by the form's rule.
CREATE TABLE case_attachments (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id      bigint NOT NULL REFERENCES cases (id),
    rule         text NOT NULL,
    document_id  bigint NOT NULL REFERENCES documents (id),
    file_name    text NOT NULL CHECK (btrim(file_name) <> '' AND length(file_name) <= 255),
    added_by     bigint NOT NULL REFERENCES user_accounts (id),
    added_at     timestamptz NOT NULL DEFAULT now(),
    -- Added in answer to a request for a supplement.
    supplement   boolean NOT NULL DEFAULT false,
    UNIQUE (case_id, rule, document_id)
);

-- Every step of a case, append-only: what was done, by whom, from which state to which, why
-- (a supplement's reason, a refusal's, an extension's), and the document it produced.
CREATE TABLE case_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id      bigint NOT NULL REFERENCES cases (id),
    at           timestamptz NOT NULL DEFAULT now(),
    action       text NOT NULL CHECK (action ~ '^case\.[a-z_]+$'),
    from_state   case_state NOT NULL,
    to_state     case_state NOT NULL,
    actor_id     bigint NOT NULL REFERENCES user_accounts (id),
    note         text,
    document_id  bigint REFERENCES documents (id)
);
CREATE INDEX case_events_case ON case_events (case_id, id);
CREATE FUNCTION case_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a case''s history is append-only'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'case_events_append_only';
END $$;
CREATE TRIGGER case_events_append_only BEFORE UPDATE OR DELETE ON case_events
    FOR EACH ROW EXECUTE FUNCTION case_events_append_only();
