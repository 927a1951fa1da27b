-- A resident may close their account (GDPR art. 17): the account's own personal data is erased
-- (its e-mail becomes a placeholder, so the address is free to register again) and the row
-- stays, as what it did is kept where the law requires it (self-readings of a meter, the
-- consent history as proof, the audit log). See ebok-api's accounts::closing.
ALTER TYPE account_status ADD VALUE 'closed';
ALTER TABLE user_accounts ADD COLUMN closed_at timestamptz;
