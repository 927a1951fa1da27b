//! `TCP_NODELAY` for sqlx connections.
//!
//! sqlx 0.9.0 no longer disables Nagle's algorithm on its TCP sockets (transact-rs/sqlx#4335;
//! fixed by PR #4336, not released as of 0.9.0). A protocol exchange that ends in a small write
//! behind an unacknowledged one — `COPY … FROM STDIN`, whose final CopyDone follows the data —
//! then waits for the server's delayed ACK: about 40 ms per batch, which capped ingest at a few
//! thousand readings per second. sqlx gives no access to its socket, so after each connect we
//! find the socket by the connection's client port (as the server sees it) in
//! `/proc/self/net/tcp{,6}` and set the option on the matching descriptor of this process.
//!
//! Linux only, and only when the server sees our real port (no proxy in between); otherwise it
//! does nothing. Remove once sqlx releases the fix.

use std::os::fd::BorrowedFd;

use sqlx::PgConnection;

/// Sets `TCP_NODELAY` on the socket of `conn`. Returns whether it found the socket.
pub async fn set_on(conn: &mut PgConnection) -> bool {
    let port: Option<i32> = match sqlx::query_scalar("SELECT inet_client_port()")
        .fetch_one(&mut *conn)
        .await
    {
        Ok(port) => port,
        Err(_) => return false,
    };
    // NULL over a Unix socket: no Nagle there.
    let Some(port) = port.and_then(|p| u16::try_from(p).ok()) else {
        return false;
    };
    let Some(inode) = socket_inode_by_local_port(port) else {
        return false;
    };
    let Some(fd) = fd_of_socket(inode) else {
        return false;
    };
    // SAFETY: the descriptor is open in this process (we just found it in /proc/self/fd) and
    // stays open while sqlx holds the connection we are configuring.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    nix::sys::socket::setsockopt(&borrowed, nix::sys::socket::sockopt::TcpNoDelay, &true).is_ok()
}

/// The inode of this process's TCP socket bound to local port `port`.
fn socket_inode_by_local_port(port: u16) -> Option<u64> {
    let wanted = format!(":{port:04X}");
    for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 9
                && fields[1].ends_with(&wanted)
                && fields[3] == "01"
                && let Ok(inode) = fields[9].parse::<u64>()
            {
                return Some(inode);
            }
        }
    }
    None
}

/// The descriptor of this process that refers to socket `inode`.
fn fd_of_socket(inode: u64) -> Option<i32> {
    let target = format!("socket:[{inode}]");
    std::fs::read_dir("/proc/self/fd")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let link = std::fs::read_link(entry.path()).ok()?;
            (link.to_str()? == target)
                .then(|| entry.file_name().to_str()?.parse().ok())
                .flatten()
        })
}
