-- Each meter's closed months of `meter_day_readings` packed into one row, so that a year of daily
-- history reads twelve rows and this month's day rows instead of 365 day rows. The day table
-- stays the source of truth (the reading on a day still probes it); this is its packed copy.
--
-- Why a packed byte string and not arrays: a day row costs PostgreSQL about half a microsecond
-- in a history (aggregated, then each array element sent on its own), and the API as much again
-- to decode it; a packed month is one value sent and decoded as a block. Measured with `ebok
-- bench api` (docs/resident.md).
--
-- Layout of `days`: one 21-byte record per day with a reading, in day order, big-endian, each
-- field as PostgreSQL's binary protocol sends it:
--   int4  day            days since 2000-01-01 (date_send)
--   int8  measured_at    microseconds since 2000-01-01 00:00 UTC (timestamptz_send)
--   int8  volume_litres  (int8send)
--   int1  source         reading_source_code(source)
-- `meter_month_days` unpacks it in SQL; the API decodes it in `ebok_readings::month_pack`.
--
-- Which months are packed: every month up to `meter_month_readings_packed.through`, for every
-- meter, is here and equal to the fold of its day rows; later months are read from the day
-- table. `meter_month_readings_pack()` moves the mark forward over closed Warsaw months (ingest
-- calls it periodically); a change of day rows in a month at or before the mark repacks that
-- meter's month in the same transaction (the trigger below). Readers use the mark, the packed
-- rows and the day rows of one snapshot, so they see either a month's day rows or its packed
-- row, both complete.
--
-- Concurrency. A writer of day rows takes a shared advisory lock on each month it touches (and a
-- global one, for the first packing), and only then reads the mark; packing a month takes that
-- month's lock exclusively. So a month is packed either after every writer that touched it
-- committed (its snapshot sees their rows), or before a writer reads the mark, which then
-- includes the month and makes the writer repack. Two writers repacking one meter-month
-- serialise on its row: each first locks the rows it will repack (creating missing ones), and
-- only then, in a new statement and so a new snapshot under READ COMMITTED, reads the day rows.
-- Writers in REPEATABLE READ or SERIALIZABLE would keep their first snapshot: none exists (every
-- writer here uses the default).
--
-- Cost to writers: nothing measurable while they write the open month (two locks and one read
-- per statement); a fold into a packed month (a late reading, a backfill) repacks the meter's
-- month, about 55 µs per meter-month on the bench data (10,000 day rows of a closed month:
-- 173 ms without, 732 ms with the repack).

CREATE FUNCTION reading_source_code(source reading_source) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    -- A new reading_source value needs a code here and in ebok_readings::month_pack; until
    -- then it packs as 255, which the API refuses to decode (a test checks the two agree).
    SELECT CASE source
               WHEN 'radio' THEN 0 WHEN 'modbus' THEN 1 WHEN 'manual' THEN 2
               WHEN 'estimate' THEN 3 ELSE 255
           END
$$;

-- One day's record (see the layout above).
CREATE FUNCTION meter_day_record(day date, measured_at timestamptz, volume_litres bigint,
                                 source reading_source) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_send(day) || timestamptz_send(measured_at) || int8send(volume_litres)
           || set_byte('\x00'::bytea, 0, reading_source_code(source))
$$;

-- The records of a packed month as rows, for people and tests; the API decodes them itself.
CREATE FUNCTION meter_month_days(days bytea)
RETURNS TABLE (day date, measured_at timestamptz, volume_litres bigint, source_code int)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date '2000-01-01' + ('x' || encode(substring(days FROM o + 1 FOR 4), 'hex'))::bit(32)::int,
           timestamptz '2000-01-01 00:00:00+00' + interval '1 microsecond'
               * ('x' || encode(substring(days FROM o + 5 FOR 8), 'hex'))::bit(64)::bigint,
           ('x' || encode(substring(days FROM o + 13 FOR 8), 'hex'))::bit(64)::bigint,
           get_byte(days, o + 20)
    FROM generate_series(0, length(days) - 1, 21) o
$$;

CREATE TABLE meter_month_readings (
    meter_id  bigint NOT NULL,
    -- The first day of the Warsaw month.
    month     date NOT NULL CHECK (extract(day FROM month) = 1),
    days      bytea NOT NULL CHECK (length(days) % 21 = 0),
    PRIMARY KEY (meter_id, month)
);

-- The packing mark: one row. NULL until the first month is packed.
CREATE TABLE meter_month_readings_packed (
    single   boolean PRIMARY KEY DEFAULT true CHECK (single),
    through  date CHECK (extract(day FROM through) = 1)
);
INSERT INTO meter_month_readings_packed (through) VALUES (NULL);

-- The advisory lock of a month (two-key form: this table's constant, the month's number).
CREATE FUNCTION meter_month_lock_key(month date) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (extract(year FROM month) * 12 + extract(month FROM month) - 1)::int
$$;

-- Repacks the given meters' months from their day rows (rows missing are created). The caller
-- holds the months' locks.
CREATE FUNCTION meter_month_readings_repack(meters bigint[], months date[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- Lock (or create) the rows first, in key order...
    INSERT INTO meter_month_readings AS p (meter_id, month, days)
    SELECT DISTINCT u.meter_id, u.month, ''::bytea
    FROM unnest(meters, months) AS u (meter_id, month)
    ORDER BY 1, 2
    ON CONFLICT (meter_id, month) DO UPDATE SET days = p.days;
    -- ...then read the day rows in a new snapshot, which sees every writer that held them.
    UPDATE meter_month_readings p
    SET days = coalesce(
        (SELECT string_agg(meter_day_record(d.day, d.measured_at, d.volume_litres, d.source),
                           ''::bytea ORDER BY d.day)
         FROM meter_day_readings d
         WHERE d.meter_id = p.meter_id AND d.day >= p.month
           AND d.day < (p.month + interval '1 month')::date), ''::bytea)
    FROM (SELECT DISTINCT meter_id, month FROM unnest(meters, months) AS u (meter_id, month)) u
    WHERE p.meter_id = u.meter_id AND p.month = u.month;
END $$;

-- After day rows change: repack the touched meter-months at or before the mark.
CREATE FUNCTION meter_month_readings_on_days() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    months date[];
    m date;
    packed_through date;
    meters bigint[];
    meter_months date[];
BEGIN
    SELECT array_agg(x.month ORDER BY x.month) INTO months
    FROM (SELECT DISTINCT date_trunc('month', day::timestamp)::date AS month FROM changed) x;
    IF months IS NULL THEN
        RETURN NULL;
    END IF;
    -- The global lock (see meter_month_readings_pack), then each month's, in order.
    PERFORM pg_advisory_xact_lock_shared(hashtext('meter_month_readings'), -1);
    FOREACH m IN ARRAY months LOOP
        PERFORM pg_advisory_xact_lock_shared(hashtext('meter_month_readings'),
                                             meter_month_lock_key(m));
    END LOOP;
    SELECT through INTO packed_through FROM meter_month_readings_packed;
    IF packed_through IS NULL OR months[1] > packed_through THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(c.meter_id), array_agg(date_trunc('month', c.day::timestamp)::date)
    INTO meters, meter_months
    FROM changed c
    WHERE c.day < (packed_through + interval '1 month')::date;
    PERFORM meter_month_readings_repack(meters, meter_months);
    RETURN NULL;
END $$;

CREATE TRIGGER meter_day_readings_pack_insert AFTER INSERT ON meter_day_readings
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION meter_month_readings_on_days();
CREATE TRIGGER meter_day_readings_pack_update AFTER UPDATE ON meter_day_readings
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION meter_month_readings_on_days();
CREATE TRIGGER meter_day_readings_pack_delete AFTER DELETE ON meter_day_readings
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION meter_month_readings_on_days();

-- Packs every whole Warsaw month that ended by `at` and is after the mark, for every meter, in
-- one pass over the day rows, and moves the mark; returns how many months. Call it on its own
-- (not inside a transaction that has written day rows), under READ COMMITTED.
--
-- Each month is packed under its exclusive lock. The first packing (no mark yet) also takes the
-- global lock that every writer holds shared: it waits for the writers in flight and holds new
-- ones off until it commits, so no writer can have read the empty mark with a day older than the
-- oldest one seen here (such a month would be behind the mark and never packed).
CREATE FUNCTION meter_month_readings_pack(at timestamptz DEFAULT clock_timestamp())
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    first_month date;
    m date;
    this_month date := date_trunc('month', at AT TIME ZONE 'Europe/Warsaw')::date;
    months int := 0;
BEGIN
    -- One packer at a time: the mark's row.
    SELECT (through + interval '1 month')::date INTO first_month
    FROM meter_month_readings_packed FOR UPDATE;
    IF first_month IS NULL THEN
        PERFORM pg_advisory_xact_lock(hashtext('meter_month_readings'), -1);
        SELECT date_trunc('month', min(day)::timestamp)::date INTO first_month
        FROM meter_day_readings;
    END IF;
    IF first_month IS NULL OR first_month >= this_month THEN
        RETURN 0;
    END IF;
    m := first_month;
    WHILE m < this_month LOOP
        PERFORM pg_advisory_xact_lock(hashtext('meter_month_readings'), meter_month_lock_key(m));
        months := months + 1;
        m := (m + interval '1 month')::date;
    END LOOP;
    INSERT INTO meter_month_readings AS p (meter_id, month, days)
    SELECT d.meter_id, date_trunc('month', d.day::timestamp)::date,
           string_agg(meter_day_record(d.day, d.measured_at, d.volume_litres, d.source),
                      ''::bytea ORDER BY d.day)
    FROM meter_day_readings d
    WHERE d.day >= first_month AND d.day < this_month
    GROUP BY 1, 2
    ON CONFLICT (meter_id, month) DO UPDATE SET days = excluded.days;
    UPDATE meter_month_readings_packed SET through = (this_month - interval '1 month')::date;
    RETURN months;
END $$;

-- The packer's scans by day: cheap to keep, as days are written roughly in order.
CREATE INDEX meter_day_readings_day ON meter_day_readings USING brin (day);

SELECT meter_month_readings_pack();
