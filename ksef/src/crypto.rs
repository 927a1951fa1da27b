//! The cryptography KSeF 2.0 asks of a client: the KSeF token (with the challenge's timestamp)
//! and each session's symmetric key encrypted with RSA-OAEP (SHA-256, MGF1 with SHA-256) under
//! the Ministry of Finance's public-key certificates, and invoices encrypted with AES-256-CBC
//! (PKCS#7 padding) under the session's key, with SHA-256 hashes (base64) of both the plain
//! and the encrypted invoice. The emulator uses the same functions the other way round.
//!
//! RustCrypto's `rsa`, `aes` and `cbc` crates do the work; `x509-parser` reads the public key
//! out of a certificate. (`rsa` 0.9's private-key operations are not constant-time — the
//! "Marvin" advisory — which matters only for the emulator's decryption of test data, never
//! for a client, which only encrypts.)

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use rsa::pkcs8::DecodePublicKey;
use rsa::{Oaep, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};

type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;
type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("RSA: {0}")]
    Rsa(#[from] rsa::Error),
    #[error("the data could not be decrypted (wrong key or padding)")]
    Decrypt,
    #[error("base64: {0}")]
    Base64(#[from] base64::DecodeError),
}

/// The RSA public key of a certificate (DER, as KSeF lists them in base64).
pub fn public_key_of_certificate(der: &[u8]) -> Result<RsaPublicKey, CryptoError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| CryptoError::Certificate(e.to_string()))?;
    RsaPublicKey::from_public_key_der(cert.public_key().raw)
        .map_err(|e| CryptoError::Certificate(e.to_string()))
}

/// RSA-OAEP with SHA-256 (and MGF1-SHA-256) of `data`.
pub fn rsa_oaep_encrypt(key: &RsaPublicKey, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    Ok(key.encrypt(&mut rand_core_06::OsRng, Oaep::new::<Sha256>(), data)?)
}

/// The other way (the emulator).
pub fn rsa_oaep_decrypt(key: &RsaPrivateKey, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    key.decrypt(Oaep::new::<Sha256>(), data)
        .map_err(|_| CryptoError::Decrypt)
}

/// A fresh AES-256 key and CBC initialisation vector.
pub fn session_key() -> ([u8; 32], [u8; 16]) {
    let mut key = [0u8; 32];
    let mut iv = [0u8; 16];
    rand::rng().fill_bytes(&mut key);
    rand::rng().fill_bytes(&mut iv);
    (key, iv)
}

/// AES-256-CBC with PKCS#7 padding; the IV is not part of the output (KSeF gets it with the
/// session's key).
pub fn aes_encrypt(key: &[u8; 32], iv: &[u8; 16], plain: &[u8]) -> Vec<u8> {
    Aes256CbcEnc::new(key.into(), iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plain)
}

pub fn aes_decrypt(
    key: &[u8; 32],
    iv: &[u8; 16],
    encrypted: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    Aes256CbcDec::new(key.into(), iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(encrypted)
        .map_err(|_| CryptoError::Decrypt)
}

/// Base64 of the SHA-256 of `data`: how KSeF names a document's hash.
pub fn sha256_base64(data: &[u8]) -> String {
    STANDARD.encode(Sha256::digest(data))
}

pub fn base64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

pub fn unbase64(text: &str) -> Result<Vec<u8>, CryptoError> {
    Ok(STANDARD.decode(text.trim())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::DecodePrivateKey;

    const CERT: &str = include_str!("../emulator/cert.pem");
    const KEY: &str = include_str!("../emulator/key.pem");

    fn der_of_pem(pem: &str) -> Vec<u8> {
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        STANDARD.decode(body).unwrap()
    }

    #[test]
    fn what_the_client_encrypts_under_the_certificate_the_key_decrypts() {
        let public = public_key_of_certificate(&der_of_pem(CERT)).unwrap();
        let private = RsaPrivateKey::from_pkcs8_pem(KEY).unwrap();
        let token = b"20251010-EC-1234567890-ABCDEF0123-45|nip-5260250274|1760000000000";
        let sealed = rsa_oaep_encrypt(&public, token).unwrap();
        assert_eq!(sealed.len(), 256);
        assert_eq!(rsa_oaep_decrypt(&private, &sealed).unwrap(), token);
    }

    #[test]
    fn aes_round_trip_and_padding() {
        let (key, iv) = session_key();
        for len in [0usize, 1, 15, 16, 17, 1000] {
            let plain: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let sealed = aes_encrypt(&key, &iv, &plain);
            assert_eq!(sealed.len(), (len / 16 + 1) * 16, "PKCS#7 always pads");
            assert_eq!(aes_decrypt(&key, &iv, &sealed).unwrap(), plain);
        }
        let sealed = aes_encrypt(&key, &iv, b"<Faktura/>");
        let (other, _) = session_key();
        assert!(
            aes_decrypt(&other, &iv, &sealed).is_err()
                || aes_decrypt(&other, &iv, &sealed).unwrap() != b"<Faktura/>"
        );
    }

    #[test]
    fn a_known_hash() {
        // echo -n abc | sha256sum | xxd -r -p | base64
        assert_eq!(
            sha256_base64(b"abc"),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
    }
}
