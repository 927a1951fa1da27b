-- Notification delivery (mobile-push): the app's devices, channel preferences per category,
-- consents, the inbox (one notification per event and account) and deliveries (one per
-- notification and target, each with its idempotency key).

CREATE TYPE device_platform AS ENUM ('android', 'ios', 'web');

-- FCM registration tokens of the mobile app, per account.
CREATE TABLE push_devices (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id      bigint NOT NULL,
    account_id      bigint NOT NULL,
    token           text NOT NULL CHECK (length(token) BETWEEN 8 AND 4096),
    platform        device_platform NOT NULL,
    app_version     text CHECK (length(app_version) <= 64),
    registered_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    -- Set when the app unregisters, another account registers the same token (a shared phone),
    -- or FCM reports the token gone; the row stays for the record.
    removed_at      timestamptz,
    removed_reason  text,
    FOREIGN KEY (utility_id, account_id) REFERENCES user_accounts (utility_id, id),
    UNIQUE (utility_id, id),
    CONSTRAINT removal_has_reason CHECK ((removed_at IS NULL) = (removed_reason IS NULL))
);
-- A token is registered to one account at a time.
CREATE UNIQUE INDEX push_devices_active_token ON push_devices (token) WHERE removed_at IS NULL;
CREATE INDEX push_devices_of_account ON push_devices (account_id) WHERE removed_at IS NULL;

CREATE TYPE notification_category AS ENUM (
    'meter_alarms', 'invoices_payments', 'case_stages', 'outages', 'bookings');

-- A user's channel choice per category; a missing row means the defaults (push on; e-mail on,
-- except for outage broadcasts, which the seeds send by push).
CREATE TABLE notification_preferences (
    utility_id   bigint NOT NULL,
    account_id   bigint NOT NULL,
    category     notification_category NOT NULL,
    push         boolean NOT NULL,
    email        boolean NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, category),
    FOREIGN KEY (utility_id, account_id) REFERENCES user_accounts (utility_id, id)
);

-- Consents given online (seed 004): to receive invoices electronically, and to receive notices of
-- failures, planned works and supply interruptions. Each grant is a row; withdrawing closes it,
-- so the history stays.
CREATE TYPE consent_kind AS ENUM ('e_invoice', 'notifications');

CREATE TABLE consents (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id     bigint NOT NULL,
    account_id     bigint NOT NULL,
    kind           consent_kind NOT NULL,
    -- The version of the form's wording the person agreed to.
    form_version   text NOT NULL CHECK (btrim(form_version) <> ''),
    granted_at     timestamptz NOT NULL DEFAULT now(),
    withdrawn_at   timestamptz,
    FOREIGN KEY (utility_id, account_id) REFERENCES user_accounts (utility_id, id),
    CONSTRAINT withdrawn_after_granted CHECK (withdrawn_at IS NULL OR withdrawn_at >= granted_at)
);
CREATE UNIQUE INDEX consents_one_in_force ON consents (account_id, kind) WHERE withdrawn_at IS NULL;

-- The inbox: what one outbox event said to one account, whatever the channels.
CREATE TABLE notifications (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id   bigint NOT NULL,
    account_id   bigint NOT NULL,
    outbox_id    bigint NOT NULL REFERENCES outbox (id),
    category     notification_category NOT NULL,
    kind         text NOT NULL,
    title        text NOT NULL,
    body         text NOT NULL,
    link         text,
    -- Labelled facts ([[label, value], …]) and the app's string data ({key: value}).
    details      jsonb NOT NULL DEFAULT '[]',
    data         jsonb NOT NULL DEFAULT '{}',
    urgent       boolean NOT NULL DEFAULT false,
    document_waiting boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    read_at      timestamptz,
    FOREIGN KEY (utility_id, account_id) REFERENCES user_accounts (utility_id, id),
    UNIQUE (outbox_id, account_id)
);
CREATE INDEX notifications_inbox ON notifications (account_id, created_at DESC);

CREATE TYPE delivery_channel AS ENUM ('push', 'email');
-- pending → sending (claimed, leased) → sent | failed | dead | cancelled; a lapsed lease makes a
-- 'sending' row due again (the worker died between send and commit).
CREATE TYPE delivery_status AS ENUM ('pending', 'sending', 'sent', 'failed', 'dead', 'cancelled');

CREATE TABLE notification_deliveries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id       bigint NOT NULL,
    notification_id  bigint NOT NULL REFERENCES notifications (id),
    channel          delivery_channel NOT NULL,
    device_id        bigint REFERENCES push_devices (id),
    email            text,
    -- '<notification>:push:<device>' or '<notification>:email:<address>': one delivery per target
    -- and notification, and the same key on every resend (FCM collapse key, e-mail Message-ID).
    idempotency_key  text NOT NULL UNIQUE,
    status           delivery_status NOT NULL DEFAULT 'pending',
    attempts         integer NOT NULL DEFAULT 0,
    -- When it is due: the next attempt, or for 'sending' the end of the lease.
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    provider_id      text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    settled_at       timestamptz,
    CONSTRAINT one_target CHECK (
        (channel = 'push' AND device_id IS NOT NULL AND email IS NULL)
        OR (channel = 'email' AND email IS NOT NULL AND device_id IS NULL)),
    CONSTRAINT settled_when_final CHECK (
        (status IN ('pending', 'sending')) = (settled_at IS NULL))
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (next_attempt_at)
    WHERE status IN ('pending', 'sending');
CREATE INDEX notification_deliveries_of_notification ON notification_deliveries (notification_id);
CREATE INDEX notification_deliveries_of_device ON notification_deliveries (device_id)
    WHERE status IN ('pending', 'sending');
CREATE INDEX notification_deliveries_dead ON notification_deliveries (utility_id, settled_at)
    WHERE status = 'dead';

-- Audience events (an outage notice to an area) are expanded in batches of recipients; the
-- highest account id expanded so far lets the next batch continue after a crash.
ALTER TABLE outbox ADD COLUMN expanded_through_account bigint;
-- Lookup of the staff's outbox view and of the dead letters.
CREATE INDEX outbox_dead ON outbox (utility_id, processed_at) WHERE status = 'dead';
