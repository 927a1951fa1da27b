-- The meters at the boundaries of network zones (district metered areas), for the water balance
-- (migration 0035, the ebok-balance crate). They are read like any meter (radio or Modbus) but
-- stand at no supply point and are billed to nobody:
--   zone_inlet:  water flowing into one of the utility's zones, from outside the network (a
--                treatment plant, a bulk supplier) or from a neighbouring zone;
--   zone_outlet: water leaving the network from one of its zones (sold to a neighbouring
--                utility).
-- A value added to an enum cannot be used in the transaction that adds it, so the tables that
-- use them come in the next migration.
ALTER TYPE meter_purpose ADD VALUE 'zone_inlet';
ALTER TYPE meter_purpose ADD VALUE 'zone_outlet';
