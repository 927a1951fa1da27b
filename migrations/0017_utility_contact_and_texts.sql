-- What a utility tells residents about itself, set by its admin (the back office edits these;
-- until then the demo and an operator set them in the database). NULL: the portal's default.
ALTER TABLE utilities
    -- The customer office's opening hours, as residents read them ("pon.–pt. 7:00–15:00").
    ADD COLUMN office_hours    text CHECK (office_hours IS NULL OR (btrim(office_hours) <> ''
                                                                  AND length(office_hours) <= 500)),
    -- The 24-hour emergency number; NULL: 994, the national water emergency number.
    ADD COLUMN emergency_phone text CHECK (emergency_phone IS NULL
                                           OR emergency_phone ~ '^\+?[0-9 ]{3,20}$'),
    -- The eBOK terms (regulamin) and the GDPR information clause (art. 13 RODO), as plain
    -- text with blank lines between paragraphs; NULL: the portal's default texts.
    ADD COLUMN terms_text      text CHECK (terms_text IS NULL OR btrim(terms_text) <> ''),
    ADD COLUMN privacy_text    text CHECK (privacy_text IS NULL OR btrim(privacy_text) <> '');
