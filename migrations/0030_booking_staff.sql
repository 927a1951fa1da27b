-- The booking calendar, staff side (the ebok-bookings crate): a slot (or a whole day's slots)
-- closed by staff with a reason the calendar shows, bookings cancelled by staff with a reason,
-- a move remembered as one change, and the reminder sent the day before.

-- Where the visit takes place ("Biuro Obsługi Klienta, ul. Dworcowa 5"), for the resident and
-- the .ics event; empty for a visit at the resident's home.
ALTER TABLE booking_calendars ADD COLUMN place text CHECK (place IS NULL OR btrim(place) <> '');

-- A slot staff closed: no booking takes it (the booking's conditional UPDATE reads this under
-- the row's lock), and its reason is shown to residents.
ALTER TABLE booking_slots
    ADD COLUMN closed_reason text CHECK (closed_reason IS NULL OR btrim(closed_reason) <> ''),
    ADD COLUMN closed_at     timestamptz,
    ADD COLUMN closed_by     bigint REFERENCES user_accounts (id),
    ADD CONSTRAINT closed_with_time CHECK ((closed_reason IS NULL) = (closed_at IS NULL));

ALTER TABLE bookings
    -- The staff member who cancelled it (NULL: the resident themselves), and why.
    ADD COLUMN cancelled_by   bigint REFERENCES user_accounts (id),
    ADD COLUMN cancel_reason  text,
    -- A move: the booking that replaced this one.
    ADD COLUMN moved_to       bigint REFERENCES bookings (id),
    -- When the reminder of the day before was written to the outbox.
    ADD COLUMN reminded_at    timestamptz,
    ADD CONSTRAINT cancelled_by_staff_with_reason
        CHECK (cancelled_by IS NULL OR (cancelled_at IS NOT NULL AND cancel_reason IS NOT NULL)),
    ADD CONSTRAINT moved_when_cancelled CHECK (moved_to IS NULL OR cancelled_at IS NOT NULL);

CREATE INDEX bookings_slot ON bookings (slot_id) WHERE cancelled_at IS NULL;
