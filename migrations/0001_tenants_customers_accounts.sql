-- Tenants (utilities), their customers, and user accounts (residents and staff).
--
-- Every tenant-owned table carries utility_id and is referenced through (utility_id, id), so a row
-- of one utility can never point at a row of another: the database refuses it, not only the code.

-- btree_gist lets exclusion constraints mix equality on ids with overlap of time ranges
-- (one active contract per supply point, one installed meter per position). Trusted since PG 13.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE utilities (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- URL-safe key a resident picks first: /u/mlynary/…
    slug          text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    -- The municipality as residents know it ("Gmina Młynary"), shown in the picker.
    municipality  text NOT NULL CHECK (btrim(municipality) <> ''),
    -- The utility's legal name, printed on invoices and decisions.
    name          text NOT NULL CHECK (btrim(name) <> ''),
    nip           text CHECK (nip ~ '^[0-9]{10}$'),
    regon         text CHECK (regon ~ '^([0-9]{9}|[0-9]{14})$'),
    street        text,
    building_no   text,
    postal_code   text CHECK (postal_code ~ '^[0-9]{2}-[0-9]{3}$'),
    city          text,
    email         text,
    phone         text,
    website       text,
    -- NRB (26 digits) for transfers; virtual per-customer accounts come with billing.
    bank_account  text CHECK (bank_account ~ '^[0-9]{26}$'),
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TYPE customer_kind AS ENUM ('person', 'company', 'housing_community', 'public_institution');

CREATE TABLE customers (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id       bigint NOT NULL REFERENCES utilities (id),
    -- The number printed on invoices and used at the counter.
    customer_number  text NOT NULL CHECK (btrim(customer_number) <> ''),
    kind             customer_kind NOT NULL,
    first_name       text,
    last_name        text,
    -- Legal or display name: "Jan Kowalski", "Wspólnota Mieszkaniowa Dworcowa 5".
    name             text NOT NULL CHECK (btrim(name) <> ''),
    pesel            text CHECK (pesel ~ '^[0-9]{11}$'),
    nip              text CHECK (nip ~ '^[0-9]{10}$'),
    regon            text CHECK (regon ~ '^([0-9]{9}|[0-9]{14})$'),
    krs              text CHECK (krs ~ '^[0-9]{10}$'),
    -- Correspondence address.
    street           text,
    building_no      text,
    apartment_no     text,
    postal_code      text CHECK (postal_code ~ '^[0-9]{2}-[0-9]{3}$'),
    city             text NOT NULL,
    email            text,
    phone            text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (utility_id, customer_number),
    UNIQUE (utility_id, id),
    CONSTRAINT person_has_names
        CHECK (kind <> 'person' OR (first_name IS NOT NULL AND last_name IS NOT NULL)),
    CONSTRAINT organisation_has_nip CHECK (kind = 'person' OR nip IS NOT NULL),
    CONSTRAINT only_people_have_pesel CHECK (kind = 'person' OR pesel IS NULL)
);
CREATE UNIQUE INDEX customers_pesel_key ON customers (utility_id, pesel) WHERE pesel IS NOT NULL;
CREATE UNIQUE INDEX customers_organisation_nip_key ON customers (utility_id, nip)
    WHERE nip IS NOT NULL AND kind <> 'person';

CREATE TYPE account_role AS ENUM ('resident', 'clerk', 'billing', 'technician', 'admin');
CREATE TYPE account_status AS ENUM ('pending_activation', 'active', 'locked', 'disabled');

-- A login. Residents reach customers through account_customers; staff act within their utility.
CREATE TABLE user_accounts (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id     bigint NOT NULL REFERENCES utilities (id),
    email          text NOT NULL CHECK (email ~ '^[^@\s]+@[^@\s]+$'),
    -- PHC string (argon2id); NULL until the account holder sets a password.
    password_hash  text CHECK (password_hash LIKE '$argon2id$%'),
    role           account_role NOT NULL,
    status         account_status NOT NULL DEFAULT 'pending_activation',
    display_name   text NOT NULL CHECK (btrim(display_name) <> ''),
    created_at     timestamptz NOT NULL DEFAULT now(),
    activated_at   timestamptz,
    last_login_at  timestamptz,
    UNIQUE (utility_id, id),
    CONSTRAINT active_account_was_activated CHECK (status <> 'active' OR activated_at IS NOT NULL)
);
-- One account per address and utility; the same person may hold accounts in two municipalities.
CREATE UNIQUE INDEX user_accounts_email_key ON user_accounts (utility_id, lower(email));

CREATE TYPE customer_link_proof AS ENUM ('activation_code', 'last_invoice', 'staff');

-- Which customers a resident account may see and act for (a household may share one customer,
-- a landlord or a community manager may hold several).
CREATE TABLE account_customers (
    utility_id   bigint NOT NULL,
    account_id   bigint NOT NULL,
    customer_id  bigint NOT NULL,
    linked_at    timestamptz NOT NULL DEFAULT now(),
    linked_via   customer_link_proof NOT NULL,
    PRIMARY KEY (account_id, customer_id),
    FOREIGN KEY (utility_id, account_id) REFERENCES user_accounts (utility_id, id),
    FOREIGN KEY (utility_id, customer_id) REFERENCES customers (utility_id, id)
);
CREATE INDEX account_customers_customer ON account_customers (customer_id);
