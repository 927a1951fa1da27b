-- What staff do in the back office and must leave a trace of beyond the audit log.

-- Meter alarms handled by staff: who acknowledged or cleared an alarm, and why. An alarm ingest
-- clears by itself (the condition is gone) has no cleared_by.
ALTER TABLE meter_alarms
    ADD COLUMN acknowledged_note text CHECK (length(acknowledged_note) <= 1000),
    ADD COLUMN cleared_by bigint REFERENCES user_accounts (id),
    ADD COLUMN cleared_note text CHECK (length(cleared_note) <= 1000);
-- The back office lists a utility's alarms newest first, open or all.
CREATE INDEX meter_alarms_by_utility ON meter_alarms (utility_id, raised_at DESC);

-- The meters whose legalisation ends soon: a replacement campaign's monthly list.
CREATE INDEX meters_legalisation ON meters (utility_id, legalised_until)
    WHERE removed_at IS NULL AND supply_point_id IS NOT NULL;
