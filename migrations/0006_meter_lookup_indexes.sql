-- Ingest resolves meters by radio id or serial, often without knowing the utility (a
-- wmbusmeters gateway names no utility). The unique keys lead with utility_id, so such lookups
-- need indexes of their own.
CREATE INDEX meters_by_radio_id ON meters (radio_id) WHERE radio_id IS NOT NULL;
CREATE INDEX meters_by_serial ON meters (serial);
