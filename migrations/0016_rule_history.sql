-- Deleting an alarm rule keeps its history (the notices it sent stay in the inbox, so the
-- triggers that explain them stay too): the rule is marked deleted and switched off, its open
-- episode ends, and the resident's alarm history shows its triggers as a deleted rule's. A
-- deleted rule is never evaluated (it is off) and cannot be switched on again.
ALTER TABLE resident_alarm_rules
    ADD COLUMN deleted_at timestamptz,
    ADD CONSTRAINT deleted_is_off CHECK (deleted_at IS NULL OR NOT enabled);
