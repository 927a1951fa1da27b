//! Resolving meters as payloads name them (serial or radio id) to the meters of the message's
//! utility (the topic's utility level, guarded by the broker's ACL, or the Modbus device's
//! configured utility), with a cache: one query per batch of misses, known meters kept for five
//! minutes (so a removal or replacement is seen soon), unknown references for thirty seconds (so
//! a newly registered meter starts receiving quickly).
//!
//! A meter is never looked for in another utility: another utility's meter with the same radio
//! id is simply someone else's. Within a utility serials and radio ids are unique (migration
//! 0002), so a reference names at most one meter.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ebok_common::domain::Register;
use sqlx::PgPool;

use crate::reading::MeterRef;
use crate::validate::MeterInfo;

const KNOWN_TTL: Duration = Duration::from_secs(300);
const UNKNOWN_TTL: Duration = Duration::from_secs(30);

/// The outcome of resolving one reference.
#[derive(Debug, Clone)]
pub enum Resolved {
    Meter(Arc<MeterInfo>),
    /// Not resolvable now; the reading goes to quarantine with this explanation.
    Unknown {
        detail: String,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    resolved: Resolved,
    fetched: Instant,
}

/// Scope of a lookup: a utility (by id), or a utility named in a topic that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    Utility(i64),
    UnknownUtility(String),
}

pub struct Directory {
    pool: PgPool,
    utilities: HashMap<String, (Option<i64>, Instant)>,
    meters: HashMap<Scope, HashMap<MeterRef, Entry>>,
}

impl Directory {
    pub fn new(pool: PgPool) -> Self {
        Directory {
            pool,
            utilities: HashMap::new(),
            meters: HashMap::new(),
        }
    }

    /// The scope a message's utility slug gives.
    pub async fn scope(&mut self, slug: &str) -> sqlx::Result<Scope> {
        if let Some((id, fetched)) = self.utilities.get(slug)
            && (id.is_some() || fetched.elapsed() < UNKNOWN_TTL)
        {
            return Ok(id.map_or_else(|| Scope::UnknownUtility(slug.to_string()), Scope::Utility));
        }
        let id = sqlx::query_scalar!("SELECT id FROM utilities WHERE slug = $1", slug)
            .fetch_optional(&self.pool)
            .await?;
        self.utilities
            .insert(slug.to_string(), (id, Instant::now()));
        Ok(id.map_or_else(|| Scope::UnknownUtility(slug.to_string()), Scope::Utility))
    }

    /// Resolves every reference (in order); misses are looked up in one query.
    pub async fn resolve(
        &mut self,
        scope: &Scope,
        refs: &[&MeterRef],
    ) -> sqlx::Result<Vec<Resolved>> {
        let now = Instant::now();
        let cache = self.meters.entry(scope.clone()).or_default();
        let mut missing: HashSet<&MeterRef> = HashSet::new();
        for r in refs {
            let fresh = cache.get(*r).is_some_and(|e| {
                let ttl = match e.resolved {
                    Resolved::Meter(_) => KNOWN_TTL,
                    Resolved::Unknown { .. } => UNKNOWN_TTL,
                };
                now.duration_since(e.fetched) < ttl
            });
            if !fresh {
                missing.insert(r);
            }
        }
        if !missing.is_empty() {
            let missing: Vec<&MeterRef> = missing.into_iter().collect();
            let found = self.lookup(scope, &missing).await?;
            let cache = self.meters.entry(scope.clone()).or_default();
            for r in missing {
                let resolved = found.get(r).cloned().unwrap_or_else(|| Resolved::Unknown {
                    detail: match scope {
                        Scope::UnknownUtility(slug) => format!("no utility {slug:?}"),
                        _ => format!("no meter with {} {}", r.kind(), r.as_str()),
                    },
                });
                cache.insert(
                    r.clone(),
                    Entry {
                        resolved,
                        fetched: now,
                    },
                );
            }
        }
        let cache = &self.meters[scope];
        Ok(refs.iter().map(|r| cache[*r].resolved.clone()).collect())
    }

    async fn lookup(
        &self,
        scope: &Scope,
        refs: &[&MeterRef],
    ) -> sqlx::Result<HashMap<MeterRef, Resolved>> {
        let utility = match scope {
            Scope::Utility(id) => *id,
            Scope::UnknownUtility(_) => return Ok(HashMap::new()),
        };
        let serials: Vec<String> = refs
            .iter()
            .filter_map(|r| match r {
                MeterRef::Serial(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        let radio_ids: Vec<String> = refs
            .iter()
            .filter_map(|r| match r {
                MeterRef::RadioId(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        let wanted_serials: HashSet<&str> = serials.iter().map(String::as_str).collect();
        let wanted_radios: HashSet<&str> = radio_ids.iter().map(String::as_str).collect();
        // Joins, not `= ANY`: the planner can hash a large round of references.
        let rows = sqlx::query!(
            r#"SELECT m.id AS "id!", m.utility_id AS "utility_id!", m.serial AS "serial!",
                      m.radio_id, m.register_max_litres AS "register_max_litres!", m.installed_at,
                      m.removed_at, m.diameter_mm,
                      m.purpose IN ('zone_inlet', 'zone_outlet') AS "network!"
               FROM meters m JOIN unnest($2::text[]) AS s(v) ON m.serial = s.v
               WHERE m.utility_id = $1
               UNION ALL
               SELECT m.id, m.utility_id, m.serial, m.radio_id, m.register_max_litres,
                      m.installed_at, m.removed_at, m.diameter_mm,
                      m.purpose IN ('zone_inlet', 'zone_outlet')
               FROM meters m JOIN unnest($3::text[]) AS r(v) ON m.radio_id = r.v
               WHERE m.utility_id = $1"#,
            utility,
            &serials,
            &radio_ids,
        )
        .fetch_all(&self.pool)
        .await?;
        let mut found = HashMap::new();
        for row in rows {
            let info = Arc::new(MeterInfo {
                id: row.id,
                utility_id: row.utility_id,
                register: Register::new(row.register_max_litres)
                    .expect("the schema keeps register_max_litres positive"),
                installed_at: row.installed_at,
                removed_at: row.removed_at,
                max_flow_litres_per_hour: MeterInfo::max_flow_for_diameter(row.diameter_mm),
                network: row.network,
            });
            // A meter named by both its serial and its radio id in one round comes back from
            // both halves of the query; each reference gets it once.
            if wanted_serials.contains(row.serial.as_str()) {
                found.insert(
                    MeterRef::Serial(row.serial.clone()),
                    Resolved::Meter(info.clone()),
                );
            }
            if let Some(radio) = row.radio_id
                && wanted_radios.contains(radio.as_str())
            {
                found.insert(MeterRef::RadioId(radio), Resolved::Meter(info));
            }
        }
        Ok(found)
    }

    /// Forgets cached "unknown" answers for these references, so the next resolution asks the
    /// database (quarantine replay: the meter was registered since).
    pub fn forget_unknown(&mut self, scope: &Scope, refs: &[&MeterRef]) {
        if let Some(cache) = self.meters.get_mut(scope) {
            for r in refs {
                if matches!(
                    cache.get(*r),
                    Some(Entry {
                        resolved: Resolved::Unknown { .. },
                        ..
                    })
                ) {
                    cache.remove(*r);
                }
            }
        }
    }

    /// Forgets everything (after staff change meters, tests).
    pub fn clear(&mut self) {
        self.meters.clear();
        self.utilities.clear();
    }
}
