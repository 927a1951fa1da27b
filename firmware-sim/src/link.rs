//! One MQTT connection that publishes with QoS 1 and knows which messages the broker has
//! acknowledged: a bounded in-flight window, an optional rate limit, reconnection with back-off,
//! and retransmission of exactly the unacknowledged messages after a reconnect.
//!
//! # Client
//!
//! The MQTT 5 client of rumqttc (`rumqttc::v5`): its PUBACKs carry a reason code, so a message
//! the broker refuses (not authorised, quota exceeded, payload format invalid…) is counted as
//! refused instead of delivered, and it honours the broker's Receive Maximum. The ingest also
//! speaks MQTT 5.
//!
//! # Acknowledgement tracking
//!
//! rumqttc assigns packet ids itself and, on reconnect, drops what it had pending unless the
//! broker resumes the session; a restarted broker without persistence does not. So the link
//! keeps every message until its PUBACK and does its own bookkeeping, with a clean session:
//!
//! * a message handed to the client (`try_publish`) is *submitted*; the eventloop's
//!   `Outgoing::Publish(pkid)` events come in submission order, giving each its packet id;
//! * a PUBACK with that packet id acknowledges it, releases its place in the window and records
//!   it in the [`LinkStats`];
//! * on a connection error the link stops submitting, lets the eventloop drop whatever it still
//!   held (`EventLoop::clean`, then a clean-start CONNACK), and after the new CONNACK submits
//!   every unacknowledged message again, oldest first. Acknowledged messages are never sent
//!   again; a message whose PUBACK was lost with the connection is (QoS 1 allows duplicates).
//!
//! The eventloop runs in its own task and only polls: its `poll` future is never cancelled
//! mid-write.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use rumqttc::Outgoing;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Packet, PubAckReason};
use rumqttc::v5::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::encode::FormatKind;
use crate::garbage::GarbageKind;
use crate::publish::{ManifestGarbage, ManifestReading};

/// Where the broker is and how to log in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broker {
    pub host: String,
    pub port: u16,
    /// Client id; connections of one run append `-<n>`.
    pub client_id: String,
    /// User name and password.
    pub credentials: Option<(String, String)>,
    /// MQTT keep-alive.
    pub keep_alive: Duration,
}

impl Broker {
    /// A broker at `url` (`mqtt://[user[:password]@]host[:port]`, also `tcp://`; port 1883 by
    /// default).
    pub fn from_url(url: &str, client_id: impl Into<String>) -> anyhow::Result<Broker> {
        let rest = url
            .strip_prefix("mqtt://")
            .or_else(|| url.strip_prefix("tcp://"))
            .with_context(|| {
                format!("broker URL {url:?}: only mqtt:// and tcp:// are supported")
            })?;
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        let (credentials, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => {
                let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                (Some((user.to_string(), password.to_string())), hostport)
            }
            None => (None, authority),
        };
        let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
            // [v6]:port
            let (host, after) = bracketed
                .split_once(']')
                .with_context(|| format!("broker URL {url:?}: unclosed ["))?;
            let port = after.strip_prefix(':');
            (host.to_string(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        let port = match port {
            Some(p) => p
                .parse()
                .with_context(|| format!("broker URL {url:?}: bad port {p:?}"))?,
            None => 1883,
        };
        if host.is_empty() {
            bail!("broker URL {url:?} has no host");
        }
        Ok(Broker {
            host,
            port,
            client_id: client_id.into(),
            credentials,
            keep_alive: Duration::from_secs(15),
        })
    }

    /// MQTT 5 options of connection `n` with an in-flight window of `window`.
    pub(crate) fn options(&self, n: Option<usize>, window: u16) -> MqttOptions {
        let id = match n {
            Some(n) => format!("{}-{n}", self.client_id),
            None => self.client_id.clone(),
        };
        let mut o = MqttOptions::new(id, self.host.clone(), self.port);
        o.set_keep_alive(self.keep_alive);
        o.set_clean_start(true);
        o.set_outgoing_inflight_upper_limit(window);
        if let Some((user, password)) = &self.credentials {
            o.set_credentials(user.clone(), password.clone());
        }
        o
    }
}

/// What a message is, for counting and for the manifest.
#[derive(Clone, Debug, Default)]
pub(crate) struct Meta {
    /// The valid format it is in, or `None` for garbage.
    pub format: Option<FormatKind>,
    pub garbage: Option<GarbageKind>,
    /// Valid reading elements in it (identical duplicates included).
    pub readings: u32,
    /// Identical duplicates (made by the model) among them.
    pub duplicates: u32,
    /// Late (out-of-order) transmissions among them.
    pub late: u32,
    /// Manifest entries, when a manifest is kept.
    pub manifest: Option<Box<ManifestPart>>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct ManifestPart {
    pub readings: Vec<ManifestReading>,
    pub garbage: Option<ManifestGarbage>,
}

/// What one connection achieved.
#[derive(Clone, Debug, Default)]
pub(crate) struct LinkStats {
    pub messages: BTreeMap<FormatKind, u64>,
    pub garbage: BTreeMap<GarbageKind, u64>,
    pub readings: u64,
    pub duplicates: u64,
    pub late: u64,
    pub payload_bytes: u64,
    pub retransmissions: u64,
    pub reconnects: u64,
    pub connection_errors: u64,
    pub refused: u64,
    /// Messages given up after [`MAX_ATTEMPTS`] submissions without an acknowledgement.
    pub failed: u64,
    pub unacknowledged: u64,
    pub first_ack: Option<Instant>,
    pub last_ack: Option<Instant>,
    pub manifest_readings: BTreeSet<ManifestReading>,
    pub manifest_garbage: Vec<ManifestGarbage>,
}

impl LinkStats {
    fn acknowledged(&mut self, meta: Meta, bytes: usize, at: Instant) {
        if let Some(f) = meta.format {
            *self.messages.entry(f).or_default() += 1;
            metrics::counter!("firmware_sim_messages_total", "format" => f.name()).increment(1);
        }
        if let Some(g) = meta.garbage {
            *self.garbage.entry(g).or_default() += 1;
            metrics::counter!("firmware_sim_garbage_total", "kind" => g.name()).increment(1);
        }
        self.readings += u64::from(meta.readings);
        self.duplicates += u64::from(meta.duplicates);
        self.late += u64::from(meta.late);
        self.payload_bytes += bytes as u64;
        self.first_ack.get_or_insert(at);
        self.last_ack = Some(at);
        if let Some(part) = meta.manifest {
            self.manifest_readings.extend(part.readings);
            self.manifest_garbage.extend(part.garbage);
        }
    }

    /// Adds the counts of `other`.
    pub(crate) fn merge(&mut self, other: LinkStats) {
        for (k, v) in other.messages {
            *self.messages.entry(k).or_default() += v;
        }
        for (k, v) in other.garbage {
            *self.garbage.entry(k).or_default() += v;
        }
        self.readings += other.readings;
        self.duplicates += other.duplicates;
        self.late += other.late;
        self.payload_bytes += other.payload_bytes;
        self.retransmissions += other.retransmissions;
        self.reconnects += other.reconnects;
        self.connection_errors += other.connection_errors;
        self.refused += other.refused;
        self.failed += other.failed;
        self.unacknowledged += other.unacknowledged;
        self.first_ack = match (self.first_ack, other.first_ack) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_ack = match (self.last_ack, other.last_ack) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.manifest_readings.extend(other.manifest_readings);
        self.manifest_garbage.extend(other.manifest_garbage);
    }
}

/// Submissions of one message (each after a connection loss) before it is given up: a message
/// the broker keeps dropping the connection over (too large for it, say) must not loop forever.
pub(crate) const MAX_ATTEMPTS: u32 = 10;

/// A message on its way, holding its place in the window until acknowledged.
struct Message {
    topic: String,
    payload: Bytes,
    meta: Meta,
    attempts: u32,
    _permit: OwnedSemaphorePermit,
}

/// The publishing end of a connection.
pub(crate) struct Link {
    to_actor: mpsc::Sender<Message>,
    window: Arc<Semaphore>,
    capacity: u32,
    rate: Option<Duration>,
    next_slot: Instant,
    actor: JoinHandle<LinkStats>,
    stop: CancellationToken,
}

impl Link {
    /// Connects (in the background: messages wait until the broker accepts the connection)
    /// with at most `window` unacknowledged messages and at most `rate` messages a second.
    pub(crate) fn open(broker: &Broker, n: Option<usize>, window: u16, rate: Option<f64>) -> Link {
        let window = window.max(1);
        let options = broker.options(n, window);
        let (client, eventloop) = AsyncClient::new(options, usize::from(window) + 16);
        let (to_actor, from_link) = mpsc::channel(usize::from(window));
        let stop = CancellationToken::new();
        let actor = tokio::spawn(actor(
            client,
            eventloop,
            from_link,
            usize::from(window),
            stop.clone(),
        ));
        Link {
            to_actor,
            window: Arc::new(Semaphore::new(usize::from(window))),
            capacity: u32::from(window),
            rate: rate
                .filter(|r| r.is_finite() && *r > 0.0)
                .map(|r| Duration::from_secs_f64(1.0 / r)),
            next_slot: Instant::now(),
            actor,
            stop,
        }
    }

    /// Queues a message, waiting for a place in the window (and for the rate limit). Fails only
    /// if the connection task has ended.
    pub(crate) async fn send(
        &mut self,
        topic: String,
        payload: Bytes,
        meta: Meta,
    ) -> anyhow::Result<()> {
        if let Some(interval) = self.rate {
            let now = Instant::now();
            if self.next_slot > now {
                tokio::time::sleep_until(self.next_slot).await;
            }
            self.next_slot = self.next_slot.max(now) + interval;
        }
        let permit = Arc::clone(&self.window)
            .acquire_owned()
            .await
            .context("the MQTT connection task has ended")?;
        self.to_actor
            .send(Message {
                topic,
                payload,
                meta,
                attempts: 0,
                _permit: permit,
            })
            .await
            .map_err(|_| anyhow::anyhow!("the MQTT connection task has ended"))
    }

    /// Waits until every queued message is acknowledged, or `shutdown` is cancelled (then at
    /// most `grace` more), and closes the connection.
    pub(crate) async fn finish(self, shutdown: &CancellationToken, grace: Duration) -> LinkStats {
        let all = Arc::clone(&self.window);
        let capacity = self.capacity;
        let drained = async move {
            let _ = all.acquire_many(capacity).await;
        };
        tokio::pin!(drained);
        tokio::select! {
            _ = &mut drained => {}
            _ = shutdown.cancelled() => {
                let _ = tokio::time::timeout(grace, &mut drained).await;
            }
        }
        drop(self.to_actor);
        self.stop.cancel();
        self.actor.await.unwrap_or_default()
    }
}

/// What the eventloop task tells the actor.
type Polled = Result<Event, ConnectionError>;

/// Polls the eventloop and forwards every event. After an error it waits for the actor to say
/// it has stopped submitting (sending the back-off to wait), drops what the eventloop still
/// holds, and reconnects.
async fn poll_loop(
    mut eventloop: EventLoop,
    events: mpsc::Sender<Polled>,
    mut resume: mpsc::Receiver<Duration>,
) {
    loop {
        let polled = eventloop.poll().await;
        let failed = polled.is_err();
        if events.send(polled).await.is_err() {
            return;
        }
        if failed {
            let Some(backoff) = resume.recv().await else {
                return;
            };
            eventloop.clean();
            tokio::time::sleep(backoff).await;
        }
    }
}

async fn actor(
    client: AsyncClient,
    eventloop: EventLoop,
    mut from_link: mpsc::Receiver<Message>,
    window: usize,
    stop: CancellationToken,
) -> LinkStats {
    let (events_tx, mut events) = mpsc::channel(1_024);
    let (resume_tx, resume_rx) = mpsc::channel(1);
    let poller = tokio::spawn(poll_loop(eventloop, events_tx, resume_rx));

    let mut stats = LinkStats::default();
    let mut next_id: u64 = 0;
    let mut messages: HashMap<u64, Message> = HashMap::new();
    let mut queue: VecDeque<u64> = VecDeque::new();
    let mut submitted: VecDeque<u64> = VecDeque::new();
    let mut in_flight: HashMap<u16, u64> = HashMap::new();
    let mut connected = false;
    let mut ever_connected = false;
    let mut link_open = true;
    let mut backoff = Duration::from_millis(50);

    loop {
        if !link_open && messages.is_empty() {
            break;
        }
        while connected && submitted.len() + in_flight.len() < window {
            let Some(id) = queue.pop_front() else { break };
            let Some(m) = messages.get_mut(&id) else {
                continue;
            };
            if m.attempts >= MAX_ATTEMPTS {
                tracing::error!(
                    topic = %m.topic,
                    bytes = m.payload.len(),
                    "giving up on a message after {MAX_ATTEMPTS} attempts"
                );
                stats.failed += 1;
                messages.remove(&id);
                continue;
            }
            match client.try_publish(m.topic.clone(), QoS::AtLeastOnce, false, m.payload.clone()) {
                Ok(()) => {
                    if m.attempts > 0 {
                        stats.retransmissions += 1;
                    }
                    m.attempts += 1;
                    submitted.push_back(id);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "request channel full; retrying later");
                    queue.push_front(id);
                    break;
                }
            }
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            polled = events.recv() => {
                let Some(polled) = polled else { break };
                match polled {
                    Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                        if ever_connected {
                            stats.reconnects += 1;
                            tracing::info!("reconnected to the MQTT broker");
                        }
                        ever_connected = true;
                        connected = true;
                        backoff = Duration::from_millis(50);
                        if !ack.session_present {
                            // The eventloop dropped whatever it held: submit it all again.
                            let mut again: Vec<u64> = submitted
                                .drain(..)
                                .chain(in_flight.drain().map(|(_, id)| id))
                                .collect();
                            again.sort_unstable();
                            for id in again.into_iter().rev() {
                                queue.push_front(id);
                            }
                        }
                    }
                    Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                        if let Some(id) = submitted.pop_front() {
                            in_flight.insert(pkid, id);
                        }
                    }
                    Ok(Event::Incoming(Packet::PubAck(ack))) => {
                        if let Some(id) = in_flight.remove(&ack.pkid)
                            && let Some(m) = messages.remove(&id)
                        {
                            if matches!(
                                ack.reason,
                                PubAckReason::Success | PubAckReason::NoMatchingSubscribers
                            ) {
                                stats.acknowledged(m.meta, m.payload.len(), Instant::now());
                            } else {
                                tracing::warn!(topic = %m.topic, reason = ?ack.reason,
                                    "the broker refused a message");
                                stats.refused += 1;
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        stats.connection_errors += 1;
                        if connected {
                            tracing::warn!(error = %e, "MQTT connection lost; reconnecting");
                        } else if stats.connection_errors % 30 == 1 {
                            tracing::warn!(
                                error = %e,
                                attempts = stats.connection_errors,
                                "cannot connect to the MQTT broker; retrying"
                            );
                        } else {
                            tracing::debug!(error = %e, "MQTT connection attempt failed");
                        }
                        connected = false;
                        if resume_tx.send(backoff).await.is_err() {
                            break;
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(2));
                    }
                }
            }
            m = from_link.recv(), if link_open => match m {
                Some(m) => {
                    messages.insert(next_id, m);
                    queue.push_back(next_id);
                    next_id += 1;
                }
                None => link_open = false,
            },
        }
    }
    stats.unacknowledged = messages.len() as u64;
    // Say goodbye if we can, without waiting for a dead broker.
    if connected {
        let _ = client.try_disconnect();
        let _ = tokio::time::timeout(Duration::from_millis(500), async {
            while let Some(e) = events.recv().await {
                if matches!(e, Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_)) {
                    break;
                }
            }
        })
        .await;
    }
    poller.abort();
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls_give_host_port_and_credentials() {
        let b = Broker::from_url("mqtt://127.0.0.1:38769", "sim").unwrap();
        assert_eq!(
            (b.host.as_str(), b.port, b.credentials),
            ("127.0.0.1", 38769, None)
        );
        let b = Broker::from_url("tcp://user:secret@broker.local", "sim").unwrap();
        assert_eq!((b.host.as_str(), b.port), ("broker.local", 1883));
        assert_eq!(b.credentials, Some(("user".into(), "secret".into())));
        let b = Broker::from_url("mqtt://[::1]:1884/", "sim").unwrap();
        assert_eq!((b.host.as_str(), b.port), ("::1", 1884));
        assert!(Broker::from_url("mqtts://x", "sim").is_err());
        assert!(Broker::from_url("mqtt://x:port", "sim").is_err());
        assert!(Broker::from_url("mqtt://:1883", "sim").is_err());
    }
}
