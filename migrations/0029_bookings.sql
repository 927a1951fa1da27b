-- The booking calendar (the ebok-bookings crate): the calendars a utility publishes, with their
-- rules (ebok_bookings::calendar::Calendar as JSON), the slots people booked, and the bookings.

CREATE TABLE booking_calendars (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id  bigint NOT NULL REFERENCES utilities (id),
    code        text NOT NULL CHECK (code ~ '^[a-z][a-z0-9_]{0,39}$'),
    name        text NOT NULL CHECK (btrim(name) <> ''),
    rules       jsonb NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    UNIQUE (utility_id, code),
    UNIQUE (utility_id, id)
);

-- A slot somebody booked (or staff closed), with its places: `taken` moves only by a
-- conditional UPDATE under the row's lock, and the CHECK is the last word, so no slot is ever
-- overbooked, however many people race for its last place.
CREATE TABLE booking_slots (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id   bigint NOT NULL,
    calendar_id  bigint NOT NULL,
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz NOT NULL CHECK (ends_at > starts_at),
    capacity     smallint NOT NULL CHECK (capacity > 0),
    taken        smallint NOT NULL DEFAULT 0,
    FOREIGN KEY (utility_id, calendar_id) REFERENCES booking_calendars (utility_id, id),
    UNIQUE (calendar_id, starts_at),
    UNIQUE (utility_id, id),
    CONSTRAINT never_overbooked CHECK (taken >= 0 AND taken <= capacity)
);

CREATE TABLE bookings (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id    bigint NOT NULL,
    slot_id       bigint NOT NULL,
    account_id    bigint NOT NULL,
    booked_at     timestamptz NOT NULL DEFAULT now(),
    cancelled_at  timestamptz,
    FOREIGN KEY (utility_id, slot_id) REFERENCES booking_slots (utility_id, id),
    FOREIGN KEY (utility_id, account_id) REFERENCES user_accounts (utility_id, id)
);
-- One place per person in a slot.
CREATE UNIQUE INDEX bookings_one_per_person ON bookings (slot_id, account_id)
    WHERE cancelled_at IS NULL;
CREATE INDEX bookings_account ON bookings (account_id, booked_at DESC);
