-- Residents' own alarm rules on their meters (seed 004 "zakładanie alarmów") and the episodes
-- they record. Rules are evaluated by ebok_readings::rules::Evaluator as readings arrive; each
-- episode of a true condition is one trigger row (one leak is one alarm, not one per reading),
-- written in the same transaction as its outbox event.

CREATE TYPE resident_alarm_kind AS ENUM (
    -- consumption in one Europe/Warsaw day above `litres`
    'daily_above',
    -- water used in every interval of interval data for `hours` (a leak, a running toilet)
    'continuous_flow',
    -- the register has not moved for `days` while readings keep arriving (an elderly relative)
    'no_consumption',
    -- any alarm the meter (or ingest) raised; recorded for the resident's history only
    'device_alarm'
);

CREATE TABLE resident_alarm_rules (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id         bigint NOT NULL,
    account_id         bigint NOT NULL,
    meter_id           bigint NOT NULL,
    kind               resident_alarm_kind NOT NULL,
    -- The one parameter of the kind; the others are NULL.
    litres             bigint CHECK (litres BETWEEN 1 AND 1000000),
    hours              integer CHECK (hours BETWEEN 1 AND 72),
    days               integer CHECK (days BETWEEN 1 AND 60),
    -- The resident's own name for the rule ("Mama, Lipowa 1").
    label              text CHECK (label IS NULL OR (btrim(label) <> '' AND length(label) <= 100)),
    enabled            boolean NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL DEFAULT now(),
    -- Evaluation cursor: measured_at of the meter's newest reading when the rule was last
    -- evaluated (a rule is due when meter_latest_readings.measured_at moves past it, which only
    -- ever moves forward), and when that was (the timer of no_consumption). NULL: not yet.
    evaluated_through  timestamptz,
    evaluated_at       timestamptz,
    FOREIGN KEY (utility_id, account_id) REFERENCES user_accounts (utility_id, id),
    FOREIGN KEY (utility_id, meter_id) REFERENCES meters (utility_id, id),
    UNIQUE (utility_id, id),
    CONSTRAINT parameter_of_kind CHECK (
        (kind = 'daily_above') = (litres IS NOT NULL)
        AND (kind = 'continuous_flow') = (hours IS NOT NULL)
        AND (kind = 'no_consumption') = (days IS NOT NULL))
);
CREATE INDEX resident_alarm_rules_of_account ON resident_alarm_rules (account_id, created_at);
-- The evaluator joins enabled rules with meter_latest_readings and meter_alarms by meter.
CREATE INDEX resident_alarm_rules_enabled_by_meter ON resident_alarm_rules (meter_id)
    WHERE enabled;

-- One episode of a rule's condition: opened by the reading (or meter alarm) that showed it,
-- ended when the condition cleared (or the rule was disabled).
CREATE TABLE resident_alarm_triggers (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id      bigint NOT NULL,
    rule_id         bigint NOT NULL,
    -- What makes the episode itself, unique within the rule: the Warsaw day of daily_above, the
    -- start of the run of flow, the still register value, the meter alarm. Re-evaluating the same
    -- data (a retry, a second evaluator, a rule switched off and on) never opens it twice.
    episode         text NOT NULL CHECK (btrim(episode) <> ''),
    -- When the condition began as far as the readings show (start of the day, of the flow, of
    -- the standstill), and the instant of the reading or alarm that made it true.
    since           timestamptz NOT NULL,
    started_at      timestamptz NOT NULL,
    -- An episode that ends by itself (daily_above: the end of its day).
    ends_by         timestamptz,
    ended_at        timestamptz,
    -- The litres the condition is about: used that day, used during the flow, the still register.
    litres          bigint,
    -- device_alarm: the meter alarm this records (no notice of its own: ingest announced it).
    meter_alarm_id  bigint REFERENCES meter_alarms (id),
    -- What the resident reads in the portal and the notice (Polish).
    detail          text NOT NULL,
    details         jsonb NOT NULL DEFAULT '{}',
    -- The `resident_alarm.triggered` outbox event; NULL for device_alarm. No foreign key: the
    -- outbox may be pruned of processed events.
    outbox_id       bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (utility_id, rule_id) REFERENCES resident_alarm_rules (utility_id, id)
        ON DELETE CASCADE,
    UNIQUE (rule_id, episode),
    CONSTRAINT ended_after_start CHECK (ended_at IS NULL OR ended_at >= started_at),
    CONSTRAINT since_before_start CHECK (since <= started_at)
);
-- At most one open episode per rule; for device_alarm one per meter alarm (a leak and a low
-- battery at once are two entries of the resident's history, each linked to its alarm).
CREATE UNIQUE INDEX resident_alarm_triggers_one_open
    ON resident_alarm_triggers (rule_id, coalesce(meter_alarm_id, 0)) WHERE ended_at IS NULL;
CREATE INDEX resident_alarm_triggers_of_rule ON resident_alarm_triggers (rule_id, started_at);
-- Episodes that end by themselves, and device_alarm episodes waiting for their alarm to clear.
CREATE INDEX resident_alarm_triggers_ending ON resident_alarm_triggers (ends_by)
    WHERE ended_at IS NULL AND ends_by IS NOT NULL;
CREATE INDEX resident_alarm_triggers_open_alarm ON resident_alarm_triggers (meter_alarm_id)
    WHERE ended_at IS NULL AND meter_alarm_id IS NOT NULL;
