//! OpenSSH's own private-key container, `openssh-key-v1` (PROTOCOL.key in OpenSSH): magic,
//! cipher and KDF names, KDF options (bcrypt: salt, rounds), one public key blob, then the
//! private section, encrypted unless the cipher is `none`. The private section holds two equal
//! check integers, the key in the agent's ADD_IDENTITY layout (parsed by
//! [`PrivateKey::decode_wire`], which accepts OpenSSH's minimal-length ECDSA scalars), the
//! comment and padding 1, 2, 3, …. Also recognises public keys and certificates given instead.

use super::armor::first_block;
use super::{KdfLimits, KeyFileError};
use crate::keys::PrivateKey;
use crate::wire::{Reader, WireError};
use ssh_cipher::{Cipher, Tag};
use ssh_encoding::{Decode, Encode};
use ssh_key::public::KeyData;
use zeroize::Zeroizing;

const LABEL: &str = "OPENSSH PRIVATE KEY";
const MAGIC: &[u8] = b"openssh-key-v1\0";
const TAG_LEN: usize = 16;

/// A parsed `openssh-key-v1` file.
#[derive(Clone)]
pub(super) struct OpenSshKey {
    public: KeyData,
    state: State,
}

#[derive(Clone)]
enum State {
    /// Cipher `none`: read and checked at parse time.
    Plain(Box<(PrivateKey, String)>),
    Encrypted(Sealed),
}

#[derive(Clone)]
struct Sealed {
    cipher: Cipher,
    salt: Vec<u8>,
    rounds: u32,
    section: Vec<u8>,
    tag: Option<Tag>,
}

impl OpenSshKey {
    /// Parses `text` if it is an OpenSSH private key (`None` when it is not one at all).
    pub(super) fn parse(text: &str) -> Result<Option<Self>, KeyFileError> {
        if !text.contains(&format!("-----BEGIN {LABEL}-----")) {
            return Ok(None);
        }
        let block = first_block(text)?.ok_or(KeyFileError::NotAKey)?;
        if block.label != LABEL {
            return Err(KeyFileError::Malformed("text before the OpenSSH key"));
        }
        let blob = block
            .body
            .strip_prefix(MAGIC)
            .ok_or(KeyFileError::NotAKey)?;
        Self::parse_blob(blob).map(Some)
    }

    fn parse_blob(blob: &[u8]) -> Result<Self, KeyFileError> {
        let mut r = Reader::new(blob);
        let cipher_name = r.utf8("cipher name").map_err(outer)?;
        let kdf_name = r.utf8("KDF name").map_err(outer)?;
        let kdf_options = r.string().map_err(outer)?;
        if r.u32().map_err(outer)? != 1 {
            return Err(KeyFileError::Malformed("number of keys (must be 1)"));
        }
        let public = decode_public(r.string().map_err(outer)?)?;
        let section = r.string().map_err(outer)?;
        let cipher = cipher_by_name(cipher_name)?;
        let tag = match cipher.has_tag() {
            true => Some(Tag::try_from(r.bytes(TAG_LEN).map_err(outer)?).map_err(outer)?),
            false => None,
        };
        let block = cipher.block_size();
        if section.len() < block || section.len() % block != 0 {
            return Err(KeyFileError::Malformed("private section length"));
        }
        let state = match (cipher, kdf_name) {
            (Cipher::None, "none") if kdf_options.is_empty() => {
                let (key, comment) = read_section(section, &public, false)?;
                State::Plain(Box::new((key, comment)))
            }
            (Cipher::None, _) | (_, "none") => {
                return Err(KeyFileError::Malformed("cipher and KDF do not agree"))
            }
            (_, "bcrypt") => {
                let mut o = Reader::new(kdf_options);
                let salt = o.string().map_err(outer)?.to_vec();
                let rounds = o.u32().map_err(outer)?;
                o.finish().map_err(outer)?;
                if salt.is_empty() || rounds == 0 {
                    return Err(KeyFileError::Malformed("bcrypt salt or rounds"));
                }
                State::Encrypted(Sealed {
                    cipher,
                    salt,
                    rounds,
                    section: section.to_vec(),
                    tag,
                })
            }
            (_, other) => return Err(KeyFileError::UnsupportedKdf(other.to_owned())),
        };
        Ok(Self { public, state })
    }

    pub(super) fn is_encrypted(&self) -> bool {
        matches!(self.state, State::Encrypted(_))
    }

    pub(super) fn public_key(&self) -> &KeyData {
        &self.public
    }

    /// The comment: empty while encrypted (it is inside the encrypted section).
    pub(super) fn comment(&self) -> &str {
        match &self.state {
            State::Plain(plain) => &plain.1,
            State::Encrypted(_) => "",
        }
    }

    pub(super) fn decrypt(
        &self,
        passphrase: &[u8],
        limits: &KdfLimits,
    ) -> Result<(PrivateKey, String), KeyFileError> {
        let sealed = match &self.state {
            State::Plain(plain) => return Ok((plain.0.clone(), plain.1.clone())),
            State::Encrypted(sealed) => sealed,
        };
        if sealed.rounds > limits.max_bcrypt_rounds {
            return Err(KeyFileError::KdfLimit(format!(
                "bcrypt rounds {} (limit {})",
                sealed.rounds, limits.max_bcrypt_rounds
            )));
        }
        if passphrase.is_empty() {
            return Err(KeyFileError::WrongPassphrase);
        }
        let (key_len, iv_len) = key_iv_len(sealed.cipher);
        let mut derived = Zeroizing::new(vec![0u8; key_len + iv_len]);
        bcrypt_pbkdf::bcrypt_pbkdf(passphrase, &sealed.salt, sealed.rounds, &mut derived)
            .map_err(|_| KeyFileError::Malformed("bcrypt parameters"))?;
        let (key, iv) = derived.split_at(key_len);
        let (key, iv) = match sealed.cipher {
            // OpenSSH keys chacha20-poly1305 with 64 bytes (main key first, then the header key
            // it does not use here) and no IV: the nonce is the sequence number 0.
            Cipher::ChaCha20Poly1305 => (&key[..32], &[0u8; 8][..]),
            _ => (key, iv),
        };
        let mut plain = Zeroizing::new(sealed.section.clone());
        sealed
            .cipher
            .decrypt(key, iv, &mut plain, sealed.tag)
            .map_err(|_| KeyFileError::WrongPassphrase)?;
        read_section(&plain, &self.public, true)
    }
}

/// Reads the decrypted private section; `encrypted` makes unequal check integers a wrong
/// passphrase rather than a damaged file.
fn read_section(
    section: &[u8],
    public: &KeyData,
    encrypted: bool,
) -> Result<(PrivateKey, String), KeyFileError> {
    let mut r = Reader::new(section);
    let check = (r.u32().map_err(inner)?, r.u32().map_err(inner)?);
    if check.0 != check.1 {
        return Err(match encrypted {
            true => KeyFileError::WrongPassphrase,
            false => KeyFileError::Malformed("check integers differ"),
        });
    }
    let name = r.clone().utf8("key type").map_err(inner)?;
    if name.ends_with("-cert-v01@openssh.com") {
        return Err(KeyFileError::Malformed("certificate in a private key file"));
    }
    let key = PrivateKey::decode_wire(&mut r).map_err(|e| match e {
        WireError::Invalid("unsupported key type") => KeyFileError::UnsupportedKey(name.into()),
        _ => KeyFileError::Malformed("private key"),
    })?;
    let comment = String::from_utf8_lossy(r.string().map_err(inner)?).into_owned();
    for (i, pad) in r.take_rest().iter().enumerate() {
        if usize::from(*pad) != (i + 1) & 0xff {
            return Err(KeyFileError::Malformed("padding"));
        }
    }
    if Some(key.public_blob()) != public.encode_vec().ok() {
        return Err(KeyFileError::Malformed(
            "public key does not match the private key",
        ));
    }
    Ok((key, comment))
}

fn decode_public(blob: &[u8]) -> Result<KeyData, KeyFileError> {
    let name = Reader::new(blob).utf8("key type").map_err(outer)?;
    let supported = name == "ssh-ed25519"
        || name == "ssh-rsa"
        || name.starts_with("ecdsa-sha2-")
        || crate::keys::SecurityKey::is_sk_name(name);
    if !supported {
        return Err(KeyFileError::UnsupportedKey(name.to_owned()));
    }
    let mut rest = blob;
    let key = KeyData::decode(&mut rest).map_err(|_| KeyFileError::Malformed("public key"))?;
    if !rest.is_empty() {
        return Err(KeyFileError::Malformed("public key"));
    }
    Ok(key)
}

fn cipher_by_name(name: &str) -> Result<Cipher, KeyFileError> {
    Ok(match name {
        "none" => Cipher::None,
        "aes128-ctr" => Cipher::Aes128Ctr,
        "aes192-ctr" => Cipher::Aes192Ctr,
        "aes256-ctr" => Cipher::Aes256Ctr,
        "aes128-cbc" => Cipher::Aes128Cbc,
        "aes192-cbc" => Cipher::Aes192Cbc,
        "aes256-cbc" => Cipher::Aes256Cbc,
        "aes128-gcm@openssh.com" => Cipher::Aes128Gcm,
        "aes256-gcm@openssh.com" => Cipher::Aes256Gcm,
        "chacha20-poly1305@openssh.com" => Cipher::ChaCha20Poly1305,
        "3des-cbc" => Cipher::TdesCbc,
        other => return Err(KeyFileError::UnsupportedCipher(other.to_owned())),
    })
}

/// Bytes of key and IV bcrypt-pbkdf derives for `cipher`, as OpenSSH's cipher table says.
fn key_iv_len(cipher: Cipher) -> (usize, usize) {
    match cipher {
        Cipher::ChaCha20Poly1305 => (64, 0),
        other => other.key_and_iv_size().unwrap_or((0, 0)),
    }
}

/// A field of the outer container is short or bad: the file is cut or damaged.
fn outer<E: Into<OuterError>>(e: E) -> KeyFileError {
    match e.into() {
        OuterError::Truncated => KeyFileError::Truncated,
        OuterError::Other => KeyFileError::Malformed("OpenSSH key container"),
    }
}

/// A field inside the (decrypted) private section is bad.
fn inner(_: WireError) -> KeyFileError {
    KeyFileError::Malformed("private section")
}

enum OuterError {
    Truncated,
    Other,
}

impl From<WireError> for OuterError {
    fn from(e: WireError) -> Self {
        match e {
            WireError::Truncated => Self::Truncated,
            _ => Self::Other,
        }
    }
}

impl From<core::array::TryFromSliceError> for OuterError {
    fn from(_: core::array::TryFromSliceError) -> Self {
        Self::Other
    }
}

/// True when `text` is a public key or certificate rather than a private key: an OpenSSH
/// `authorized_keys`-style line (`ssh-ed25519 AAAA…`, `*-cert-v01@openssh.com AAAA…`, possibly
/// after options) or an RFC 4716 `BEGIN SSH2 PUBLIC KEY` block.
pub(super) fn is_public_key(text: &str) -> bool {
    if text.contains("BEGIN SSH2 PUBLIC KEY") {
        return true;
    }
    text.lines().any(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        words.windows(2).any(|w| {
            let t = w[0];
            let known = t.starts_with("ssh-")
                || t.starts_with("ecdsa-sha2-")
                || t.starts_with("sk-")
                || t.ends_with("-cert-v01@openssh.com");
            known && w[1].starts_with("AAAA")
        })
    })
}
