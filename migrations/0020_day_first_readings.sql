-- The day rule (ebok_common::domain::boundary): a day's consumption is the register at its end
-- midnight minus the register at its start midnight, each interpolated between the last reading
-- before the midnight and the first one at or after it. So the day table keeps each day's FIRST
-- reading beside its last, the packed months carry it too, and the first reading at or after a
-- day is one forward probe (`meter_first_reading_from_day`).
--
-- Ingest now folds a day when its first reading arrives as well as when a newer day closes it
-- (ebok_ingest's writer), so the open day's row exists with its first reading; its last reading
-- may lag behind `meter_latest_readings`, which readers take when newer, as before.
--
-- Run with ingest stopped on a large database: it rewrites every day row and repacks every
-- month (on the 100,000-meter bench database, 36.5 million day rows: 21.5 minutes for
-- migrations 0018–0020). Then run `VACUUM (ANALYZE) meter_day_readings, meter_month_readings`
-- (a migration cannot): the rewrite leaves the visibility map empty, and until it is set again
-- history's index-only scans read the table too (measured: a year of daily history at 3,400/s
-- with p99 28 ms before the VACUUM). Days whose raw readings are gone keep their last reading
-- as their first.

-- 1. Records of the packed months grow to 37 bytes: the 21 of before, then
--      int8  first_measured_at    microseconds since 2000-01-01 00:00 UTC (timestamptz_send)
--      int8  first_volume_litres  (int8send)
--    Every month is repacked below; until then nothing is packed, so that the rewrite of the
--    day rows does not repack month by month.
TRUNCATE meter_month_readings;
UPDATE meter_month_readings_packed SET through = NULL;
ALTER TABLE meter_month_readings DROP CONSTRAINT meter_month_readings_days_check;
ALTER TABLE meter_month_readings ADD CONSTRAINT meter_month_readings_days_check
    CHECK (length(days) % 37 = 0);

DROP FUNCTION meter_month_days(bytea);
DROP FUNCTION meter_day_record(date, timestamptz, bigint, reading_source);
CREATE FUNCTION meter_day_record(day date, measured_at timestamptz, volume_litres bigint,
                                 source reading_source, first_measured_at timestamptz,
                                 first_volume_litres bigint) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_send(day) || timestamptz_send(measured_at) || int8send(volume_litres)
           || set_byte('\x00'::bytea, 0, reading_source_code(source))
           || timestamptz_send(first_measured_at) || int8send(first_volume_litres)
$$;

CREATE FUNCTION meter_month_days(days bytea)
RETURNS TABLE (day date, measured_at timestamptz, volume_litres bigint, source_code int,
               first_measured_at timestamptz, first_volume_litres bigint)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date '2000-01-01' + ('x' || encode(substring(days FROM o + 1 FOR 4), 'hex'))::bit(32)::int,
           timestamptz '2000-01-01 00:00:00+00' + interval '1 microsecond'
               * ('x' || encode(substring(days FROM o + 5 FOR 8), 'hex'))::bit(64)::bigint,
           ('x' || encode(substring(days FROM o + 13 FOR 8), 'hex'))::bit(64)::bigint,
           get_byte(days, o + 20),
           timestamptz '2000-01-01 00:00:00+00' + interval '1 microsecond'
               * ('x' || encode(substring(days FROM o + 22 FOR 8), 'hex'))::bit(64)::bigint,
           ('x' || encode(substring(days FROM o + 30 FOR 8), 'hex'))::bit(64)::bigint
    FROM generate_series(0, length(days) - 1, 37) o
$$;

CREATE OR REPLACE FUNCTION meter_month_readings_repack(meters bigint[], months date[])
RETURNS void LANGUAGE plpgsql AS $$
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
        (SELECT string_agg(meter_day_record(d.day, d.measured_at, d.volume_litres, d.source,
                                            d.first_measured_at, d.first_volume_litres),
                           ''::bytea ORDER BY d.day)
         FROM meter_day_readings d
         WHERE d.meter_id = p.meter_id AND d.day >= p.month
           AND d.day < (p.month + interval '1 month')::date), ''::bytea)
    FROM (SELECT DISTINCT meter_id, month FROM unnest(meters, months) AS u (meter_id, month)) u
    WHERE p.meter_id = u.meter_id AND p.month = u.month;
END $$;

CREATE OR REPLACE FUNCTION meter_month_readings_pack(at timestamptz DEFAULT clock_timestamp())
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
           string_agg(meter_day_record(d.day, d.measured_at, d.volume_litres, d.source,
                                       d.first_measured_at, d.first_volume_litres),
                      ''::bytea ORDER BY d.day)
    FROM meter_day_readings d
    WHERE d.day >= first_month AND d.day < this_month
    GROUP BY 1, 2
    ON CONFLICT (meter_id, month) DO UPDATE SET days = excluded.days;
    UPDATE meter_month_readings_packed SET through = (this_month - interval '1 month')::date;
    RETURN months;
END $$;

-- 2. The day table's first readings, filled from the raw readings.
ALTER TABLE meter_day_readings
    ADD COLUMN first_measured_at timestamptz,
    ADD COLUMN first_volume_litres bigint;
UPDATE meter_day_readings d
SET first_measured_at = f.measured_at, first_volume_litres = f.volume_litres
FROM (SELECT DISTINCT ON (meter_id, day)
             meter_id, (measured_at AT TIME ZONE 'Europe/Warsaw')::date AS day, measured_at,
             volume_litres
      FROM meter_readings
      ORDER BY meter_id, day, measured_at) f
WHERE f.meter_id = d.meter_id AND f.day = d.day AND f.measured_at <= d.measured_at;
UPDATE meter_day_readings
SET first_measured_at = measured_at, first_volume_litres = volume_litres
WHERE first_measured_at IS NULL;
-- The open days ingest had not folded yet.
INSERT INTO meter_day_readings (meter_id, day, measured_at, volume_litres, source,
                                first_measured_at, first_volume_litres)
SELECT l.meter_id, o.day, l.measured_at, l.volume_litres, l.source,
       coalesce(f.measured_at, l.measured_at), coalesce(f.volume_litres, l.volume_litres)
FROM meter_latest_readings l
CROSS JOIN LATERAL (SELECT (l.measured_at AT TIME ZONE 'Europe/Warsaw')::date AS day) o
LEFT JOIN LATERAL (SELECT r.measured_at, r.volume_litres FROM meter_readings r
                   WHERE r.meter_id = l.meter_id
                     AND r.measured_at >= o.day::timestamp AT TIME ZONE 'Europe/Warsaw'
                     AND r.measured_at <= l.measured_at
                   ORDER BY r.measured_at LIMIT 1) f ON true
ON CONFLICT (meter_id, day) DO NOTHING;
ALTER TABLE meter_day_readings
    ALTER COLUMN first_measured_at SET NOT NULL,
    ALTER COLUMN first_volume_litres SET NOT NULL,
    ADD CONSTRAINT first_before_last CHECK (first_measured_at <= measured_at),
    DROP CONSTRAINT meter_day_readings_pkey,
    ADD CONSTRAINT meter_day_readings_pkey PRIMARY KEY (meter_id, day)
        INCLUDE (measured_at, volume_litres, source, first_measured_at, first_volume_litres);

-- 3. The folds: per meter and day the newest reading as the last and the oldest as the first,
--    each replacing the stored one only when it is newer, or older.
CREATE OR REPLACE FUNCTION meter_day_readings_fold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('ebok.day_readings', true) = 'deferred' THEN
        RETURN NULL;
    END IF;
    INSERT INTO meter_day_readings AS d (meter_id, day, measured_at, volume_litres, source,
                                         first_measured_at, first_volume_litres)
    SELECT l.meter_id, l.day, l.measured_at, l.volume_litres, l.source,
           f.measured_at, f.volume_litres
    FROM (SELECT DISTINCT ON (meter_id, day)
                 meter_id, (measured_at AT TIME ZONE 'Europe/Warsaw')::date AS day,
                 measured_at, volume_litres, source
          FROM new_rows
          ORDER BY meter_id, day, measured_at DESC) l
    JOIN (SELECT DISTINCT ON (meter_id, day)
                 meter_id, (measured_at AT TIME ZONE 'Europe/Warsaw')::date AS day,
                 measured_at, volume_litres
          FROM new_rows
          ORDER BY meter_id, day, measured_at) f USING (meter_id, day)
    ORDER BY 1, 2
    ON CONFLICT (meter_id, day) DO UPDATE
        SET (measured_at, volume_litres, source) =
                (CASE WHEN excluded.measured_at > d.measured_at
                             THEN excluded.measured_at ELSE d.measured_at END,
                        CASE WHEN excluded.measured_at > d.measured_at
                             THEN excluded.volume_litres ELSE d.volume_litres END,
                        CASE WHEN excluded.measured_at > d.measured_at
                             THEN excluded.source ELSE d.source END),
            (first_measured_at, first_volume_litres) =
                (CASE WHEN excluded.first_measured_at < d.first_measured_at
                             THEN excluded.first_measured_at ELSE d.first_measured_at END,
                        CASE WHEN excluded.first_measured_at < d.first_measured_at
                             THEN excluded.first_volume_litres ELSE d.first_volume_litres END)
        WHERE excluded.measured_at > d.measured_at
           OR excluded.first_measured_at < d.first_measured_at;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION meter_day_readings_fold_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('ebok.day_readings', true) = 'deferred' THEN
        RETURN NULL;
    END IF;
    INSERT INTO meter_day_readings AS d (meter_id, day, measured_at, volume_litres, source,
                                         first_measured_at, first_volume_litres)
    VALUES (NEW.meter_id, (NEW.measured_at AT TIME ZONE 'Europe/Warsaw')::date, NEW.measured_at,
            NEW.volume_litres, NEW.source, NEW.measured_at, NEW.volume_litres)
    ON CONFLICT (meter_id, day) DO UPDATE
        SET (measured_at, volume_litres, source) =
                (CASE WHEN excluded.measured_at > d.measured_at
                             THEN excluded.measured_at ELSE d.measured_at END,
                        CASE WHEN excluded.measured_at > d.measured_at
                             THEN excluded.volume_litres ELSE d.volume_litres END,
                        CASE WHEN excluded.measured_at > d.measured_at
                             THEN excluded.source ELSE d.source END),
            (first_measured_at, first_volume_litres) =
                (CASE WHEN excluded.first_measured_at < d.first_measured_at
                             THEN excluded.first_measured_at ELSE d.first_measured_at END,
                        CASE WHEN excluded.first_measured_at < d.first_measured_at
                             THEN excluded.first_volume_litres ELSE d.first_volume_litres END)
        WHERE excluded.measured_at > d.measured_at
           OR excluded.first_measured_at < d.first_measured_at;
    RETURN NULL;
END $$;

-- 4. A meter's first reading measured on or after the Warsaw day `from_day`: the mirror of
--    meter_reading_by_day (the day rows' first readings, and the open day's latest reading for
--    a day whose row is not there yet).
CREATE FUNCTION meter_first_reading_from_day(meter bigint, from_day date)
RETURNS TABLE (measured_at timestamptz, volume_litres bigint)
LANGUAGE sql STABLE AS $$
    SELECT c.measured_at, c.volume_litres
    FROM ((SELECT d.first_measured_at, d.first_volume_litres
           FROM meter_day_readings d
           WHERE d.meter_id = meter AND d.day >= from_day
           ORDER BY d.day
           LIMIT 1)
          UNION ALL
          (SELECT o.measured_at, o.volume_litres
           FROM meter_open_day_readings o
           WHERE o.meter_id = meter AND o.day >= from_day)) c (measured_at, volume_litres)
    ORDER BY c.measured_at
    LIMIT 1
$$;

SELECT meter_month_readings_pack();
