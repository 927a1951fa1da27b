-- Outage and planned-works notices (the ebok-outages crate): the network zones supply points
-- belong to, the notices staff publish for an area, and the residents each notice was for, so
-- that its updates and the "restored" notice reach exactly the same people.

CREATE TABLE network_zones (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id  bigint NOT NULL REFERENCES utilities (id),
    code        text NOT NULL CHECK (code ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
    name        text NOT NULL CHECK (btrim(name) <> ''),
    -- Zones nest (a town, its districts).
    parent_id   bigint,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (utility_id, code),
    UNIQUE (utility_id, id),
    FOREIGN KEY (utility_id, parent_id) REFERENCES network_zones (utility_id, id),
    CHECK (parent_id IS DISTINCT FROM id)
);

ALTER TABLE supply_points ADD COLUMN zone_id bigint;
ALTER TABLE supply_points ADD CONSTRAINT supply_points_zone
    FOREIGN KEY (utility_id, zone_id) REFERENCES network_zones (utility_id, id);
CREATE INDEX supply_points_zone ON supply_points (zone_id) WHERE zone_id IS NOT NULL;

CREATE TYPE outage_kind AS ENUM ('failure', 'planned_works', 'interruption', 'quality_warning');

CREATE TABLE outages (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id    bigint NOT NULL REFERENCES utilities (id),
    kind          outage_kind NOT NULL,
    title         text NOT NULL CHECK (btrim(title) <> ''),
    description   text,
    starts_at     timestamptz NOT NULL,
    expected_end  timestamptz CHECK (expected_end IS NULL OR expected_end > starts_at),
    -- Supply restored (or the warning lifted).
    ended_at      timestamptz,
    -- The area: ebok_outages::area::Area as JSON, and in words as residents read it.
    area          jsonb NOT NULL,
    area_words    text NOT NULL,
    -- Each change published is a new version (1 when announced).
    version       integer NOT NULL DEFAULT 1 CHECK (version > 0),
    created_by    bigint NOT NULL REFERENCES user_accounts (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (utility_id, id)
);
CREATE INDEX outages_current ON outages (utility_id, starts_at DESC);

-- Who a notice was for: the resident accounts with a contract in force at an affected supply
-- point when it was announced (or its area grew). Updates and the end go to this set; the
-- notifications consent is checked as each is sent.
CREATE TABLE outage_recipients (
    utility_id  bigint NOT NULL,
    outage_id   bigint NOT NULL,
    account_id  bigint NOT NULL REFERENCES user_accounts (id),
    PRIMARY KEY (outage_id, account_id),
    FOREIGN KEY (utility_id, outage_id) REFERENCES outages (utility_id, id)
);
