//! Logs and metrics for the long-running commands: `tracing` to stderr (text or JSON lines,
//! filtered by `log.filter` or `RUST_LOG`), and a Prometheus exporter on its own address.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use ebok_common::config::{LogConfig, LogFormat, MetricsConfig};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Safe to call once per process.
pub fn init_logs(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Starts the Prometheus exporter; returns the address it listens on. When `fallback` is set and
/// the configured port is taken, it listens on a free port instead (the demo must start anyway).
pub fn start_metrics(config: &MetricsConfig, fallback: bool) -> Result<Option<SocketAddr>> {
    if !config.enabled {
        return Ok(None);
    }
    let mut addr = config.listen;
    // Port 0 means "any free port"; resolve it here so the address can be printed.
    match std::net::TcpListener::bind(addr) {
        Ok(probe) => addr = probe.local_addr()?,
        Err(_) if fallback => {
            addr.set_port(0);
            addr = std::net::TcpListener::bind(addr)?.local_addr()?;
        }
        Err(e) => anyhow::bail!(
            "metrics.listen (EBOK__METRICS__LISTEN) address {addr} is not available: {e}"
        ),
    }
    recorder()?
        .with_http_listener(addr)
        .install()
        .with_context(|| format!("starting the metrics exporter on {addr}"))?;
    Ok(Some(addr))
}

/// Installs the same recorder as [`start_metrics`] without its HTTP listener, with the upkeep the
/// listener would run, on the current Tokio runtime: a bench measures the API as it runs in
/// production, metrics recorded.
pub fn install_recorder_only() -> Result<()> {
    let handle = recorder()?
        .install_recorder()
        .context("installing the metrics recorder")?;
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            handle.run_upkeep();
        }
    });
    Ok(())
}

/// The Prometheus recorder's configuration: request latency buckets from 0.5 ms to 5 s.
fn recorder() -> Result<metrics_exporter_prometheus::PrometheusBuilder> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(&[
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ])
        .context("configuring metrics buckets")
}
