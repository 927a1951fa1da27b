-- The transactional outbox (what others must react to, written in the same transaction as the
-- change) and the append-only audit log.

CREATE TYPE outbox_status AS ENUM ('pending', 'done', 'dead');

CREATE TABLE outbox (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id             bigint NOT NULL REFERENCES utilities (id),
    -- What happened, as <subject>.<event>: 'meter_alarm.raised', 'invoice.issued', …
    kind                   text NOT NULL CHECK (kind ~ '^[a-z][a-z_]*(\.[a-z][a-z_]*)+$'),
    payload                jsonb NOT NULL DEFAULT '{}',
    -- Exactly one addressee: one account, every account linked to a customer, or an audience
    -- (e.g. everyone in an area who consented to outage notices) that the dispatcher expands.
    recipient_account_id   bigint,
    recipient_customer_id  bigint,
    audience               jsonb,
    -- Optional key that makes enqueueing idempotent within a utility.
    dedup_key              text,
    created_at             timestamptz NOT NULL DEFAULT now(),
    status                 outbox_status NOT NULL DEFAULT 'pending',
    attempts               integer NOT NULL DEFAULT 0,
    next_attempt_at        timestamptz NOT NULL DEFAULT now(),
    last_error             text,
    processed_at           timestamptz,
    FOREIGN KEY (utility_id, recipient_account_id) REFERENCES user_accounts (utility_id, id),
    FOREIGN KEY (utility_id, recipient_customer_id) REFERENCES customers (utility_id, id),
    CONSTRAINT one_addressee
        CHECK (num_nonnulls(recipient_account_id, recipient_customer_id, audience) = 1),
    UNIQUE (utility_id, dedup_key)
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';

CREATE TYPE audit_actor AS ENUM ('resident', 'staff', 'system');

CREATE TABLE audit_log (
    id                       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- NULL only for installation-wide actions (e.g. creating a utility).
    utility_id               bigint REFERENCES utilities (id),
    at                       timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor                    audit_actor NOT NULL,
    actor_account_id         bigint REFERENCES user_accounts (id),
    -- Staff acting for a resident (with the resident's acceptance) name the resident here.
    on_behalf_of_account_id  bigint REFERENCES user_accounts (id),
    -- '<subject>.<verb>': 'meter.installed', 'invoice.issued', 'account.login_failed', …
    action                   text NOT NULL CHECK (action ~ '^[a-z][a-z_]*(\.[a-z][a-z_]*)+$'),
    entity_type              text,
    entity_id                text,
    details                  jsonb NOT NULL DEFAULT '{}',
    request_id               text,
    CONSTRAINT people_are_named CHECK (actor = 'system' OR actor_account_id IS NOT NULL)
);
CREATE INDEX audit_log_entity ON audit_log (utility_id, entity_type, entity_id);
CREATE INDEX audit_log_actor ON audit_log (actor_account_id, at);

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
