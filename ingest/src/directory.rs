//! Resolving meters as payloads name them (serial or radio id, within a utility when the topic or
//! device says which) to the meters in the database, with a cache: one query per batch of
//! misses, known meters kept for five minutes (so a removal or replacement is seen soon), unknown
//! references for thirty seconds (so a newly registered meter starts receiving quickly).
//!
//! A radio id without a utility resolves only when exactly one utility has a meter with it;
//! otherwise the reading is held in quarantine as ambiguous rather than guessed.

use std::collections::HashMap;
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

/// Scope of a lookup: a utility (by id), a utility named in a topic that does not exist, or none.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    Utility(i64),
    UnknownUtility(String),
    Any,
}

pub struct Directory {
    pool: PgPool,
    utilities: HashMap<String, (Option<i64>, Instant)>,
    meters: HashMap<(Scope, MeterRef), Entry>,
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
    pub async fn scope(&mut self, utility: Option<&str>) -> sqlx::Result<Scope> {
        let Some(slug) = utility else {
            return Ok(Scope::Any);
        };
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
        let mut missing: Vec<&MeterRef> = Vec::new();
        for r in refs {
            let fresh = self
                .meters
                .get(&(scope.clone(), (*r).clone()))
                .is_some_and(|e| {
                    let ttl = match e.resolved {
                        Resolved::Meter(_) => KNOWN_TTL,
                        Resolved::Unknown { .. } => UNKNOWN_TTL,
                    };
                    now.duration_since(e.fetched) < ttl
                });
            if !fresh && !missing.contains(r) {
                missing.push(r);
            }
        }
        if !missing.is_empty() {
            let found = self.lookup(scope, &missing).await?;
            for r in missing {
                let resolved = found.get(r).cloned().unwrap_or_else(|| Resolved::Unknown {
                    detail: match scope {
                        Scope::UnknownUtility(slug) => format!("no utility {slug:?}"),
                        _ => format!("no meter with {} {}", r.kind(), r.as_str()),
                    },
                });
                self.meters.insert(
                    (scope.clone(), r.clone()),
                    Entry {
                        resolved,
                        fetched: now,
                    },
                );
            }
        }
        Ok(refs
            .iter()
            .map(|r| self.meters[&(scope.clone(), (*r).clone())].resolved.clone())
            .collect())
    }

    async fn lookup(
        &self,
        scope: &Scope,
        refs: &[&MeterRef],
    ) -> sqlx::Result<HashMap<MeterRef, Resolved>> {
        let utility = match scope {
            Scope::Utility(id) => Some(*id),
            Scope::UnknownUtility(_) => return Ok(HashMap::new()),
            Scope::Any => None,
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
        let rows = sqlx::query!(
            r#"SELECT id, utility_id, serial, radio_id, register_max_litres, installed_at,
                      removed_at, diameter_mm
               FROM meters
               WHERE ($1::bigint IS NULL OR utility_id = $1)
                 AND (serial = ANY($2) OR radio_id = ANY($3))"#,
            utility,
            &serials,
            &radio_ids,
        )
        .fetch_all(&self.pool)
        .await?;
        let mut candidates: HashMap<MeterRef, Vec<MeterInfo>> = HashMap::new();
        for row in rows {
            let info = MeterInfo {
                id: row.id,
                utility_id: row.utility_id,
                register: Register::new(row.register_max_litres)
                    .expect("the schema keeps register_max_litres positive"),
                installed_at: row.installed_at,
                removed_at: row.removed_at,
                max_flow_litres_per_hour: MeterInfo::max_flow_for_diameter(row.diameter_mm),
            };
            if serials.contains(&row.serial) {
                candidates
                    .entry(MeterRef::Serial(row.serial.clone()))
                    .or_default()
                    .push(info.clone());
            }
            if let Some(radio) = row.radio_id
                && radio_ids.contains(&radio)
            {
                candidates
                    .entry(MeterRef::RadioId(radio))
                    .or_default()
                    .push(info);
            }
        }
        Ok(candidates
            .into_iter()
            .map(|(r, mut metas)| {
                let resolved = if metas.len() == 1 {
                    Resolved::Meter(Arc::new(metas.remove(0)))
                } else {
                    Resolved::Unknown {
                        detail: format!(
                            "{} {} belongs to meters of {} utilities; set ingest.wmbusmeters_utility or use a utility topic",
                            r.kind(),
                            r.as_str(),
                            metas.len()
                        ),
                    }
                };
                (r, resolved)
            })
            .collect())
    }

    /// Forgets cached "unknown" answers for these references, so the next resolution asks the
    /// database (quarantine replay: the meter was registered since).
    pub fn forget_unknown(&mut self, scope: &Scope, refs: &[&MeterRef]) {
        for r in refs {
            let key = (scope.clone(), (*r).clone());
            if matches!(
                self.meters.get(&key),
                Some(Entry {
                    resolved: Resolved::Unknown { .. },
                    ..
                })
            ) {
                self.meters.remove(&key);
            }
        }
    }

    /// Forgets everything (after staff change meters, tests).
    pub fn clear(&mut self) {
        self.meters.clear();
        self.utilities.clear();
    }
}
