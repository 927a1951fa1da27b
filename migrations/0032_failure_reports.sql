-- Failure reports (ebok_outages::reports): a resident, or anybody with an e-mail address, says
-- where water is leaking or missing; staff verify, reject or send a crew; the crew's technician
-- marks it fixed; everybody who reported it is told each step.

-- Metres between two WGS 84 points on a sphere of the Earth's mean radius (haversine): within a
-- town the error is far below a GPS fix's.
CREATE FUNCTION distance_m(lat1 double precision, lon1 double precision,
                           lat2 double precision, lon2 double precision)
RETURNS double precision LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT 2 * 6371008.8 * asin(least(1, sqrt(
        sin(radians(lat2 - lat1) / 2) ^ 2
        + cos(radians(lat1)) * cos(radians(lat2)) * sin(radians(lon2 - lon1) / 2) ^ 2)))
$$;

CREATE TYPE failure_category AS ENUM (
    'burst_pipe', 'no_water', 'low_pressure', 'water_quality', 'sewer_blockage', 'damaged_hydrant'
);
CREATE TYPE failure_state AS ENUM ('reported', 'verified', 'rejected', 'dispatched', 'fixed');

CREATE TABLE failure_reports (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id        bigint NOT NULL REFERENCES utilities (id),
    category          failure_category NOT NULL,
    description       text NOT NULL CHECK (btrim(description) <> '' AND length(description) <= 4000),
    -- Where: a point (the phone's GPS, WGS 84 degrees), an address as typed, or both.
    lat               double precision CHECK (lat BETWEEN -90 AND 90),
    lon               double precision CHECK (lon BETWEEN -180 AND 180),
    address           text CHECK (address IS NULL OR (btrim(address) <> '' AND length(address) <= 300)),
    state             failure_state NOT NULL DEFAULT 'reported',
    rejection_reason  text CHECK (length(rejection_reason) <= 1000),
    -- The technician whose crew was sent.
    assigned_to       bigint REFERENCES user_accounts (id),
    -- The outage notice made of it.
    outage_id         bigint,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (utility_id, id),
    FOREIGN KEY (utility_id, outage_id) REFERENCES outages (utility_id, id),
    CONSTRAINT a_point_is_both_coordinates CHECK ((lat IS NULL) = (lon IS NULL)),
    CONSTRAINT somewhere CHECK (lat IS NOT NULL OR address IS NOT NULL),
    CONSTRAINT rejected_with_a_reason CHECK ((state = 'rejected') = (rejection_reason IS NOT NULL)),
    CONSTRAINT dispatched_to_somebody CHECK (state <> 'dispatched' OR assigned_to IS NOT NULL)
);
-- Open reports of a category: the duplicates offered to the next reporter, the staff list.
CREATE INDEX failure_reports_open ON failure_reports (utility_id, category)
    WHERE state IN ('reported', 'verified', 'dispatched');
CREATE INDEX failure_reports_assigned ON failure_reports (assigned_to) WHERE state = 'dispatched';

-- Who reported it: who filed it and everybody who said "me too" instead of filing it again.
-- A resident account, or somebody without one by their e-mail address; each is told every step.
CREATE TABLE failure_reporters (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report_id   bigint NOT NULL REFERENCES failure_reports (id),
    account_id  bigint REFERENCES user_accounts (id),
    email       text CHECK (email ~ '^[^@\s]+@[^@\s]+$' AND length(email) <= 254),
    filed       boolean NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT an_account_or_an_address CHECK ((account_id IS NULL) <> (email IS NULL))
);
CREATE UNIQUE INDEX failure_reporters_account ON failure_reporters (report_id, account_id)
    WHERE account_id IS NOT NULL;
CREATE UNIQUE INDEX failure_reporters_email ON failure_reporters (report_id, lower(email))
    WHERE email IS NOT NULL;
CREATE UNIQUE INDEX failure_reporters_one_filed ON failure_reporters (report_id) WHERE filed;
CREATE INDEX failure_reporters_by_account ON failure_reporters (account_id)
    WHERE account_id IS NOT NULL;

-- Photos, metadata stripped (ebok_outages::photos) before they are stored: by the reporter,
-- or by the technician on the spot.
CREATE TABLE failure_report_photos (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report_id     bigint NOT NULL REFERENCES failure_reports (id),
    content_type  text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    content       bytea NOT NULL CHECK (octet_length(content) BETWEEN 1 AND 8388608),
    by_staff      boolean NOT NULL,
    added_by      bigint REFERENCES user_accounts (id),
    added_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX failure_report_photos_report ON failure_report_photos (report_id);

-- Every step, append-only: who did what, from which state to which, and why.
CREATE TABLE failure_report_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report_id   bigint NOT NULL REFERENCES failure_reports (id),
    at          timestamptz NOT NULL DEFAULT now(),
    action      text NOT NULL CHECK (action ~ '^failure_report\.[a-z_]+$'),
    from_state  failure_state,
    to_state    failure_state NOT NULL,
    staff_id    bigint REFERENCES user_accounts (id),
    note        text
);
-- Somebody without an account is told by e-mail (a failure report's reporter who gave only an
-- address): a notification for an address instead of an account. It reaches no inbox.
ALTER TABLE notifications ALTER COLUMN account_id DROP NOT NULL;
ALTER TABLE notifications ADD COLUMN email text;
ALTER TABLE notifications ADD CONSTRAINT notifications_account_or_address
    CHECK ((account_id IS NULL) <> (email IS NULL));
CREATE UNIQUE INDEX notifications_address ON notifications (outbox_id, lower(email))
    WHERE email IS NOT NULL;

CREATE INDEX failure_report_events_report ON failure_report_events (report_id, id);

CREATE FUNCTION failure_report_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'failure report events are append-only'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'failure_report_events_append_only';
END $$;
CREATE TRIGGER failure_report_events_append_only BEFORE UPDATE OR DELETE ON failure_report_events
    FOR EACH ROW EXECUTE FUNCTION failure_report_events_append_only();
