-- Compression and retention of the raw readings (docs/scaling.md).
--
-- What billing, history and the resident's reads need outlives the raw readings: the register at
-- the start and end of every Warsaw day (`meter_day_readings`, migrations 0012 and 0020, and its
-- packed months, 0013) and each meter's newest reading (`meter_latest_readings`). Raw rows at
-- the meters' reporting rate (every 15 minutes to every day) are what grows; they serve the
-- alarms, the staff's raw view and complaints about a bill, and may be dropped after a
-- configurable age (`ingest.raw_retention_days`), a whole chunk or month partition at a time.
--
-- On TimescaleDB, chunks older than `ingest.compress_after_days` are also compressed natively:
-- segmented by meter (a meter's readings of a chunk become one compressed row per column),
-- ordered by time. Queries do not change; compressed chunks still take late readings.

DO $$
BEGIN
    IF ebok_readings_storage() = 'hypertable' THEN
        ALTER TABLE meter_readings SET (
            timescaledb.compress,
            timescaledb.compress_segmentby = 'meter_id',
            timescaledb.compress_orderby = 'measured_at DESC'
        );
    END IF;
END $$;

-- Sets the compression policy: chunks whose readings are all older than `after` are compressed
-- by TimescaleDB's own background job; NULL removes the policy (compressed chunks stay so).
-- Replaces an earlier policy only when the age changed, so every ingest start may call it.
-- Returns whether the store compresses at all (false on plain PostgreSQL, where it does nothing).
CREATE FUNCTION ebok_readings_compression(after interval) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    current interval;
BEGIN
    IF ebok_readings_storage() <> 'hypertable' THEN
        RETURN false;
    END IF;
    -- One caller at a time: two ingest processes starting together would both add a policy.
    PERFORM pg_advisory_xact_lock(hashtext('ebok_readings_compression'));
    EXECUTE $q$SELECT (config ->> 'compress_after')::interval
               FROM timescaledb_information.jobs
               WHERE proc_name = 'policy_compression' AND hypertable_name = 'meter_readings'$q$
        INTO current;
    IF current IS NOT DISTINCT FROM after THEN
        RETURN true;
    END IF;
    EXECUTE 'SELECT remove_compression_policy(''meter_readings'', if_exists => true)';
    IF after IS NOT NULL THEN
        EXECUTE 'SELECT add_compression_policy(''meter_readings'', compress_after => $1)'
            USING after;
    END IF;
    RETURN true;
END $$;

-- Drops the raw readings measured before `cutoff`, whole chunks (TimescaleDB) or whole month
-- partitions (plain PostgreSQL) only: a chunk or month reaching past the cutoff stays entire.
-- Returns how many it dropped. Day and month read models are not touched.
CREATE FUNCTION ebok_drop_old_readings(cutoff timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    dropped integer := 0;
    part record;
BEGIN
    IF ebok_readings_storage() = 'hypertable' THEN
        EXECUTE 'SELECT count(*) FROM drop_chunks(''meter_readings'', older_than => $1)'
            INTO dropped USING cutoff;
        RETURN dropped;
    END IF;
    -- The partitions are named by their UTC month (ebok_ensure_reading_partitions, 0003).
    PERFORM pg_advisory_xact_lock(hashtext('ebok_ensure_reading_partitions'));
    FOR part IN
        SELECT c.oid::regclass AS name
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'meter_readings'::regclass
          AND c.relname ~ '^meter_readings_[0-9]{4}_[0-9]{2}$'
          AND (to_date(substr(c.relname, 16), 'YYYY_MM')::timestamp AT TIME ZONE 'UTC')
              + interval '1 month' <= cutoff
        ORDER BY c.relname
    LOOP
        EXECUTE format('DROP TABLE %s', part.name);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END $$;
