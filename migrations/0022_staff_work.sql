-- What staff do in the back office and must leave a trace of beyond the audit log.

-- Meter alarms handled by staff: who acknowledged or cleared an alarm, and why. An alarm ingest
-- clears by itself (the condition is gone) has no cleared_by.
ALTER TABLE meter_alarms
    ADD COLUMN acknowledged_note text CHECK (length(acknowledged_note) <= 1000),
    ADD COLUMN cleared_by bigint REFERENCES user_accounts (id),
    ADD COLUMN cleared_note text CHECK (length(cleared_note) <= 1000);
-- The back office lists a utility's alarms newest first, open or all.
CREATE INDEX meter_alarms_by_utility ON meter_alarms (utility_id, raised_at DESC);

-- The meters whose legalisation ends soon: a replacement campaign's monthly list.
CREATE INDEX meters_legalisation ON meters (utility_id, legalised_until)
    WHERE removed_at IS NULL AND supply_point_id IS NOT NULL;

-- What a clerk does in a resident's name that binds the resident (a consent now; applications
-- later): it waits for the resident's acceptance in their eBOK and takes effect only then.
CREATE TYPE proxy_act_state AS ENUM ('awaiting', 'accepted', 'declined');

CREATE TABLE proxy_acts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id    bigint NOT NULL,
    -- The resident whose act it is, and the customer the clerk had open.
    account_id    bigint NOT NULL,
    customer_id   bigint NOT NULL,
    -- 'consent.grant' or 'consent.withdraw', with {"kind": …, "form_version": …}.
    kind          text NOT NULL CHECK (kind IN ('consent.grant', 'consent.withdraw')),
    payload       jsonb NOT NULL,
    -- What the clerk noted ("na prośbę klienta przy okienku").
    note          text CHECK (length(note) <= 500),
    requested_by  bigint NOT NULL REFERENCES user_accounts (id),
    requested_at  timestamptz NOT NULL DEFAULT now(),
    state         proxy_act_state NOT NULL DEFAULT 'awaiting',
    decided_at    timestamptz,
    FOREIGN KEY (utility_id, account_id) REFERENCES user_accounts (utility_id, id),
    FOREIGN KEY (utility_id, customer_id) REFERENCES customers (utility_id, id),
    CONSTRAINT decided_when_not_awaiting CHECK ((state = 'awaiting') = (decided_at IS NULL))
);
CREATE INDEX proxy_acts_awaiting ON proxy_acts (account_id) WHERE state = 'awaiting';
CREATE INDEX proxy_acts_of_customer ON proxy_acts (customer_id, requested_at);
