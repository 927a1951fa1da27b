//! The MQTT source (MQTT 5 through rumqttc): a persistent session (clean start off, session
//! expiry set) so the broker queues readings while ingest is away, QoS 1 subscriptions (shared
//! when `ingest.shared_group` is set), and manual acknowledgements: a message is acknowledged
//! only after all of its readings are committed, and acknowledgements go out in the order the
//! messages arrived (MQTT requires PUBACKs in receive order). A crash therefore redelivers instead
//! of losing.
//!
//! The rumqttc event loop runs in a task of its own and is never cancelled mid-poll; it
//! reconnects forever with back-off, and the handler resubscribes on every CONNACK. A bad
//! message is decoded into rejections and acknowledged like any other: it never stalls the stream.
//!
//! Whose readings a message carries is the topic's utility level (the filter's first `+`:
//! `ebok/<utility>/readings`, `wmbusmeters/<utility>/…`), which the broker's ACL lets only that
//! utility's gateways publish to (`crate::gateways`). Ingest announces its largest packet in
//! CONNECT ([`max_packet_size`]), so an MQTT 5 broker never sends it a larger one; the local
//! broker refuses such publishes from the start.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use anyhow::{Context, Result};
use ebok_common::backoff::Backoff;
use ebok_common::config::{IngestConfig, MqttConfig};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Packet, Publish};
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use secrecy::ExposeSecret;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::ack::Ack;
use crate::decode::{self, Limits};
use crate::pipeline::{Envelope, Origin};

/// How a subscription's payloads are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    Own,
    Wmbusmeters,
}

#[derive(Debug, Clone)]
struct Subscription {
    filter: String,
    format: PayloadFormat,
}

/// Whether `topic` matches the MQTT topic filter `filter` (`+` one level, `#` the rest).
/// A shared subscription's `$share/<group>/` prefix is not part of the filter.
pub fn topic_matches(filter: &str, topic: &str) -> bool {
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return !topic.starts_with('$'),
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// The topic level matched by the filter's first `+`: the utility in `ebok/+/readings`.
pub fn first_wildcard_level<'t>(filter: &str, topic: &'t str) -> Option<&'t str> {
    filter
        .split('/')
        .zip(topic.split('/'))
        .find_map(|(f, t)| (f == "+").then_some(t))
}

/// Room for a PUBLISH's fixed header, topic (at most 64 KiB), packet id and properties around a
/// payload of the configured maximum.
pub const PACKET_OVERHEAD: usize = 64 * 1024;

/// The largest MQTT packet that carries a payload of `max_payload_bytes`: what ingest announces
/// in CONNECT and the local broker's `max_packet_size`.
pub fn max_packet_size(max_payload_bytes: usize) -> u32 {
    u32::try_from(max_payload_bytes.saturating_add(PACKET_OVERHEAD)).unwrap_or(u32::MAX)
}

/// Connection state for callers that must wait for the subscriptions (tests, benchmarks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Link {
    #[default]
    Connecting,
    /// Connected and every subscription acknowledged by the broker.
    Subscribed,
}

/// Orders acknowledgements: PUBACKs go out in the order messages arrived, each once its
/// readings are committed.
#[derive(Default)]
struct Sequencer {
    next: u64,
    queue: VecDeque<(u64, Publish)>,
    done: HashMap<u64, bool>,
}

impl Sequencer {
    fn admit(&mut self, publish: &Publish) -> u64 {
        let seq = self.next;
        self.next += 1;
        // Only the packet id and QoS matter for the acknowledgement.
        let mut stub = Publish::new(String::new(), publish.qos, Vec::<u8>::new(), None);
        stub.pkid = publish.pkid;
        self.queue.push_back((seq, stub));
        seq
    }

    fn complete(&mut self, seq: u64, settled: bool) {
        self.done.insert(seq, settled);
    }

    /// The publishes now due for acknowledgement, in order. Abandoned ones are skipped: the
    /// broker redelivers them.
    fn due(&mut self) -> Vec<Publish> {
        let mut due = Vec::new();
        while let Some((seq, _)) = self.queue.front() {
            let Some(settled) = self.done.remove(seq) else {
                break;
            };
            let (_, publish) = self.queue.pop_front().expect("front exists");
            if settled {
                due.push(publish);
            }
        }
        due
    }
}

pub struct MqttSource {
    pub ingest: IngestConfig,
    pub mqtt: MqttConfig,
}

/// Ingest's MQTT client settings: a persistent session under `ingest.client_id`, acknowledged
/// by hand once committed, with the broker's flow control and packet limit. Also what the
/// ingest benchmark's broker-only subscriber uses, so that the two differ only in the work.
pub fn client_options(ingest: &IngestConfig, mqtt: &MqttConfig) -> Result<MqttOptions> {
    let raw = mqtt
        .url
        .as_deref()
        .context("mqtt.url (EBOK__MQTT__URL) is not set")?;
    let url = url::Url::parse(raw)
        .with_context(|| format!("mqtt.url (EBOK__MQTT__URL) {raw:?} is not a URL"))?;
    let host = url
        .host_str()
        .with_context(|| format!("mqtt.url {raw:?} has no host"))?;
    let tls = url.scheme() == "mqtts";
    let port = url.port().unwrap_or(if tls { 8883 } else { 1883 });
    let mut options = MqttOptions::new(ingest.client_id.clone(), host, port);
    options
        .set_clean_start(false)
        .set_session_expiry_interval(Some(ingest.session_expiry_secs))
        .set_manual_acks(true)
        .set_keep_alive(Duration::from_secs(30))
        // How many unacknowledged messages the broker may send ahead: the flow control that
        // keeps the writers fed without unbounded memory.
        .set_receive_maximum(Some(10_000))
        // The largest packet ingest takes: an MQTT 5 broker must not send larger ones (it
        // drops them for this client). Payloads between max_payload_bytes and this still
        // reach the decoder, which rejects them with their reason and acknowledges them.
        .set_max_packet_size(Some(max_packet_size(ingest.max_payload_bytes)));
    if let (Some(user), Some(password)) = (&mqtt.username, &mqtt.password) {
        options.set_credentials(user.clone(), password.expose_secret().to_string());
    }
    if tls {
        options.set_transport(rumqttc::Transport::tls_with_default_config());
    }
    Ok(options)
}

impl MqttSource {
    fn subscriptions(&self) -> Vec<Subscription> {
        self.ingest
            .topics
            .iter()
            .map(|f| (f, PayloadFormat::Own))
            .chain(
                self.ingest
                    .wmbusmeters_topics
                    .iter()
                    .map(|f| (f, PayloadFormat::Wmbusmeters)),
            )
            .map(|(f, format)| Subscription {
                filter: f.clone(),
                format,
            })
            .collect()
    }

    /// Runs until `stop_intake`; then acknowledges what the writers still commit until
    /// `disconnect`, and disconnects.
    pub async fn run(
        self,
        out: mpsc::Sender<Envelope>,
        link: watch::Sender<Link>,
        stop_intake: CancellationToken,
        disconnect: CancellationToken,
    ) -> Result<()> {
        let options = client_options(&self.ingest, &self.mqtt)?;
        let subscriptions = self.subscriptions();
        let shared = self.ingest.shared_group.clone();
        let limits = Limits {
            max_payload_bytes: self.ingest.max_payload_bytes,
            max_batch_readings: self.ingest.max_batch_readings,
        };
        let (client, mut eventloop) = AsyncClient::new(options, 10_000);

        // The event loop: polled without interruption, reconnecting with back-off.
        let (events_tx, mut events) = mpsc::channel::<Result<Event, String>>(256);
        let poller = tokio::spawn(async move {
            let mut failures = 0u32;
            loop {
                match eventloop.poll().await {
                    Ok(event) => {
                        failures = 0;
                        if events_tx.send(Ok(event)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        failures += 1;
                        if events_tx.send(Err(e.to_string())).await.is_err() {
                            return;
                        }
                        let wait = backoff(failures);
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        });

        let (acks_tx, mut acks) = mpsc::unbounded_channel::<(u64, bool)>();
        let mut sequencer = Sequencer::default();
        // PUBACKs waiting for room in the client's request queue. The handler must never wait
        // for that room: the queue drains only while the event loop polls, and the event loop
        // may itself be waiting for the handler to take its next event.
        let mut unsent: VecDeque<Publish> = VecDeque::new();
        let mut retry = tokio::time::interval(Duration::from_millis(5));
        let mut pending_subacks = 0usize;
        let mut intake = true;
        let mut out = Some(out);
        loop {
            tokio::select! {
                biased;
                _ = disconnect.cancelled() => break,
                Some((seq, settled)) = acks.recv() => {
                    sequencer.complete(seq, settled);
                    while let Ok((seq, settled)) = acks.try_recv() {
                        sequencer.complete(seq, settled);
                    }
                    unsent.extend(sequencer.due());
                    send_acks(&client, &mut unsent);
                }
                _ = retry.tick(), if !unsent.is_empty() => send_acks(&client, &mut unsent),
                _ = stop_intake.cancelled(), if intake => {
                    intake = false;
                    out = None; // the router sees its inbox close once every source is done
                }
                event = events.recv() => {
                    let Some(event) = event else { break };
                    match event {
                        Ok(Event::Incoming(Packet::ConnAck(connack))) => {
                            let shared_ok = connack
                                .properties
                                .as_ref()
                                .and_then(|p| p.shared_subscription_available)
                                .is_none_or(|v| v == 1);
                            tracing::info!(session_present = connack.session_present, "connected to the broker");
                            metrics::counter!("ingest_mqtt_connects_total").increment(1);
                            if shared.is_some() && !shared_ok {
                                tracing::warn!("the broker does not offer shared subscriptions; every ingest process gets every message");
                            }
                            pending_subacks = subscriptions.len();
                            for s in &subscriptions {
                                let filter = match &shared {
                                    Some(group) if shared_ok => format!("$share/{group}/{}", s.filter),
                                    _ => s.filter.clone(),
                                };
                                client.subscribe(filter, QoS::AtLeastOnce).await?;
                            }
                        }
                        Ok(Event::Incoming(Packet::SubAck(_))) => {
                            pending_subacks = pending_subacks.saturating_sub(1);
                            if pending_subacks == 0 {
                                tracing::info!(filters = subscriptions.len(), "subscribed");
                                let _ = link.send(Link::Subscribed);
                            }
                        }
                        Ok(Event::Incoming(Packet::Publish(publish))) => {
                            let Some(out) = out.as_ref().filter(|_| intake) else {
                                continue; // stopping: left unacknowledged for redelivery
                            };
                            let envelope = decode_publish(&publish, &subscriptions, &limits);
                            let envelope = match envelope {
                                Some(mut envelope) if publish.qos != QoS::AtMostOnce => {
                                    let seq = sequencer.admit(&publish);
                                    metrics::gauge!("ingest_mqtt_unacknowledged").set(sequencer.queue.len() as f64);
                                    if seq % 1000 == 0 {
                                        tracing::debug!(seq, unacknowledged = sequencer.queue.len(), unsent = unsent.len(), "mqtt flow");
                                    }
                                    let acks_tx = acks_tx.clone();
                                    envelope.ack = Some(Ack::new(move |settled| {
                                        let _ = acks_tx.send((seq, settled));
                                    }));
                                    envelope
                                }
                                Some(envelope) => envelope,
                                None => continue,
                            };
                            if out.send(envelope).await.is_err() {
                                break;
                            }
                        }
                        Ok(Event::Incoming(Packet::Disconnect(d))) => {
                            tracing::warn!(reason = ?d.reason_code, "the broker closed the session");
                            let _ = link.send(Link::Connecting);
                        }
                        Ok(_) => {}
                        Err(e) => {
                            let _ = link.send(Link::Connecting);
                            metrics::counter!("ingest_mqtt_errors_total").increment(1);
                            tracing::warn!(error = %e, "broker connection lost; reconnecting");
                        }
                    }
                }
            }
        }
        drop(out);
        let _ = client.disconnect().await;
        // Give the event loop a moment to send the acknowledgements and the DISCONNECT.
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(event) = events.recv().await {
                if event.is_err() {
                    break;
                }
            }
        })
        .await;
        poller.abort();
        Ok(())
    }
}

/// Offers queued PUBACKs to the client without waiting; what does not fit stays queued, in
/// order.
fn send_acks(client: &AsyncClient, unsent: &mut VecDeque<Publish>) {
    while let Some(publish) = unsent.front() {
        match client.try_ack(publish) {
            Ok(()) => {
                unsent.pop_front();
            }
            Err(rumqttc::v5::ClientError::TryRequest(_)) => return,
            Err(_) => {
                tracing::warn!("acknowledgements not sent: the MQTT client is closed");
                unsent.clear();
                return;
            }
        }
    }
}

/// The wait before reconnecting after `failures` failed attempts in a row: 200 ms doubling up
/// to 10 s, jittered so that many ingest processes do not reconnect in lockstep.
fn backoff(failures: u32) -> Duration {
    Backoff::new(Duration::from_millis(200), Duration::from_secs(10)).random(failures.max(1))
}

/// Decodes one message by the subscription its topic matches; the topic's utility level says
/// whose readings they are.
fn decode_publish(
    publish: &Publish,
    subscriptions: &[Subscription],
    limits: &Limits,
) -> Option<Envelope> {
    let topic = String::from_utf8_lossy(&publish.topic).into_owned();
    let Some(subscription) = subscriptions
        .iter()
        .find(|s| topic_matches(&s.filter, &topic))
    else {
        tracing::debug!(%topic, "message on a topic no subscription matches");
        return None;
    };
    let Some(utility) = first_wildcard_level(&subscription.filter, &topic).map(str::to_string)
    else {
        // The configuration refuses filters without a utility level; nothing to attribute to.
        tracing::warn!(%topic, filter = %subscription.filter, "the topic names no utility");
        return None;
    };
    let (decoded, format) = match subscription.format {
        PayloadFormat::Own => (decode::decode_own(&publish.payload, limits), "own"),
        PayloadFormat::Wmbusmeters => (
            decode::decode_wmbusmeters(&publish.payload, limits),
            "wmbusmeters",
        ),
    };
    metrics::counter!("ingest_messages_total", "format" => format).increment(1);
    Some(Envelope {
        origin: Origin::Mqtt { topic },
        utility,
        decoded,
        ack: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_match_like_mqtt() {
        assert!(topic_matches("ebok/+/readings", "ebok/mlynary/readings"));
        assert!(!topic_matches("ebok/+/readings", "ebok/mlynary/other"));
        assert!(!topic_matches("ebok/+/readings", "ebok/readings"));
        assert!(topic_matches(
            "wmbusmeters/+/#",
            "wmbusmeters/mlynary/kitchen"
        ));
        assert!(topic_matches("wmbusmeters/#", "wmbusmeters/kitchen"));
        assert!(topic_matches("wmbusmeters/#", "wmbusmeters"));
        assert!(!topic_matches("#", "$SYS/broker/uptime"));
    }

    #[test]
    fn the_utility_is_the_level_under_the_first_wildcard() {
        assert_eq!(
            first_wildcard_level("ebok/+/readings", "ebok/mlynary/readings"),
            Some("mlynary")
        );
        assert_eq!(
            first_wildcard_level("wmbusmeters/+/#", "wmbusmeters/mlynary/kitchen/x"),
            Some("mlynary")
        );
        assert_eq!(first_wildcard_level("wmbusmeters/#", "wmbusmeters/a"), None);
    }

    fn publish(pkid: u16) -> Publish {
        let mut p = Publish::new("t", QoS::AtLeastOnce, b"x".to_vec(), None);
        p.pkid = pkid;
        p
    }

    #[test]
    fn the_announced_packet_size_leaves_room_for_the_topic_above_the_payload_limit() {
        assert_eq!(max_packet_size(4 << 20), (4 << 20) + 65_536);
        assert_eq!(max_packet_size(usize::MAX), u32::MAX);
    }

    #[test]
    fn acknowledgements_leave_in_arrival_order() {
        let mut s = Sequencer::default();
        let a = s.admit(&publish(1));
        let b = s.admit(&publish(2));
        let c = s.admit(&publish(3));
        s.complete(c, true);
        s.complete(b, true);
        assert!(s.due().is_empty(), "the first message is not committed yet");
        s.complete(a, true);
        let pkids: Vec<u16> = s.due().iter().map(|p| p.pkid).collect();
        assert_eq!(pkids, [1, 2, 3]);
    }

    #[test]
    fn abandoned_messages_are_never_acknowledged() {
        let mut s = Sequencer::default();
        let a = s.admit(&publish(1));
        let b = s.admit(&publish(2));
        s.complete(a, false);
        s.complete(b, true);
        let pkids: Vec<u16> = s.due().iter().map(|p| p.pkid).collect();
        assert_eq!(pkids, [2]);
    }
}
