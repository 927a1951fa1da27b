-- Cases, continued (the ebok-cases crate): the letters a utility issues from its own templates,
-- signatures under offered contracts, the contract a case concluded, staff's internal notes,
-- overdue alerts, and the resident's feedback once a case is over.

-- A utility's wording of the letters a case produces; without a row, the built-in wording
-- (ebok_cases::letters) is used. Placeholders like {numer_sprawy} are checked before saving.
CREATE TABLE case_templates (
    utility_id  bigint NOT NULL REFERENCES utilities (id),
    kind        text NOT NULL CHECK (kind IN ('acknowledgement', 'approval', 'refusal', 'contract')),
    title       text NOT NULL CHECK (btrim(title) <> '' AND length(title) <= 200),
    body        text NOT NULL CHECK (btrim(body) <> '' AND length(body) <= 20000),
    updated_by  bigint NOT NULL REFERENCES user_accounts (id),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (utility_id, kind)
);

-- The letter a step produced (acknowledgement on submission, decision, contract offered) is
-- the step's case_events.document_id; this names its kind for lists and the public check.
ALTER TABLE case_events
    ADD COLUMN document_kind text CHECK (document_kind IN ('acknowledgement', 'decision', 'contract')),
    ADD CONSTRAINT document_has_kind CHECK ((document_id IS NULL) = (document_kind IS NULL));
CREATE INDEX case_events_document ON case_events (document_id) WHERE document_id IS NOT NULL;

-- Signatures under documents: who (the authenticated account), how (`method`: the built-in
-- password confirmation, or a plugged-in trust service), when, and the SHA-256 of the exact
-- bytes signed; `evidence` is what the method keeps (never a password). Append-only.
CREATE TABLE signatures (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id   bigint NOT NULL,
    case_id      bigint NOT NULL,
    document_id  bigint NOT NULL,
    sha256       bytea NOT NULL CHECK (length(sha256) = 32),
    account_id   bigint NOT NULL,
    method       text NOT NULL CHECK (method ~ '^[a-z][a-z0-9_]{0,39}$'),
    evidence     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(evidence) = 'object'),
    signed_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (utility_id, case_id) REFERENCES cases (utility_id, id),
    FOREIGN KEY (utility_id, document_id) REFERENCES documents (utility_id, id),
    FOREIGN KEY (utility_id, account_id) REFERENCES user_accounts (utility_id, id),
    UNIQUE (document_id, account_id)
);
CREATE INDEX signatures_case ON signatures (case_id);
CREATE FUNCTION signatures_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a signature is never changed or removed'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'signatures_append_only';
END $$;
CREATE TRIGGER signatures_append_only BEFORE UPDATE OR DELETE ON signatures
    FOR EACH ROW EXECUTE FUNCTION signatures_append_only();

-- The billing contract a supply-contract case concluded, when the overdue alert went out, and
-- when the clerk who prepared a draft in the resident's name handed it over (from then on only
-- the resident changes it).
ALTER TABLE cases
    ADD COLUMN contract_id bigint,
    ADD COLUMN overdue_alerted_on date,
    ADD COLUMN handed_over_at timestamptz,
    ADD CONSTRAINT cases_contract FOREIGN KEY (utility_id, contract_id)
        REFERENCES contracts (utility_id, id),
    ADD CONSTRAINT concluded_with_contract
        CHECK (state NOT IN ('concluded') OR contract_id IS NOT NULL);

-- Staff's internal notes on a case: never shown to the resident. Append-only.
CREATE TABLE case_notes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id    bigint NOT NULL REFERENCES cases (id),
    author_id  bigint NOT NULL REFERENCES user_accounts (id),
    at         timestamptz NOT NULL DEFAULT now(),
    body       text NOT NULL CHECK (btrim(body) <> '' AND length(body) <= 4000)
);
CREATE INDEX case_notes_case ON case_notes (case_id, id);
CREATE TRIGGER case_notes_append_only BEFORE UPDATE OR DELETE ON case_notes
    FOR EACH ROW EXECUTE FUNCTION case_events_append_only();

-- The resident's satisfaction once a case is over (1–5 and a comment), once per case.
CREATE TABLE case_feedback (
    case_id     bigint PRIMARY KEY REFERENCES cases (id),
    account_id  bigint NOT NULL REFERENCES user_accounts (id),
    rating      smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment     text CHECK (comment IS NULL OR (btrim(comment) <> '' AND length(comment) <= 2000)),
    given_at    timestamptz NOT NULL DEFAULT now()
);
