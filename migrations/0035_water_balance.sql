-- The water balance of network zones (the ebok-balance crate; docs/balance.md): which meters
-- measure a zone's boundaries, the use staff enter that nobody is billed for, the figures
-- computed from the readings for each Warsaw day, and the night-flow alarms.

-- A boundary meter is in service at the network, not at a supply point: it has an
-- installation time (ingest stores readings of installed meters only) and no supply point.
ALTER TABLE meters DROP CONSTRAINT installed_at_a_point;
ALTER TABLE meters ADD CONSTRAINT installed_at_a_point CHECK (
    CASE WHEN purpose IN ('zone_inlet', 'zone_outlet')
         THEN supply_point_id IS NULL AND installed_at IS NOT NULL
         ELSE (supply_point_id IS NULL) = (installed_at IS NULL)
    END);

-- Where a boundary meter stands: the water it measures flows from `from_zone_id` into
-- `into_zone_id`; NULL is outside the network. An inlet (`meters.purpose = 'zone_inlet'`) has
-- `into_zone_id`; an outlet (`zone_outlet`) has only `from_zone_id` (the crate's store keeps the
-- purpose and the sides consistent).
CREATE TABLE zone_boundary_meters (
    meter_id      bigint PRIMARY KEY,
    utility_id    bigint NOT NULL,
    from_zone_id  bigint,
    into_zone_id  bigint,
    FOREIGN KEY (utility_id, meter_id) REFERENCES meters (utility_id, id),
    FOREIGN KEY (utility_id, from_zone_id) REFERENCES network_zones (utility_id, id),
    FOREIGN KEY (utility_id, into_zone_id) REFERENCES network_zones (utility_id, id),
    CHECK (from_zone_id IS NOT NULL OR into_zone_id IS NOT NULL),
    CHECK (from_zone_id IS DISTINCT FROM into_zone_id)
);
CREATE INDEX zone_boundary_meters_utility ON zone_boundary_meters (utility_id);

-- Unbilled authorised consumption: water staff know was used and nobody pays for (the fire
-- brigade, mains flushing, the utility's own use), entered per zone and day.
CREATE TYPE unbilled_use_kind AS ENUM ('fire_fighting', 'flushing', 'own_use', 'other');
CREATE TABLE zone_unbilled_use (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id  bigint NOT NULL,
    zone_id     bigint NOT NULL,
    day         date NOT NULL,
    kind        unbilled_use_kind NOT NULL,
    litres      bigint NOT NULL CHECK (litres > 0 AND litres <= 100000000000),
    note        text CHECK (note IS NULL OR length(note) <= 500),
    entered_by  bigint NOT NULL REFERENCES user_accounts (id),
    entered_at  timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (utility_id, zone_id) REFERENCES network_zones (utility_id, id)
);
CREATE INDEX zone_unbilled_use_day ON zone_unbilled_use (zone_id, day);

-- Computed from the readings by the day rule (ebok_common::domain::boundary), for each closed
-- Warsaw day; recomputed for the last days as late readings arrive. Nothing here is entered by
-- hand: deleting these rows loses nothing but the time to compute them again.
--
-- The customer side of each zone's OWN part (supply points in the zone and in none of its
-- sub-zones): the main meters' consumption and how many of them were expected, reported that
-- day, or had their day estimated across a gap.
CREATE TABLE zone_days (
    utility_id             bigint NOT NULL,
    zone_id                bigint NOT NULL,
    day                    date NOT NULL,
    billed_metered_litres  bigint NOT NULL,
    meters                 integer NOT NULL CHECK (meters >= 0),
    meters_reported        integer NOT NULL CHECK (meters_reported BETWEEN 0 AND meters),
    meters_estimated       integer NOT NULL CHECK (meters_estimated BETWEEN 0 AND meters),
    computed_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (zone_id, day),
    FOREIGN KEY (utility_id, zone_id) REFERENCES network_zones (utility_id, id)
);
CREATE INDEX zone_days_utility_day ON zone_days (utility_id, day);

-- What each boundary meter passed on each day (NULL: unknown, the meter did not report around
-- the day's midnights).
CREATE TABLE zone_boundary_days (
    meter_id     bigint NOT NULL REFERENCES zone_boundary_meters (meter_id) ON DELETE CASCADE,
    day          date NOT NULL,
    litres       bigint,
    computed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, day)
);

-- The minimum night flow of each zone (with its sub-zones): the smallest hourly net input
-- through its boundary meters between 02:00 and 04:00 Warsaw time of the night that ends on
-- `day`, in litres per hour. NULL when a boundary meter's hourly readings were missing.
CREATE TABLE zone_nights (
    utility_id              bigint NOT NULL,
    zone_id                 bigint NOT NULL,
    day                     date NOT NULL,
    min_litres_per_hour     bigint,
    computed_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (zone_id, day),
    FOREIGN KEY (utility_id, zone_id) REFERENCES network_zones (utility_id, id)
);

-- The staff who look after a zone (its district's technicians): a zone's alarms go to them and
-- to the staff of the zones it lies in; to the utility's admins when nobody is named.
CREATE TABLE network_zone_staff (
    utility_id  bigint NOT NULL,
    zone_id     bigint NOT NULL,
    account_id  bigint NOT NULL,
    PRIMARY KEY (zone_id, account_id),
    FOREIGN KEY (utility_id, zone_id) REFERENCES network_zones (utility_id, id) ON DELETE CASCADE,
    FOREIGN KEY (utility_id, account_id) REFERENCES user_accounts (utility_id, id)
);

-- A zone's night flow stayed above its baseline (a new burst): raised once, open until a night
-- is back under the threshold it was raised against, so one burst is one alarm.
CREATE TABLE zone_alarms (
    id                         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id                 bigint NOT NULL,
    zone_id                    bigint NOT NULL,
    -- The first night above the threshold, and the night that made it an alarm.
    first_night                date NOT NULL,
    raised_on                  date NOT NULL CHECK (raised_on >= first_night),
    baseline_litres_per_hour   bigint NOT NULL,
    threshold_litres_per_hour  bigint NOT NULL,
    observed_litres_per_hour   bigint NOT NULL,
    -- The first night back under the threshold.
    cleared_on                 date CHECK (cleared_on IS NULL OR cleared_on > raised_on),
    created_at                 timestamptz NOT NULL DEFAULT now(),
    UNIQUE (utility_id, id),
    FOREIGN KEY (utility_id, zone_id) REFERENCES network_zones (utility_id, id)
);
CREATE UNIQUE INDEX zone_alarms_open ON zone_alarms (zone_id) WHERE cleared_on IS NULL;
CREATE INDEX zone_alarms_zone ON zone_alarms (zone_id, raised_on DESC);
