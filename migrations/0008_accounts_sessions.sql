-- Resident accounts at work: e-mailed one-time links (activation, password reset, change of
-- e-mail), sessions of the web portal and of the mobile app, throttling of guessable secrets
-- (passwords, customer link codes), the codes printed on paper invoices that prove a customer
-- number, installation-wide secrets, and which meters an account may see.

-- One-time links sent by e-mail. Only the SHA-256 of the token is stored: a copy of the database
-- does not let anyone activate, reset or take over an account.
CREATE TYPE account_token_purpose AS ENUM ('activation', 'password_reset', 'email_change');

CREATE TABLE account_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id   bigint NOT NULL,
    account_id   bigint NOT NULL,
    purpose      account_token_purpose NOT NULL,
    token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    -- The address being confirmed (email_change only).
    new_email    text CHECK (new_email ~ '^[^@\s]+@[^@\s]+$'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    FOREIGN KEY (utility_id, account_id) REFERENCES user_accounts (utility_id, id),
    CONSTRAINT new_email_only_for_change CHECK ((purpose = 'email_change') = (new_email IS NOT NULL))
);
CREATE INDEX account_tokens_of_account ON account_tokens (account_id, purpose) WHERE used_at IS NULL;

-- A login: a web session (cookie) or a mobile app session (refresh token). The token itself is
-- never stored, only its SHA-256. App sessions rotate their refresh token on every use; the one
-- it replaced is kept, and presenting it again (a stolen, replayed token) revokes the session.
CREATE TYPE session_kind AS ENUM ('web', 'app');

CREATE TABLE sessions (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id           bigint NOT NULL,
    account_id           bigint NOT NULL,
    kind                 session_kind NOT NULL,
    token_hash           bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    previous_token_hash  bytea UNIQUE CHECK (length(previous_token_hash) = 32),
    -- Web sessions: the synchroniser token every form must echo.
    csrf_token           text,
    -- What the resident sees in "where am I logged in".
    client               text CHECK (length(client) <= 200),
    created_at           timestamptz NOT NULL DEFAULT now(),
    last_used_at         timestamptz NOT NULL DEFAULT now(),
    expires_at           timestamptz NOT NULL,
    revoked_at           timestamptz,
    revoked_reason       text,
    FOREIGN KEY (utility_id, account_id) REFERENCES user_accounts (utility_id, id),
    CONSTRAINT web_sessions_have_csrf CHECK ((kind = 'web') = (csrf_token IS NOT NULL)),
    CONSTRAINT revocation_has_reason CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
);
CREATE INDEX sessions_of_account ON sessions (account_id) WHERE revoked_at IS NULL;

-- Attempts at guessable secrets, for throttling: failed logins per account and per client
-- address, failed customer link codes per account. Old rows are pruned by maintenance.
CREATE TABLE security_attempts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- 'login.account', 'login.address', 'link.account', …
    scope       text NOT NULL CHECK (scope ~ '^[a-z_]+\.[a-z_]+$'),
    -- The account (utility id and lower-cased e-mail), the address, …
    key         text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    succeeded   boolean NOT NULL
);
CREATE INDEX security_attempts_recent ON security_attempts (scope, key, at);

-- Codes printed on paper invoices and letters: a resident who types one (with the customer
-- number) proves they hold the customer's post. Stored hashed; single use; the utility issues
-- a new one with the next letter.
CREATE TABLE customer_link_codes (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id   bigint NOT NULL,
    customer_id  bigint NOT NULL,
    code_hash    bytea NOT NULL CHECK (length(code_hash) = 32),
    issued_at    timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    used_by      bigint REFERENCES user_accounts (id),
    FOREIGN KEY (utility_id, customer_id) REFERENCES customers (utility_id, id),
    UNIQUE (utility_id, code_hash)
);
CREATE INDEX customer_link_codes_of_customer ON customer_link_codes (customer_id);

-- Secrets the whole installation shares (e.g. the key that signs the mobile app's access
-- tokens): created once by the first process that needs them, read by all.
CREATE TABLE installation_secrets (
    name        text PRIMARY KEY CHECK (name ~ '^[a-z_]+$'),
    secret      bytea NOT NULL CHECK (length(secret) >= 32),
    created_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE user_accounts ADD COLUMN password_changed_at timestamptz;

-- The meters an account may see: every meter that stood at a supply point while a contract of a
-- customer linked to the account was in force there (signed contracts only). A tenant who moved
-- in sees the meters of their contract, not the previous tenant's customer data; a meter replaced
-- during the contract appears with its successor. Several rows for one (account, meter) are
-- possible (two contracts in a row); use EXISTS or DISTINCT.
CREATE VIEW account_meters AS
SELECT ac.utility_id, ac.account_id, m.id AS meter_id, c.customer_id, c.id AS contract_id,
       c.supply_point_id, c.valid_from, c.valid_until
FROM account_customers ac
JOIN contracts c ON c.utility_id = ac.utility_id AND c.customer_id = ac.customer_id
                AND c.status <> 'draft'
JOIN meters m ON m.utility_id = c.utility_id AND m.supply_point_id = c.supply_point_id
WHERE tstzrange(m.installed_at, m.removed_at)
      && tstzrange(c.valid_from::timestamp AT TIME ZONE 'Europe/Warsaw',
                   (c.valid_until + 1)::timestamp AT TIME ZONE 'Europe/Warsaw');
