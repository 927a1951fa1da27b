//! Asking a broker whether it accepts a login: one MQTT 3.1.1 CONNECT (with or without a
//! username and password), one CONNACK, a DISCONNECT. Hand-made because it is a few dozen bytes
//! and the callers (the stack's readiness check, waiting for a reload) must not need an event
//! loop. The packet coding is pure; [`probe`] does the blocking I/O.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// What the broker answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accepted,
    /// The CONNACK's return code: 4 bad username or password, 5 not authorised.
    Refused(u8),
}

/// A CONNECT with a clean session, keep-alive 5 s, and `credentials` when given.
pub fn connect_packet(client_id: &str, credentials: Option<(&str, &str)>) -> Vec<u8> {
    let mut body = vec![0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04];
    let flags = 0x02 | credentials.map_or(0, |_| 0x80 | 0x40);
    body.extend_from_slice(&[flags, 0x00, 0x05]);
    let mut field = |bytes: &[u8]| {
        body.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
        body.extend_from_slice(bytes);
    };
    field(client_id.as_bytes());
    if let Some((username, password)) = credentials {
        field(username.as_bytes());
        field(password.as_bytes());
    }
    let mut packet = vec![0x10];
    let mut remaining = body.len();
    loop {
        let mut byte = (remaining % 128) as u8;
        remaining /= 128;
        if remaining > 0 {
            byte |= 0x80;
        }
        packet.push(byte);
        if remaining == 0 {
            break;
        }
    }
    packet.extend_from_slice(&body);
    packet
}

/// Reads a CONNACK; `None` if the bytes are not one.
pub fn read_connack(bytes: [u8; 4]) -> Option<Answer> {
    match bytes {
        [0x20, 0x02, _, 0] => Some(Answer::Accepted),
        [0x20, 0x02, _, code] => Some(Answer::Refused(code)),
        _ => None,
    }
}

/// Connects to `addr`, logs in with `credentials` and returns the broker's answer. An error
/// means no MQTT broker answered within `timeout`.
pub fn probe(
    addr: SocketAddr,
    credentials: Option<(&str, &str)>,
    timeout: Duration,
) -> std::io::Result<Answer> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let client_id = format!(
        "ebok-probe-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(&connect_packet(&client_id, credentials))?;
    let mut connack = [0u8; 4];
    stream.read_exact(&mut connack)?;
    let answer = read_connack(connack).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, "not an MQTT CONNACK")
    })?;
    if answer == Answer::Accepted {
        // DISCONNECT, so the broker logs a clean goodbye.
        let _ = stream.write_all(&[0xE0, 0x00]);
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_anonymous_connect_is_the_classic_twenty_bytes() {
        assert_eq!(
            connect_packet("ebok-ready", None),
            [
                &[0x10, 22, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 5, 0, 10][..],
                b"ebok-ready"
            ]
            .concat()
        );
    }

    #[test]
    fn credentials_set_both_flags_and_follow_the_client_id() {
        let packet = connect_packet("c", Some(("u", "pw")));
        assert_eq!(packet[9], 0xC2, "username, password, clean session");
        assert_eq!(
            packet[packet.len() - 10..],
            [0, 1, b'c', 0, 1, b'u', 0, 2, b'p', b'w']
        );
    }

    #[test]
    fn a_long_login_takes_a_two_byte_remaining_length() {
        let password = "p".repeat(200);
        let packet = connect_packet("c", Some(("u", &password)));
        let remaining = usize::from(packet[1] & 0x7f) + 128 * usize::from(packet[2]);
        assert!(packet[1] & 0x80 != 0);
        assert_eq!(remaining, packet.len() - 3);
    }

    #[test]
    fn connack_codes_read_as_accepted_or_refused() {
        assert_eq!(read_connack([0x20, 2, 0, 0]), Some(Answer::Accepted));
        assert_eq!(read_connack([0x20, 2, 0, 5]), Some(Answer::Refused(5)));
        assert_eq!(read_connack([0x20, 2, 1, 4]), Some(Answer::Refused(4)));
        assert_eq!(read_connack([0x30, 2, 0, 0]), None);
    }
}
