-- A meter's history (a year of daily readings, the reading on a day) is read from the primary key
-- alone: the key carries the register value and the source, so an index-only scan touches a few
-- index pages instead of one table page per reading (readings of one meter are spread over the
-- table in arrival order). Measured on 100,000 meters × 365 days (`ebok bench api`): a year of
-- daily history at 64 clients went from about 700 to about 1,500 answers a second.
ALTER TABLE meter_readings
    DROP CONSTRAINT meter_readings_pkey,
    ADD PRIMARY KEY (meter_id, measured_at) INCLUDE (volume_litres, source);
