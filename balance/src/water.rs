//! The water balance of network zones (district metered areas), in the terms of the
//! International Water Association's standard balance:
//!
//! - **system input volume**: the water that entered a zone, less what left it, as its boundary
//!   meters measured it;
//! - **billed metered consumption**: what the customer meters in the zone measured (by the same
//!   day rule as history and billing);
//! - **unbilled authorised consumption**: use staff enter (the fire brigade, mains flushing);
//! - **water losses**: the rest, leaks and bursts, theft and meter errors, in litres and as a
//!   share of the input.
//!
//! Each figure is for one period (a Warsaw day or month) and comes with its **coverage**: the
//! share of the zone's customer meters that reported for the period. A meter that did not report
//! makes consumption look smaller and losses larger, so a low coverage marks the losses as
//! uncertain rather than real.
//!
//! **Zones nest** (a town, its districts). A boundary meter measures water flowing *from* one
//! zone (or from outside the network: a treatment plant, a bulk supplier) *into* another. For a
//! zone with sub-zones, a meter between two of its sub-zones is internal: what one loses, the
//! other gains. So every figure is computed per zone for the zone's *own* part (the pipes and
//! supply points in no sub-zone), and a zone's balance is the sum of its own part and its
//! sub-zones' balances. Only the loss share and coverage are ratios, taken from the sums.
//!
//! Pure functions over integer litres; reading the meters, the periods and the storage are the
//! callers' business.

use std::collections::{BTreeMap, BTreeSet};

/// A network zone and the zone it lies in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone {
    pub id: i64,
    pub parent: Option<i64>,
}

/// What one boundary meter measured in the period: `litres` flowing from `from` into `into`.
/// `None` on one side is outside the network (a treatment plant, a bulk supplier, a neighbouring
/// utility).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundaryFlow {
    pub from: Option<i64>,
    pub into: Option<i64>,
    pub litres: i64,
}

/// A zone's own part in the period: its customers' consumption and the use staff entered, for
/// the supply points in the zone itself and in none of its sub-zones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnUse {
    pub billed_metered_litres: i64,
    pub unbilled_authorised_litres: i64,
    /// Customer meters expected to report for the period, those that did, and those whose
    /// figure was estimated instead (counted in `billed_metered_litres`).
    pub meters: u32,
    pub meters_reported: u32,
    pub meters_estimated: u32,
}

/// A zone's balance for the period (its own part and its sub-zones').
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Balance {
    pub system_input_litres: i64,
    pub billed_metered_litres: i64,
    pub unbilled_authorised_litres: i64,
    pub meters: u32,
    pub meters_reported: u32,
    pub meters_estimated: u32,
}

impl Balance {
    /// Water losses: the input less all authorised consumption. Negative when the customers
    /// measured more than the boundary meters (a boundary meter under-reading, or readings of
    /// different periods): shown as it is, never hidden.
    pub fn losses_litres(&self) -> i64 {
        self.system_input_litres - self.billed_metered_litres - self.unbilled_authorised_litres
    }

    /// Losses as a share of the input; `None` without input.
    pub fn loss_share(&self) -> Option<f64> {
        (self.system_input_litres > 0)
            .then(|| self.losses_litres() as f64 / self.system_input_litres as f64)
    }

    /// The share of customer meters that reported, between 0 and 1; 1 for a zone without
    /// customer meters (nothing can be missing).
    pub fn coverage(&self) -> f64 {
        if self.meters == 0 {
            1.0
        } else {
            f64::from(self.meters_reported.min(self.meters)) / f64::from(self.meters)
        }
    }

    fn add(&mut self, other: &Balance) {
        self.system_input_litres += other.system_input_litres;
        self.billed_metered_litres += other.billed_metered_litres;
        self.unbilled_authorised_litres += other.unbilled_authorised_litres;
        self.meters += other.meters;
        self.meters_reported += other.meters_reported;
        self.meters_estimated += other.meters_estimated;
    }
}

/// Zones that do not form a tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    #[error("zone {0} lies in zone {1}, which is not among the zones")]
    UnknownParent(i64, i64),
    #[error("zone {0} lies in itself, through its parents")]
    Cycle(i64),
    #[error("a boundary meter names zone {0}, which is not among the zones")]
    UnknownZone(i64),
    #[error("zone {0} is given twice")]
    Duplicate(i64),
}

/// Every zone's balance for one period, each with its sub-zones'.
pub fn balances(
    zones: &[Zone],
    flows: &[BoundaryFlow],
    own: &BTreeMap<i64, OwnUse>,
) -> Result<BTreeMap<i64, Balance>, ZoneError> {
    let ids: BTreeSet<i64> = zones.iter().map(|z| z.id).collect();
    if ids.len() != zones.len() {
        let mut seen = BTreeSet::new();
        let twice = zones
            .iter()
            .find(|z| !seen.insert(z.id))
            .expect("a duplicate");
        return Err(ZoneError::Duplicate(twice.id));
    }
    let parent: BTreeMap<i64, Option<i64>> = zones.iter().map(|z| (z.id, z.parent)).collect();
    for zone in zones {
        if let Some(p) = zone.parent
            && !ids.contains(&p)
        {
            return Err(ZoneError::UnknownParent(zone.id, p));
        }
    }
    // Each zone's own part first.
    let mut mine: BTreeMap<i64, Balance> = ids.iter().map(|&id| (id, Balance::default())).collect();
    for flow in flows {
        for side in [flow.from, flow.into].into_iter().flatten() {
            if !ids.contains(&side) {
                return Err(ZoneError::UnknownZone(side));
            }
        }
        if let Some(into) = flow.into {
            mine.get_mut(&into).expect("checked").system_input_litres += flow.litres;
        }
        if let Some(from) = flow.from {
            mine.get_mut(&from).expect("checked").system_input_litres -= flow.litres;
        }
    }
    for (id, use_) in own {
        let Some(b) = mine.get_mut(id) else {
            return Err(ZoneError::UnknownZone(*id));
        };
        b.billed_metered_litres += use_.billed_metered_litres;
        b.unbilled_authorised_litres += use_.unbilled_authorised_litres;
        b.meters += use_.meters;
        b.meters_reported += use_.meters_reported;
        b.meters_estimated += use_.meters_estimated;
    }
    // Then each own part is added to the zone and to every zone it lies in.
    let mut total: BTreeMap<i64, Balance> =
        ids.iter().map(|&id| (id, Balance::default())).collect();
    for (&id, part) in &mine {
        let mut at = Some(id);
        let mut steps = 0;
        while let Some(z) = at {
            steps += 1;
            if steps > ids.len() {
                return Err(ZoneError::Cycle(id));
            }
            total.get_mut(&z).expect("known").add(part);
            at = parent[&z];
        }
    }
    Ok(total)
}

/// The zones whose input a boundary meter from `from` into `into` counts in: those holding
/// one side and not the other (a meter between two districts of a town is internal to the
/// town). A meter whose figure is unknown leaves exactly these zones' input unknown.
pub fn zones_crossed(zones: &[Zone], from: Option<i64>, into: Option<i64>) -> BTreeSet<i64> {
    let parent: BTreeMap<i64, Option<i64>> = zones.iter().map(|z| (z.id, z.parent)).collect();
    let within = |zone: Option<i64>| -> BTreeSet<i64> {
        let mut out = BTreeSet::new();
        let mut at = zone;
        while let Some(z) = at {
            if !out.insert(z) {
                break;
            }
            at = parent.get(&z).copied().flatten();
        }
        out
    };
    within(from)
        .symmetric_difference(&within(into))
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A town (1) with two districts (2, 3); district 3 has an estate (4). The plant feeds the
    /// town's own pipes; the town feeds both districts, district 3 its estate, and district 2
    /// sends some water on to a neighbouring utility.
    fn town() -> Vec<Zone> {
        vec![
            Zone {
                id: 1,
                parent: None,
            },
            Zone {
                id: 2,
                parent: Some(1),
            },
            Zone {
                id: 3,
                parent: Some(1),
            },
            Zone {
                id: 4,
                parent: Some(3),
            },
        ]
    }

    fn flow(from: Option<i64>, into: Option<i64>, litres: i64) -> BoundaryFlow {
        BoundaryFlow { from, into, litres }
    }

    fn use_(billed: i64, unbilled: i64, meters: u32, reported: u32) -> OwnUse {
        OwnUse {
            billed_metered_litres: billed,
            unbilled_authorised_litres: unbilled,
            meters,
            meters_reported: reported,
            meters_estimated: meters - reported,
        }
    }

    #[test]
    fn a_small_network_balances_as_computed_by_hand() {
        let flows = [
            flow(None, Some(1), 1_000_000),  // the plant into the town
            flow(Some(1), Some(2), 400_000), // town → district 2
            flow(Some(1), Some(3), 500_000), // town → district 3
            flow(Some(3), Some(4), 200_000), // district 3 → its estate
            flow(Some(2), None, 50_000),     // district 2 → the neighbour
        ];
        let own = BTreeMap::from([
            (1, use_(60_000, 10_000, 10, 10)),
            (2, use_(300_000, 0, 100, 98)),
            (3, use_(250_000, 5_000, 80, 80)),
            // The estate has a burst: 200 m³ in, 120 m³ billed.
            (4, use_(120_000, 0, 40, 36)),
        ]);
        let b = balances(&town(), &flows, &own).unwrap();
        // Estate: 200,000 in, 120,000 billed: 80,000 lost, 40 % of its input.
        assert_eq!(b[&4].system_input_litres, 200_000);
        assert_eq!(b[&4].losses_litres(), 80_000);
        assert_eq!(b[&4].loss_share(), Some(0.4));
        assert_eq!(b[&4].coverage(), 0.9);
        // District 3 with its estate: 500,000 in; 370,000 billed, 5,000 unbilled.
        assert_eq!(b[&3].system_input_litres, 500_000);
        assert_eq!(b[&3].losses_litres(), 125_000);
        // District 2: 400,000 in, 50,000 out to the neighbour; 300,000 billed.
        assert_eq!(b[&2].system_input_litres, 350_000);
        assert_eq!(b[&2].losses_litres(), 50_000);
        // The town: 1,000,000 from the plant, 50,000 to the neighbour; 730,000 billed and
        // 15,000 unbilled in all.
        assert_eq!(b[&1].system_input_litres, 950_000);
        assert_eq!(b[&1].billed_metered_litres, 730_000);
        assert_eq!(b[&1].unbilled_authorised_litres, 15_000);
        assert_eq!(b[&1].losses_litres(), 205_000);
        assert_eq!((b[&1].meters, b[&1].meters_reported), (230, 224));
    }

    #[test]
    fn zones_that_are_not_a_tree_are_refused() {
        let cycle = [
            Zone {
                id: 1,
                parent: Some(2),
            },
            Zone {
                id: 2,
                parent: Some(1),
            },
        ];
        assert!(matches!(
            balances(&cycle, &[], &BTreeMap::new()),
            Err(ZoneError::Cycle(_))
        ));
        let orphan = [Zone {
            id: 1,
            parent: Some(9),
        }];
        assert_eq!(
            balances(&orphan, &[], &BTreeMap::new()),
            Err(ZoneError::UnknownParent(1, 9))
        );
        assert_eq!(
            balances(&town(), &[flow(None, Some(7), 1)], &BTreeMap::new()),
            Err(ZoneError::UnknownZone(7))
        );
        let twice = [
            Zone {
                id: 1,
                parent: None,
            },
            Zone {
                id: 1,
                parent: None,
            },
        ];
        assert_eq!(
            balances(&twice, &[], &BTreeMap::new()),
            Err(ZoneError::Duplicate(1))
        );
    }

    /// A random forest of up to 12 zones (each zone's parent has a smaller id), random flows
    /// between them and the outside, and random own use.
    fn network() -> impl Strategy<Value = (Vec<Zone>, Vec<BoundaryFlow>, BTreeMap<i64, OwnUse>)> {
        (1usize..12)
            .prop_flat_map(|n| {
                let parents = proptest::collection::vec(proptest::option::of(0usize..n), n);
                let side = proptest::option::of(0..n as i64);
                let flows =
                    proptest::collection::vec((side.clone(), side, 0i64..10_000_000), 0..30);
                let uses = proptest::collection::vec(
                    (0i64..5_000_000, 0i64..100_000, 0u32..500, 0u32..500),
                    n,
                );
                (Just(n), parents, flows, uses)
            })
            .prop_map(|(n, parents, flows, uses)| {
                let zones = (0..n)
                    .map(|i| Zone {
                        id: i as i64,
                        parent: parents[i].filter(|&p| p < i).map(|p| p as i64),
                    })
                    .collect();
                let flows = flows
                    .into_iter()
                    .map(|(from, into, litres)| BoundaryFlow { from, into, litres })
                    .collect();
                let own = uses
                    .into_iter()
                    .enumerate()
                    .map(|(i, (billed, unbilled, meters, reported))| {
                        let reported = reported.min(meters);
                        (i as i64, use_(billed, unbilled, meters, reported))
                    })
                    .collect();
                (zones, flows, own)
            })
    }

    proptest! {
        /// A zone's balance is its own part plus its sub-zones' balances, term by term.
        #[test]
        fn a_zone_is_its_own_part_plus_its_sub_zones((zones, flows, own) in network()) {
            let all = balances(&zones, &flows, &own).unwrap();
            for zone in &zones {
                let alone = [Zone { id: zone.id, parent: None }];
                // Its own part: the same flows seen from this zone alone (any other zone is
                // outside it), and its own use.
                let outside = |z: Option<i64>| z.filter(|&z| z == zone.id);
                let own_flows: Vec<BoundaryFlow> = flows
                    .iter()
                    .map(|f| BoundaryFlow { from: outside(f.from), into: outside(f.into), litres: f.litres })
                    .collect();
                let own_use = BTreeMap::from([(zone.id, own[&zone.id])]);
                let mut expected = balances(&alone, &own_flows, &own_use).unwrap()[&zone.id];
                for child in zones.iter().filter(|c| c.parent == Some(zone.id)) {
                    expected.add(&all[&child.id]);
                }
                prop_assert_eq!(all[&zone.id], expected);
            }
        }

        /// Coverage is a share; losses are what authorised use leaves of the input.
        #[test]
        fn coverage_is_between_0_and_1_and_losses_close_the_balance((zones, flows, own) in network()) {
            for b in balances(&zones, &flows, &own).unwrap().values() {
                prop_assert!((0.0..=1.0).contains(&b.coverage()));
                prop_assert_eq!(
                    b.losses_litres() + b.billed_metered_litres + b.unbilled_authorised_litres,
                    b.system_input_litres
                );
            }
        }

        /// Water moved between two zones of one parent changes neither the parent's input nor
        /// its losses.
        #[test]
        fn transfers_inside_a_zone_cancel_out((zones, flows, own) in network(), litres in 0i64..1_000_000) {
            let before = balances(&zones, &flows, &own).unwrap();
            let children: Vec<&Zone> = zones.iter().filter(|z| z.parent == Some(0)).collect();
            if let [a, b, ..] = children[..] {
                let mut more = flows.clone();
                more.push(BoundaryFlow { from: Some(a.id), into: Some(b.id), litres });
                let after = balances(&zones, &more, &own).unwrap();
                prop_assert_eq!(after[&0], before[&0]);
                prop_assert_eq!(after[&a.id].system_input_litres, before[&a.id].system_input_litres - litres);
            }
        }
    }
}
