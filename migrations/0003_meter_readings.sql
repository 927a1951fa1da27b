-- Meter readings: the time-series store.
--
-- One row per (meter, instant): the register value in integer litres. On plain PostgreSQL (what
-- Debian ships) the table is partitioned by month of measured_at (UTC month boundaries) and
-- ebok_ensure_reading_partitions() creates partitions; ingest calls it for any month it meets
-- and a maintenance task keeps three months ahead. When the server has TimescaleDB preloaded the
-- same table becomes a hypertable with 7-day chunks instead, and the partition function does
-- nothing. Columns, keys and queries are the same either way.

CREATE TYPE reading_source AS ENUM ('radio', 'modbus', 'manual', 'estimate');

DO $$
DECLARE
    timescale boolean := EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
        AND current_setting('shared_preload_libraries', true) LIKE '%timescaledb%'
        AND coalesce(current_setting('ebok.timescaledb', true), 'auto') <> 'off';
    columns text := $cols$
        meter_id       bigint NOT NULL REFERENCES meters (id),
        measured_at    timestamptz NOT NULL,
        volume_litres  bigint NOT NULL CHECK (volume_litres >= 0),
        source         reading_source NOT NULL,
        -- Device and validation flags, bit by bit: see common/src/domain/reading.rs.
        flags          integer NOT NULL DEFAULT 0,
        received_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (meter_id, measured_at)
    $cols$;
BEGIN
    IF timescale THEN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
        EXECUTE format('CREATE TABLE meter_readings (%s)', columns);
        PERFORM create_hypertable('meter_readings', 'measured_at',
                                  chunk_time_interval => interval '7 days');
    ELSE
        EXECUTE format('CREATE TABLE meter_readings (%s) PARTITION BY RANGE (measured_at)', columns);
    END IF;
END
$$;

-- How readings are stored on this server: 'hypertable' or 'partitioned'.
CREATE FUNCTION ebok_readings_storage() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN c.relkind = 'p' THEN 'partitioned' ELSE 'hypertable' END
    FROM pg_class c WHERE c.oid = 'meter_readings'::regclass
$$;

-- Creates the monthly partitions covering [from_ts, to_ts]; safe to call concurrently and
-- repeatedly. Returns how many partitions it created.
CREATE FUNCTION ebok_ensure_reading_partitions(from_ts timestamptz, to_ts timestamptz)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    month_start timestamptz;
    created integer := 0;
    name text;
BEGIN
    IF ebok_readings_storage() <> 'partitioned' THEN
        RETURN 0;
    END IF;
    IF to_ts < from_ts THEN
        RAISE EXCEPTION 'to_ts % is before from_ts %', to_ts, from_ts;
    END IF;
    -- Serialise creators so two writers meeting a new month at once do not collide.
    PERFORM pg_advisory_xact_lock(hashtext('ebok_ensure_reading_partitions'));
    month_start := date_trunc('month', from_ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    WHILE month_start <= to_ts LOOP
        name := format('meter_readings_%s', to_char(month_start AT TIME ZONE 'UTC', 'YYYY_MM'));
        IF to_regclass(name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF meter_readings FOR VALUES FROM (%L) TO (%L)',
                name, month_start, month_start + interval '1 month');
            created := created + 1;
        END IF;
        month_start := month_start + interval '1 month';
    END LOOP;
    RETURN created;
END
$$;

SELECT ebok_ensure_reading_partitions(now() - interval '24 months', now() + interval '3 months');

-- The newest reading of each meter. Kept by ingest in the same transaction as the readings, and
-- only ever moved forward in time: a late or backfilled reading never replaces a newer one.
-- A low fillfactor leaves room for HOT updates, which this table gets many of.
CREATE TABLE meter_latest_readings (
    meter_id       bigint PRIMARY KEY REFERENCES meters (id),
    measured_at    timestamptz NOT NULL,
    volume_litres  bigint NOT NULL CHECK (volume_litres >= 0),
    source         reading_source NOT NULL,
    flags          integer NOT NULL DEFAULT 0,
    received_at    timestamptz NOT NULL
) WITH (fillfactor = 70);
