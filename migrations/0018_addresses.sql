-- Addresses as Poles write them. A village that numbers its houses without streets is addressed
-- by its name and the house number, with the post office's town after the postal code
-- ("Kurowo 1, 14-420 Młynary"), so the post office town is stored where it differs from the
-- locality. NULL: the locality is its own post office town.
ALTER TABLE customers
    ADD COLUMN post_town text CHECK (post_town IS NULL OR btrim(post_town) <> '');
ALTER TABLE supply_points
    ADD COLUMN post_town text CHECK (post_town IS NULL OR btrim(post_town) <> '');
ALTER TABLE utilities
    ADD COLUMN post_town text CHECK (post_town IS NULL OR btrim(post_town) <> '');

-- One line of an address, the one style of the portal, push notices and e-mail (and, next,
-- invoices and the back office):
--   a street:                                   "Lipowa 1/2, 14-420 Młynary"
--   a village without streets:                  "Kurowo 1, 14-420 Młynary"
--   a street where the post office is elsewhere: "Lipowa 1, Kurowo, 14-420 Młynary"
-- Street names are stored as they are named ("Plac Wolności"), so no "ul." is added. NULL when
-- the building number or the locality is missing.
CREATE FUNCTION ebok_address(street text, building_no text, apartment_no text,
                             postal_code text, city text, post_town text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN building_no IS NOT NULL AND city IS NOT NULL THEN
        concat_ws(', ',
            coalesce(street, city) || ' ' || building_no || coalesce('/' || apartment_no, ''),
            CASE WHEN street IS NOT NULL AND post_town IS NOT NULL AND post_town <> city
                 THEN city END,
            nullif(concat_ws(' ', postal_code, coalesce(post_town, city)), ''))
    END
$$;
