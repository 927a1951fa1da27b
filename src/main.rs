//! `ebok`: every part of the system behind one binary (see `ebok --help`).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // One TLS crypto provider for the whole process (rustls refuses to choose between two).
    let _ = rustls::crypto::ring::default_provider().install_default();
    ebok::cli::main().await
}
