//! The router: takes decoded messages from every source, resolves their meters (see
//! `directory`) and hands each reading to the writer shard of its meter, so one meter's readings
//! are always written by the same writer, in order. Readings of unknown meters go to quarantine,
//! decode rejections to be stored. Each piece of work carries a clone of its message's
//! acknowledgement.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ebok_common::backoff::Backoff;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::directory::{Directory, Resolved, Scope};
use crate::pipeline::{Envelope, Origin};
use crate::writer::{Provenance, Work};

/// How long to wait before retrying after the database failed (down, restarting).
const RETRY: Backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));

/// Messages taken from the inbox at once: their meters are resolved together, so a stream of
/// single-reading messages costs one lookup per round, not one per message.
const ROUND: usize = 512;

pub async fn run(
    mut directory: Directory,
    mut inbox: mpsc::Receiver<Envelope>,
    shards: Vec<mpsc::Sender<Work>>,
    shutdown: CancellationToken,
) {
    let mut next_shard = 0usize;
    let mut round = Vec::with_capacity(ROUND);
    loop {
        if inbox.recv_many(&mut round, ROUND).await == 0 {
            return;
        }
        metrics::gauge!("ingest_router_queue").set(inbox.len() as f64);
        if prefetch(&mut directory, &round, &shutdown).await.is_none() {
            return; // shutting down while the database is unreachable
        }
        for envelope in round.drain(..) {
            if !route(
                &mut directory,
                envelope,
                &shards,
                &mut next_shard,
                &shutdown,
            )
            .await
            {
                return;
            }
        }
    }
}

/// Resolves the meters of a whole round, one query per utility scope.
async fn prefetch(
    directory: &mut Directory,
    round: &[Envelope],
    shutdown: &CancellationToken,
) -> Option<()> {
    let mut by_scope: Vec<(&str, bool, Vec<&crate::reading::MeterRef>)> = Vec::new();
    for envelope in round {
        let utility = envelope.utility.as_str();
        let replay = envelope.origin == Origin::Quarantine;
        let refs = envelope.decoded.readings.iter().map(|r| &r.meter);
        match by_scope
            .iter_mut()
            .find(|(u, r, _)| *u == utility && *r == replay)
        {
            Some((_, _, all)) => all.extend(refs),
            None => by_scope.push((utility, replay, refs.collect())),
        }
    }
    for (utility, replay, refs) in by_scope {
        resolve(directory, utility, &refs, replay, shutdown).await?;
    }
    Some(())
}

/// Hands one message's pieces to the writer shards. `false` when the writers are gone.
async fn route(
    directory: &mut Directory,
    envelope: Envelope,
    shards: &[mpsc::Sender<Work>],
    next_shard: &mut usize,
    shutdown: &CancellationToken,
) -> bool {
    let Envelope {
        origin,
        utility,
        decoded,
        ack,
    } = envelope;
    let from = Arc::new(Provenance {
        origin,
        received: Instant::now(),
    });
    let refs: Vec<_> = decoded.readings.iter().map(|r| &r.meter).collect();
    // Served from the cache the prefetch just filled (a replay must not re-ask: it already did).
    let Some((scope, resolutions)) = resolve(directory, &utility, &refs, false, shutdown).await
    else {
        return false;
    };
    let utility_id = match scope {
        Scope::Utility(id) => Some(id),
        Scope::UnknownUtility(_) => None,
    };
    for rejection in decoded.rejected {
        *next_shard = (*next_shard + 1) % shards.len();
        let work = Work::Reject {
            utility_id,
            rejection,
            from: from.clone(),
            ack: ack.clone(),
        };
        if shards[*next_shard].send(work).await.is_err() {
            return false;
        }
    }
    for (reading, resolution) in decoded.readings.into_iter().zip(resolutions) {
        let (shard, work) = match resolution {
            Resolved::Meter(meter) => (
                (meter.id.unsigned_abs() % shards.len() as u64) as usize,
                Work::Reading {
                    meter,
                    reading,
                    from: from.clone(),
                    ack: ack.clone(),
                },
            ),
            Resolved::Unknown { detail } => {
                *next_shard = (*next_shard + 1) % shards.len();
                (
                    *next_shard,
                    Work::Quarantine {
                        utility_id,
                        reading,
                        detail,
                        from: from.clone(),
                        ack: ack.clone(),
                    },
                )
            }
        };
        if shards[shard].send(work).await.is_err() {
            return false;
        }
    }
    // The router's own share: every piece now holds a clone.
    if let Some(ack) = ack {
        ack.settle();
    }
    true
}

/// Resolves with retries while the database is unreachable; `None` if shutting down meanwhile.
async fn resolve(
    directory: &mut Directory,
    utility: &str,
    refs: &[&crate::reading::MeterRef],
    replay: bool,
    shutdown: &CancellationToken,
) -> Option<(Scope, Vec<Resolved>)> {
    let mut attempt = 0u32;
    loop {
        let result = async {
            let scope = directory.scope(utility).await?;
            if replay {
                directory.forget_unknown(&scope, refs);
            }
            let resolved = directory.resolve(&scope, refs).await?;
            Ok::<_, sqlx::Error>((scope, resolved))
        }
        .await;
        match result {
            Ok(r) => return Some(r),
            Err(e) => {
                attempt += 1;
                if shutdown.is_cancelled() && attempt >= 3 {
                    return None;
                }
                let wait = RETRY.random(attempt);
                tracing::warn!(error = %e, attempt, "resolving meters failed; retrying");
                tokio::time::sleep(wait).await;
            }
        }
    }
}
