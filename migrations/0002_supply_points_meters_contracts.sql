-- The network a utility bills: supply points with addresses, the meters installed at them (with
-- the replacement chain), tariff groups, and supply contracts.

CREATE TABLE supply_points (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id      bigint NOT NULL REFERENCES utilities (id),
    -- The utility's own number for the point ("punkt poboru"), printed on invoices.
    code            text NOT NULL CHECK (btrim(code) <> ''),
    street          text,
    building_no     text NOT NULL,
    apartment_no    text,
    postal_code     text NOT NULL CHECK (postal_code ~ '^[0-9]{2}-[0-9]{3}$'),
    city            text NOT NULL,
    -- WGS 84, for failure maps and outage areas.
    latitude        double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude       double precision CHECK (longitude BETWEEN -180 AND 180),
    water_service   boolean NOT NULL DEFAULT true,
    sewage_service  boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (utility_id, code),
    UNIQUE (utility_id, id),
    CONSTRAINT some_service CHECK (water_service OR sewage_service)
);
CREATE INDEX supply_points_address ON supply_points (utility_id, city, street, building_no);

-- How a meter's readings arrive.
CREATE TYPE meter_channel AS ENUM ('wmbus', 'modbus', 'manual');
-- main: the water meter billed for water (and sewage); garden: a sub-meter whose water is billed
-- without sewage; sewage: a sewage flow meter (for premises with their own well).
CREATE TYPE meter_purpose AS ENUM ('main', 'garden', 'sewage');

CREATE TABLE meters (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id              bigint NOT NULL REFERENCES utilities (id),
    serial                  text NOT NULL CHECK (btrim(serial) <> ''),
    -- Wireless M-Bus address as wmbusmeters reports it ("id"), lower-case.
    radio_id                text CHECK (radio_id ~ '^[0-9a-f]{8}$'),
    manufacturer            text,
    model                   text,
    channel                 meter_channel NOT NULL,
    purpose                 meter_purpose NOT NULL DEFAULT 'main',
    -- The register shows 0 ..= register_max_litres and then wraps to 0.
    register_max_litres     bigint NOT NULL CHECK (register_max_litres > 0),
    diameter_mm             smallint CHECK (diameter_mm > 0),
    -- End of the metrological legalisation period (5 years for cold-water meters in Poland).
    legalised_until         date,
    supply_point_id         bigint,
    installed_at            timestamptz,
    install_reading_litres  bigint CHECK (install_reading_litres >= 0),
    removed_at              timestamptz,
    removal_reading_litres  bigint CHECK (removal_reading_litres >= 0),
    -- The meter this one replaced at the same position; each meter is replaced at most once.
    replaces_meter_id       bigint UNIQUE REFERENCES meters (id),
    created_at              timestamptz NOT NULL DEFAULT now(),
    UNIQUE (utility_id, serial),
    UNIQUE (utility_id, id),
    FOREIGN KEY (utility_id, supply_point_id) REFERENCES supply_points (utility_id, id),
    CONSTRAINT installed_at_a_point CHECK ((supply_point_id IS NULL) = (installed_at IS NULL)),
    CONSTRAINT removed_after_installed
        CHECK (removed_at IS NULL OR (installed_at IS NOT NULL AND removed_at >= installed_at)),
    CONSTRAINT removal_reading_with_removal CHECK (removal_reading_litres IS NULL OR removed_at IS NOT NULL),
    CONSTRAINT readings_within_register CHECK (
        coalesce(install_reading_litres, 0) <= register_max_litres
        AND coalesce(removal_reading_litres, 0) <= register_max_litres),
    -- One meter of each purpose at a supply point at any instant.
    CONSTRAINT one_meter_per_position EXCLUDE USING gist (
        supply_point_id WITH =, purpose WITH =, tstzrange(installed_at, removed_at) WITH &&)
        WHERE (supply_point_id IS NOT NULL)
);
CREATE UNIQUE INDEX meters_radio_id_key ON meters (utility_id, radio_id) WHERE radio_id IS NOT NULL;
CREATE INDEX meters_supply_point ON meters (supply_point_id);

CREATE TABLE tariff_groups (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id   bigint NOT NULL REFERENCES utilities (id),
    code         text NOT NULL CHECK (code ~ '^[A-Z0-9][A-Z0-9_-]{0,15}$'),
    name         text NOT NULL CHECK (btrim(name) <> ''),
    description  text,
    UNIQUE (utility_id, code),
    UNIQUE (utility_id, id)
);

CREATE TYPE contract_status AS ENUM ('draft', 'active', 'terminated');

CREATE TABLE contracts (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id       bigint NOT NULL REFERENCES utilities (id),
    number           text NOT NULL CHECK (btrim(number) <> ''),
    customer_id      bigint NOT NULL,
    supply_point_id  bigint NOT NULL,
    tariff_group_id  bigint NOT NULL,
    -- Validity in Warsaw calendar days, both ends inclusive; open-ended while valid_until IS NULL.
    valid_from       date NOT NULL,
    valid_until      date,
    status           contract_status NOT NULL DEFAULT 'draft',
    signed_at        timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (utility_id, number),
    UNIQUE (utility_id, id),
    FOREIGN KEY (utility_id, customer_id) REFERENCES customers (utility_id, id),
    FOREIGN KEY (utility_id, supply_point_id) REFERENCES supply_points (utility_id, id),
    FOREIGN KEY (utility_id, tariff_group_id) REFERENCES tariff_groups (utility_id, id),
    CONSTRAINT valid_range CHECK (valid_until IS NULL OR valid_until >= valid_from),
    CONSTRAINT signed_when_active CHECK (status = 'draft' OR signed_at IS NOT NULL),
    -- A supply point has at most one binding contract on any day.
    CONSTRAINT one_contract_per_point_and_day EXCLUDE USING gist (
        supply_point_id WITH =, daterange(valid_from, valid_until, '[]') WITH &&)
        WHERE (status <> 'draft')
);
CREATE INDEX contracts_customer ON contracts (customer_id);
