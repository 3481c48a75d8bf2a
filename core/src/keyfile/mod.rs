//! Private-key files as users keep them: OpenSSH (`openssh-key-v1`, encrypted or not), PuTTY
//! PPK v2/v3, and legacy PEM/PKCS#8. Pure: the caller reads the file and hands the bytes in;
//! nothing here touches the file system. A [`KeyFile`] keeps an encrypted file encrypted and
//! exposes what is readable without the passphrase (the public key and, for most formats, the
//! comment), so the agent can list a key long before it is first used (deferred decryption).
//! Key-derivation parameters read from a file are capped by [`KdfLimits`]: a hostile file must
//! not exhaust memory or CPU.

mod armor;
mod error;
mod openssh;
mod pem;
mod ppk;

pub use error::KeyFileError;

use crate::keys::PrivateKey;
use sha2::Digest;
use ssh_key::public::KeyData;

/// The file formats [`KeyFile::parse`] recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyFormat {
    /// `-----BEGIN OPENSSH PRIVATE KEY-----` (`openssh-key-v1`).
    OpenSsh,
    /// PuTTY-User-Key-File-2 or -3.
    Ppk,
    /// PKCS#1 (`BEGIN RSA PRIVATE KEY`), SEC1 (`BEGIN EC PRIVATE KEY`) or PKCS#8
    /// (`BEGIN PRIVATE KEY`, `BEGIN ENCRYPTED PRIVATE KEY`).
    Pem,
}

/// Upper bounds on key-derivation work a file may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct KdfLimits {
    /// Largest Argon2 memory size, KiB (PPK v3).
    pub max_argon2_memory_kib: u32,
    /// Most Argon2 passes (PPK v3).
    pub max_argon2_passes: u32,
    /// Most Argon2 lanes (PPK v3).
    pub max_argon2_parallelism: u32,
    /// Most bcrypt-pbkdf rounds (OpenSSH).
    pub max_bcrypt_rounds: u32,
    /// Most PBKDF2 iterations (PKCS#8).
    pub max_pbkdf2_iterations: u32,
    /// Largest scrypt memory (128·r·N bytes), KiB (PKCS#8).
    pub max_scrypt_memory_kib: u32,
    /// Largest scrypt parallelism `p` (PKCS#8).
    pub max_scrypt_parallelism: u32,
}

impl Default for KdfLimits {
    /// Generous for keys written by puttygen, ssh-keygen and openssl. Each parameter is capped
    /// on its own: a hostile file costs at most 256 MiB of memory, but its time is bounded only
    /// by the pass and round caps (Argon2 at 256 MiB and 1000 passes takes minutes).
    fn default() -> Self {
        Self {
            max_argon2_memory_kib: 256 * 1024,
            max_argon2_passes: 1000,
            max_argon2_parallelism: 16,
            max_bcrypt_rounds: 1024,
            max_pbkdf2_iterations: 10_000_000,
            max_scrypt_memory_kib: 256 * 1024,
            max_scrypt_parallelism: 16,
        }
    }
}

/// A parsed private-key file, still encrypted if it was.
#[derive(Clone)]
pub struct KeyFile {
    inner: Inner,
    /// SHA-256 of the file's bytes: tells two adds of the same file apart from a different
    /// file for the same public key (see [`KeyFile::digest`]).
    digest: [u8; 32],
}

#[derive(Clone)]
enum Inner {
    Ppk(Box<ppk::Ppk>),
    OpenSsh(openssh::OpenSshKey),
    Pem(pem::PemKey),
}

impl core::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyFile")
            .field("format", &self.format())
            .field("encrypted", &self.is_encrypted())
            .finish_non_exhaustive()
    }
}

impl KeyFile {
    /// Recognises and parses a key file. Errors say what the bytes are instead when they are
    /// not a private key (a public key, an unknown format, a truncated file).
    pub fn parse(bytes: &[u8]) -> Result<Self, KeyFileError> {
        let digest = sha2::Sha256::digest(bytes).into();
        if bytes.starts_with(ppk::MAGIC) {
            let inner = Inner::Ppk(Box::new(ppk::Ppk::parse(bytes)?));
            return Ok(Self { inner, digest });
        }
        let text = core::str::from_utf8(bytes).map_err(|_| KeyFileError::NotAKey)?;
        if let Some(key) = openssh::OpenSshKey::parse(text)? {
            return Ok(Self {
                inner: Inner::OpenSsh(key),
                digest,
            });
        }
        if let Some(key) = pem::PemKey::parse(text)? {
            return Ok(Self {
                inner: Inner::Pem(key),
                digest,
            });
        }
        if openssh::is_public_key(text) {
            return Err(KeyFileError::PublicKeyOnly);
        }
        Err(KeyFileError::NotAKey)
    }

    /// SHA-256 of the bytes the file was parsed from. Two encrypted files showing the same
    /// public key are the same file only when their digests are equal: the public key in an
    /// encrypted file's header proves nothing about what it decrypts to.
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }

    /// Which format the file is in.
    pub fn format(&self) -> KeyFormat {
        match &self.inner {
            Inner::Ppk(_) => KeyFormat::Ppk,
            Inner::OpenSsh(_) => KeyFormat::OpenSsh,
            Inner::Pem(_) => KeyFormat::Pem,
        }
    }

    /// True when a passphrase is needed to read the private key.
    pub fn is_encrypted(&self) -> bool {
        match &self.inner {
            Inner::Ppk(k) => k.is_encrypted(),
            Inner::OpenSsh(k) => k.is_encrypted(),
            Inner::Pem(k) => k.is_encrypted(),
        }
    }

    /// The public key, when the file shows it without the passphrase (every format but
    /// encrypted PEM/PKCS#8).
    pub fn public_key(&self) -> Option<&KeyData> {
        match &self.inner {
            Inner::Ppk(k) => Some(k.public_key()),
            Inner::OpenSsh(k) => Some(k.public_key()),
            Inner::Pem(k) => k.public_key(),
        }
    }

    /// The comment, when readable without the passphrase (PPK always; OpenSSH and PEM only
    /// once decrypted, so this is empty for them while encrypted).
    pub fn comment(&self) -> &str {
        match &self.inner {
            Inner::Ppk(k) => k.comment(),
            Inner::OpenSsh(k) => k.comment(),
            Inner::Pem(_) => "",
        }
    }

    /// Decrypts (or, for an unencrypted file, just reads) the private key, with its comment.
    /// `passphrase` is ignored for unencrypted files.
    pub fn decrypt(
        &self,
        passphrase: &[u8],
        limits: &KdfLimits,
    ) -> Result<(PrivateKey, String), KeyFileError> {
        match &self.inner {
            Inner::Ppk(k) => k.decrypt(passphrase, limits),
            Inner::OpenSsh(k) => k.decrypt(passphrase, limits),
            Inner::Pem(k) => k.decrypt(passphrase, limits),
        }
    }
}
