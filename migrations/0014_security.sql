-- Security fixes found in a review of the resident side (issue 14).

-- ---------------------------------------------------------------------------------------------
-- A resident sees a meter only over their own stay at its supply point.
--
-- `account_meter_windows` (migration 0012) grouped every contract of the account's customers at
-- a meter's supply point into one window, from the first contract's first day to the last one's
-- last day. A customer who moved out, and back in after somebody else lived there, therefore saw
-- the other household's days in between. A window is now the account's latest stay: its
-- contracts after the last contract of somebody else (a customer not linked to the account) that
-- ended before the latest one began. Earlier stays are given up rather than shown with a hole:
-- one window per account and meter keeps every resident read a single primary-key probe.
--
-- The view is the definition; the table stays its maintained result.
-- ---------------------------------------------------------------------------------------------
CREATE VIEW account_meter_spans AS
SELECT am.utility_id, am.account_id, am.meter_id,
       min(am.valid_from) AS first_day,
       CASE WHEN bool_or(am.valid_until IS NULL) THEN NULL ELSE max(am.valid_until) END
           AS last_day
FROM account_meters am
WHERE am.valid_from > coalesce(
        (SELECT max(f.valid_until)
         FROM contracts f
         WHERE f.utility_id = am.utility_id AND f.supply_point_id = am.supply_point_id
           AND f.status <> 'draft'
           AND f.valid_until < (SELECT max(o.valid_from) FROM account_meters o
                                WHERE o.account_id = am.account_id AND o.meter_id = am.meter_id)
           AND NOT EXISTS (SELECT 1 FROM account_customers ac
                           WHERE ac.utility_id = f.utility_id AND ac.account_id = am.account_id
                             AND ac.customer_id = f.customer_id)),
        '-infinity'::date)
GROUP BY am.utility_id, am.account_id, am.meter_id;

CREATE OR REPLACE FUNCTION account_meter_windows_refresh(accounts bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(cardinality(accounts), 0) = 0 THEN
        RETURN;
    END IF;
    DELETE FROM account_meter_windows WHERE account_id = ANY (accounts);
    INSERT INTO account_meter_windows (account_id, meter_id, utility_id, first_day, last_day)
    SELECT account_id, meter_id, utility_id, first_day, last_day
    FROM account_meter_spans
    WHERE account_id = ANY (accounts);
END $$;

-- A contract now changes the windows of every account with a contract at its supply point (it
-- may be the other household that cuts their window), besides those of its own customer.
CREATE OR REPLACE FUNCTION account_meter_windows_on_contracts() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    accounts bigint[];
BEGIN
    PERFORM account_meter_windows_lock();
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT ac.account_id) INTO accounts
        FROM contracts c
        JOIN account_customers ac ON ac.utility_id = c.utility_id AND ac.customer_id = c.customer_id
        WHERE (c.utility_id, c.supply_point_id) IN (SELECT utility_id, supply_point_id FROM new_rows);
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(DISTINCT account_id) INTO accounts
        FROM (SELECT ac.account_id
              FROM account_customers ac JOIN old_rows o USING (utility_id, customer_id)
              UNION ALL
              SELECT ac.account_id
              FROM contracts c
              JOIN account_customers ac ON ac.utility_id = c.utility_id
                                       AND ac.customer_id = c.customer_id
              WHERE (c.utility_id, c.supply_point_id)
                    IN (SELECT utility_id, supply_point_id FROM old_rows)) a;
    ELSE
        -- Only changes a window can see: who, where, when, signed or not (a tariff change is
        -- none of these).
        SELECT array_agg(DISTINCT account_id) INTO accounts
        FROM (SELECT ac.account_id
              FROM account_customers ac JOIN old_rows o USING (utility_id, customer_id)
              UNION ALL
              SELECT ac.account_id
              FROM contracts c
              JOIN account_customers ac ON ac.utility_id = c.utility_id
                                       AND ac.customer_id = c.customer_id
              WHERE (c.utility_id, c.supply_point_id)
                    IN (SELECT utility_id, supply_point_id FROM old_rows
                        UNION SELECT utility_id, supply_point_id FROM new_rows)) a
        WHERE EXISTS (
            SELECT 1 FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE (o.utility_id, o.customer_id, o.supply_point_id, o.valid_from, o.valid_until,
                   o.status = 'draft')
                  IS DISTINCT FROM
                  (n.utility_id, n.customer_id, n.supply_point_id, n.valid_from, n.valid_until,
                   n.status = 'draft'));
    END IF;
    PERFORM account_meter_windows_refresh(accounts);
    RETURN NULL;
END $$;

SELECT account_meter_windows_refresh(array(SELECT DISTINCT account_id FROM account_customers));

-- ---------------------------------------------------------------------------------------------
-- Access tokens of an ended app session stop working at once (ebok-api/src/auth/revoked.rs):
-- each API process keeps the recently revoked app sessions in memory, told by this trigger
-- when a revocation commits. A row trigger with a WHEN clause: the web sessions' idle clock,
-- touched on every portal request, never reaches the function.
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION sessions_announce_revocation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ebok_sessions_revoked', NEW.id::text);
    RETURN NULL;
END $$;

CREATE TRIGGER sessions_revoked AFTER UPDATE OF revoked_at ON sessions
    FOR EACH ROW
    WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL AND NEW.kind = 'app')
    EXECUTE FUNCTION sessions_announce_revocation();

-- The catch-up reads app sessions revoked in the last minutes; housekeeping deletes sessions
-- ended long ago, attempts and links past their use (ebok-api/src/housekeeping.rs).
CREATE INDEX sessions_revoked_at ON sessions (revoked_at);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX security_attempts_at ON security_attempts (at);
CREATE INDEX account_tokens_expires_at ON account_tokens (expires_at);

-- The key that signs access tokens moved to a key file (api.token_key_file): a copy of the
-- database must not be able to mint tokens. Tokens it signed stop working; apps refresh.
DROP TABLE installation_secrets;
