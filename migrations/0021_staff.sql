-- The back office. Staff sign in with a password and a second factor: a TOTP authenticator app
-- (RFC 6238) or, when the phone is lost, one of ten single-use recovery codes. Between the two
-- steps a half-done sign-in lives a few minutes.

-- A staff member's authenticator. The secret is shown once, as a QR code, at enrolment; it is
-- only in effect once a code made from it was typed back (confirmed_at). last_step is the newest
-- 30-second step a code was accepted for: a code is never accepted twice (RFC 6238, 5.2).
-- The secret is stored as it is: whoever reads the database already has every customer's data;
-- the second factor guards against a guessed or phished password, not a stolen database.
CREATE TABLE staff_authenticators (
    account_id    bigint PRIMARY KEY,
    utility_id    bigint NOT NULL,
    secret        bytea NOT NULL CHECK (length(secret) >= 20),
    created_at    timestamptz NOT NULL DEFAULT now(),
    confirmed_at  timestamptz,
    last_step     bigint,
    FOREIGN KEY (utility_id, account_id) REFERENCES user_accounts (utility_id, id)
);

-- Recovery codes: hashed (SHA-256 of the normalised code), each used at most once; a new set
-- replaces the old one.
CREATE TABLE staff_recovery_codes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id  bigint NOT NULL,
    account_id  bigint NOT NULL,
    code_hash   bytea NOT NULL CHECK (length(code_hash) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    used_at     timestamptz,
    FOREIGN KEY (utility_id, account_id) REFERENCES user_accounts (utility_id, id),
    UNIQUE (account_id, code_hash)
);

-- A sign-in whose password was right and whose second factor is awaited: the browser holds a
-- random token (its hash is here) for a few minutes; a few wrong codes end it.
CREATE TABLE staff_sign_ins (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id  bigint NOT NULL,
    account_id  bigint NOT NULL,
    token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    failures    integer NOT NULL DEFAULT 0,
    finished_at timestamptz,
    FOREIGN KEY (utility_id, account_id) REFERENCES user_accounts (utility_id, id)
);
CREATE INDEX staff_sign_ins_of_account ON staff_sign_ins (account_id);

-- The audit view of admins filters by staff member, customer, action and period.
CREATE INDEX audit_log_utility_at ON audit_log (utility_id, at);

-- Staff find customers by what the person at the counter says: the start of a name or of an
-- address, a customer number, PESEL or NIP, a meter's serial or radio id. Prefixes are
-- compared byte-wise (text_pattern_ops, the range operators ~>=~ and ~<~), which an index
-- serves even in a prepared statement's generic plan, where LIKE $1 || '%' is not.
CREATE INDEX customers_name_prefix ON customers (utility_id, lower(name) text_pattern_ops);
CREATE INDEX customers_last_name_prefix
    ON customers (utility_id, lower(last_name) text_pattern_ops) WHERE last_name IS NOT NULL;
CREATE INDEX customers_nip ON customers (utility_id, nip) WHERE nip IS NOT NULL;
CREATE INDEX supply_points_address_prefix
    ON supply_points (utility_id, lower(coalesce(street, city) || ' ' || building_no) text_pattern_ops);
CREATE INDEX contracts_supply_point ON contracts (supply_point_id, valid_from);
