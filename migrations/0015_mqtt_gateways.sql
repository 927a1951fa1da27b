-- MQTT gateways (issue 14): every gateway that publishes a utility's readings logs in to the
-- broker with an account of its own, and the broker's ACL lets it publish only under that
-- utility's topics, so the topic a reading arrives on says whose it is. This table records the
-- accounts `ebok gateway add` created; the broker holds them (for the local stack's Mosquitto,
-- its password and ACL files; for an external broker, what the operator installed).
--
-- The password itself is shown once when the gateway is added and stored nowhere; the hash is
-- Mosquitto's password-file form ($7$: PBKDF2-HMAC-SHA512), so the broker's file can be rebuilt
-- from here. A removed gateway keeps its row with revoked_at; re-keying revokes the old row and
-- adds a new one, so the history of who could publish when stays readable.
CREATE TABLE mqtt_gateways (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    utility_id     bigint NOT NULL REFERENCES utilities (id),
    name           text NOT NULL CHECK (name ~ '^[a-z0-9-]{1,40}$'),
    -- '<utility slug>.<name>': unique per (utility, name) since neither part has a dot, and free
    -- of '/', '+' and '#' (topic levels and wildcards) and ':' (the password file's separator).
    mqtt_username  text NOT NULL CHECK (mqtt_username ~ '^[a-z0-9][a-z0-9-]*\.[a-z0-9-]{1,40}$'),
    password_hash  text NOT NULL CHECK (password_hash ~ '^\$7\$[1-9][0-9]*\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$'),
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz,
    UNIQUE (utility_id, id),
    CONSTRAINT revoked_after_created CHECK (revoked_at IS NULL OR revoked_at >= created_at)
);
-- One active gateway per name and username; revoked ones may share them.
CREATE UNIQUE INDEX mqtt_gateways_active_name ON mqtt_gateways (utility_id, name)
    WHERE revoked_at IS NULL;
CREATE UNIQUE INDEX mqtt_gateways_active_username ON mqtt_gateways (mqtt_username)
    WHERE revoked_at IS NULL;

-- Retention: ingest prunes rejections and quarantined readings older than
-- ingest.rejection_retention_days / ingest.quarantine_retention_days in batches, oldest first.
-- Rejections have an index on received_at (0005); the quarantine gets one here.
CREATE INDEX ingest_quarantine_received ON ingest_quarantine (received_at);
