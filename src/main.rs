//! `ebok`: every part of the system behind one binary (see `ebok --help`).

/// mimalloc instead of glibc's malloc: a request allocates and frees many small buffers (HTTP
/// headers, JSON, rows), and glibc's `malloc`/`free`/`malloc_consolidate` were about 5 % of the
/// process's samples under `ebok bench api`. Interleaved runs of the same code with each
/// allocator (2 × 2 runs of 8 s each): reading on a day about 34,700/s against 29,900/s, a year of
/// history about 7,570/s against 7,060/s (medians). libmimalloc-sys builds its bundled C source
/// with the C compiler the toolchain already needs; nothing is downloaded.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // One TLS crypto provider for the whole process (rustls refuses to choose between two).
    let _ = rustls::crypto::ring::default_provider().install_default();
    ebok::cli::main().await
}
