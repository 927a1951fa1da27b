-- Residents' own readings of meters without radio (self-readings), with an optional photo of
-- the register. The reading itself goes to meter_readings (source 'manual') in the same
-- transaction; this table records who entered it and when, and keeps the photo for staff to
-- check.

CREATE TABLE self_readings (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id          bigint NOT NULL,
    meter_id            bigint NOT NULL,
    measured_at         timestamptz NOT NULL,
    volume_litres       bigint NOT NULL CHECK (volume_litres >= 0),
    -- The resident account that entered it.
    submitted_by        bigint NOT NULL,
    submitted_at        timestamptz NOT NULL DEFAULT now(),
    -- The photo as uploaded, if any: the type is what its magic bytes say, not what the client
    -- claimed.
    photo_content_type  text CHECK (photo_content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    photo               bytea CHECK (octet_length(photo) BETWEEN 1 AND 5 * 1024 * 1024),
    FOREIGN KEY (utility_id, meter_id) REFERENCES meters (utility_id, id),
    FOREIGN KEY (utility_id, submitted_by) REFERENCES user_accounts (utility_id, id),
    UNIQUE (meter_id, measured_at),
    CONSTRAINT photo_has_a_type CHECK ((photo IS NULL) = (photo_content_type IS NULL))
);
-- Photos are already compressed: store them out of line without trying to compress them again.
ALTER TABLE self_readings ALTER COLUMN photo SET STORAGE EXTERNAL;
CREATE INDEX self_readings_by_account ON self_readings (submitted_by, submitted_at);
CREATE INDEX self_readings_recent ON self_readings (utility_id, submitted_at);
