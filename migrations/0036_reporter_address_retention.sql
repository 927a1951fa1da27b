-- The e-mail address of somebody who reported a failure without an account is kept while it
-- serves them: until the report is closed (fixed or rejected; a closed report never opens
-- again), and then for a while for their questions (`ebok_api::housekeeping`, 30 days). Then it
-- is erased wherever it was written: the reporter stays (the report was filed, and by
-- somebody), and so do the notices and their e-mail deliveries (one was sent, and how it went),
-- without the address. A row says when its address was erased.
ALTER TABLE failure_reporters ADD COLUMN email_erased_at timestamptz;
ALTER TABLE failure_reporters DROP CONSTRAINT an_account_or_an_address;
ALTER TABLE failure_reporters ADD CONSTRAINT an_account_or_an_address
    CHECK (num_nonnulls(account_id, email, email_erased_at) = 1);

ALTER TABLE notifications ADD COLUMN email_erased_at timestamptz;
ALTER TABLE notifications DROP CONSTRAINT notifications_account_or_address;
ALTER TABLE notifications ADD CONSTRAINT notifications_account_or_address
    CHECK (num_nonnulls(account_id, email, email_erased_at) = 1);

-- A delivery's address is erased only once it settled (nothing will send to it again); its
-- idempotency key named the address, and names the delivery instead.
ALTER TABLE notification_deliveries ADD COLUMN email_erased_at timestamptz;
ALTER TABLE notification_deliveries DROP CONSTRAINT one_target;
ALTER TABLE notification_deliveries ADD CONSTRAINT one_target CHECK (
    (channel = 'push' AND device_id IS NOT NULL AND email IS NULL AND email_erased_at IS NULL)
    OR (channel = 'email' AND device_id IS NULL
        AND num_nonnulls(email, email_erased_at) = 1
        AND (email_erased_at IS NULL OR settled_at IS NOT NULL)));
