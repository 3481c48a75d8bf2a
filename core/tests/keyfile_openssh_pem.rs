//! OpenSSH (`openssh-key-v1`), PEM and PKCS#8 key files written by the real `ssh-keygen` and
//! `openssl` (tests/fixtures/keyfiles/, made by make-openssh-pem.sh) decrypt to the key their
//! `.pub` names, and that key signs verifiably. Damaged, truncated, over-expensive and
//! unsupported files are refused with the precise error, never a panic.

use agentry_core::keyfile::{KdfLimits, KeyFile, KeyFileError, KeyFormat};
use agentry_core::keys::{verify_signature, SigningKey};
use base64ct::{Base64, Encoding};
use std::path::PathBuf;

const PASS: &[u8] = b"correct horse";

/// Every fixture: name, format, encrypted.
const FIXTURES: &[(&str, KeyFormat, bool)] = &[
    ("openssh-ed25519", KeyFormat::OpenSsh, false),
    ("openssh-ed25519-aes256ctr", KeyFormat::OpenSsh, true),
    ("openssh-ed25519-aes128ctr", KeyFormat::OpenSsh, true),
    ("openssh-ed25519-aes192ctr", KeyFormat::OpenSsh, true),
    ("openssh-ed25519-aes256gcm", KeyFormat::OpenSsh, true),
    ("openssh-ed25519-chacha20", KeyFormat::OpenSsh, true),
    ("openssh-ecdsa-p256", KeyFormat::OpenSsh, false),
    ("openssh-ecdsa-p256-aes128gcm", KeyFormat::OpenSsh, true),
    ("openssh-ecdsa-p256-short-scalar", KeyFormat::OpenSsh, false),
    ("openssh-ecdsa-p384", KeyFormat::OpenSsh, false),
    ("openssh-ecdsa-p384-aes256ctr", KeyFormat::OpenSsh, true),
    ("openssh-ecdsa-p521", KeyFormat::OpenSsh, false),
    ("openssh-ecdsa-p521-aes256ctr", KeyFormat::OpenSsh, true),
    ("openssh-rsa-2048", KeyFormat::OpenSsh, false),
    ("openssh-rsa-2048-aes256ctr", KeyFormat::OpenSsh, true),
    ("openssh-rsa-3072-aes256gcm", KeyFormat::OpenSsh, true),
    ("pem-rsa-2048", KeyFormat::Pem, false),
    ("pem-rsa-2048-aes128", KeyFormat::Pem, true),
    ("pem-ecdsa-p256", KeyFormat::Pem, false),
    ("pem-ecdsa-p256-aes128", KeyFormat::Pem, true),
    ("pem-ecdsa-p384-aes128", KeyFormat::Pem, true),
    ("pem-ecdsa-p521", KeyFormat::Pem, false),
    ("pem-ecdsa-p521-aes128", KeyFormat::Pem, true),
    ("pkcs8-rsa-2048", KeyFormat::Pem, false),
    ("pkcs8-rsa-2048-enc", KeyFormat::Pem, true),
    ("pkcs8-ecdsa-p256", KeyFormat::Pem, false),
    ("pkcs8-ecdsa-p256-enc", KeyFormat::Pem, true),
    ("pkcs8-ecdsa-p384-enc", KeyFormat::Pem, true),
    ("pkcs8-ecdsa-p521-enc", KeyFormat::Pem, true),
    ("openssl-ed25519", KeyFormat::Pem, false),
    ("openssl-ed25519-aes256", KeyFormat::Pem, true),
    ("openssl-rsa-3072", KeyFormat::Pem, false),
    ("openssl-rsa-2048-aes256", KeyFormat::Pem, true),
    ("openssl-rsa-2048-pkcs8-sha1", KeyFormat::Pem, true),
    ("openssl-rsa-2048-pkcs8-scrypt", KeyFormat::Pem, true),
    ("openssl-ec-p384", KeyFormat::Pem, false),
    ("openssl-ec-p384-aes256", KeyFormat::Pem, true),
    ("openssl-rsa-2048-trad-aes256", KeyFormat::Pem, true),
    ("openssl-rsa-2048-trad-des3", KeyFormat::Pem, true),
    ("openssl-ec-p256-trad-aes192", KeyFormat::Pem, true),
    ("openssl-ec-p521-params", KeyFormat::Pem, false),
];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/keyfiles")
}

fn read(name: &str) -> Vec<u8> {
    let path = dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `.pub` line's key blob and comment.
fn pub_of(name: &str) -> (Vec<u8>, String) {
    let text = String::from_utf8(read(&format!("{name}.pub"))).unwrap();
    let mut words = text.split_whitespace();
    let _type = words.next();
    let blob = Base64::decode_vec(words.next().unwrap()).unwrap();
    (blob, words.next().unwrap_or_default().to_owned())
}

fn parse(name: &str) -> KeyFile {
    KeyFile::parse(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn limits() -> KdfLimits {
    KdfLimits::default()
}

#[test]
fn every_fixture_file_is_listed() {
    let mut on_disk: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.ends_with(".pub") && !n.ends_with(".sh") && !n.ends_with(".md"))
        .filter(|n| n != "VERSIONS" && n != "ppk")
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = FIXTURES.iter().map(|f| f.0.to_owned()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

#[test]
fn every_fixture_decrypts_to_its_public_key_and_signs() {
    for &(name, format, encrypted) in FIXTURES {
        let file = parse(name);
        let (blob, pub_comment) = pub_of(name);
        assert_eq!(file.format(), format, "{name}");
        assert_eq!(file.is_encrypted(), encrypted, "{name}");
        let shown = file
            .public_key()
            .map(|k| ssh_encoding::Encode::encode_vec(k).unwrap());
        match (format, encrypted) {
            // Encrypted PEM/PKCS#8 keeps the public key inside the encrypted part.
            (KeyFormat::Pem, true) => assert_eq!(shown, None, "{name}"),
            _ => assert_eq!(
                shown.as_ref(),
                Some(&blob),
                "{name}: public key before decryption"
            ),
        }
        let expected_comment = match format {
            KeyFormat::OpenSsh => pub_comment.as_str(),
            _ => "", // PEM and PKCS#8 hold no comment.
        };
        let before = if encrypted { "" } else { expected_comment };
        assert_eq!(file.comment(), before, "{name}: comment before decryption");

        let (key, comment) = file
            .decrypt(PASS, &limits())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            key.public_blob(),
            blob,
            "{name}: decrypted key is not the .pub key"
        );
        assert_eq!(comment, expected_comment, "{name}");

        let signer = SigningKey::new(&key).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let data = format!("signed by {name}").into_bytes();
        let sig = signer.sign(&data, 4, false).unwrap(); // 4: rsa-sha2-512 for RSA keys
        assert!(verify_signature(&blob, &data, &sig), "{name}: signature");
        assert!(!verify_signature(&blob, b"other data", &sig), "{name}");
    }
}

#[test]
fn wrong_or_empty_passphrase_is_wrong_passphrase() {
    for &(name, _, encrypted) in FIXTURES.iter().filter(|f| f.2) {
        assert!(encrypted);
        let file = parse(name);
        for pass in [&b"wrong horse"[..], b"", b"correct horse "] {
            assert_eq!(
                file.decrypt(pass, &limits()).err(),
                Some(KeyFileError::WrongPassphrase),
                "{name} with {:?}",
                String::from_utf8_lossy(pass)
            );
        }
    }
}

#[test]
fn unencrypted_files_ignore_the_passphrase() {
    for &(name, _, _) in FIXTURES.iter().filter(|f| !f.2) {
        let (key, _) = parse(name).decrypt(b"anything", &limits()).unwrap();
        assert_eq!(key.public_blob(), pub_of(name).0, "{name}");
    }
}

#[test]
fn truncated_files_are_errors_at_every_offset() {
    for &(name, _, _) in FIXTURES {
        let bytes = read(name);
        let text = String::from_utf8(bytes.clone()).unwrap();
        let end = text.rfind("-----END").unwrap()
            + text[text.rfind("-----END").unwrap()..].trim_end().len();
        for cut in (0..end).step_by(3).chain(end - 40..end) {
            let result = KeyFile::parse(&bytes[..cut]);
            assert!(result.is_err(), "{name} cut at {cut} of {end} parsed");
        }
    }
}

/// The binary container of an OpenSSH file, cut at every byte and re-armoured: always an error.
#[test]
fn truncated_openssh_containers_are_errors() {
    for name in [
        "openssh-ed25519",
        "openssh-ed25519-aes256gcm",
        "openssh-rsa-2048",
    ] {
        let blob = container(name);
        for cut in 0..blob.len() {
            match KeyFile::parse(armour(&blob[..cut]).as_bytes()) {
                Err(
                    KeyFileError::Truncated | KeyFileError::Malformed(_) | KeyFileError::NotAKey,
                ) => {}
                other => panic!("{name} cut at {cut}: {other:?}"),
            }
        }
        assert!(
            KeyFile::parse(armour(&blob).as_bytes()).is_ok(),
            "{name} re-armoured"
        );
    }
}

#[test]
fn bcrypt_rounds_over_the_limit_are_refused_before_any_work() {
    let file = parse("openssh-ed25519-aes256ctr"); // ssh-keygen's default: 16 rounds
    let mut tiny = limits();
    tiny.max_bcrypt_rounds = 4;
    assert!(matches!(
        file.decrypt(PASS, &tiny),
        Err(KeyFileError::KdfLimit(_))
    ));
    // A wrong passphrase is only found by running the KDF: the limit answers first.
    assert!(matches!(
        file.decrypt(b"not the passphrase", &tiny),
        Err(KeyFileError::KdfLimit(_))
    ));
    tiny.max_bcrypt_rounds = 16;
    assert!(file.decrypt(PASS, &tiny).is_ok());

    // A hostile file asking for 2^32-1 rounds is refused at the default limit.
    let hostile = with_fields("openssh-ed25519-aes256ctr", |f| {
        let salt = reader_string(&f.kdf_options, 0);
        f.kdf_options = [string(&salt), u32::MAX.to_be_bytes().to_vec()].concat();
    });
    let file = KeyFile::parse(hostile.as_bytes()).unwrap();
    assert!(matches!(
        file.decrypt(PASS, &limits()),
        Err(KeyFileError::KdfLimit(_))
    ));
}

#[test]
fn pbkdf2_iterations_over_the_limit_are_refused() {
    let file = parse("pkcs8-rsa-2048-enc"); // 2048 iterations
    let mut tiny = limits();
    tiny.max_pbkdf2_iterations = 1000;
    assert!(matches!(
        file.decrypt(PASS, &tiny),
        Err(KeyFileError::KdfLimit(_))
    ));
    tiny.max_pbkdf2_iterations = 2048;
    assert!(file.decrypt(PASS, &tiny).is_ok());
}

#[test]
fn scrypt_memory_or_parallelism_over_the_limit_is_refused() {
    let name = "openssl-rsa-2048-pkcs8-scrypt"; // N = 16384, r = 8, p = 1: 16 MiB
    let file = parse(name);
    let mut tiny = limits();
    tiny.max_scrypt_memory_kib = 8 * 1024;
    assert!(matches!(
        file.decrypt(PASS, &tiny),
        Err(KeyFileError::KdfLimit(_))
    ));
    tiny.max_scrypt_memory_kib = 16 * 1024;
    assert!(file.decrypt(PASS, &tiny).is_ok());

    // The same file asking for parallelism 127 (the one-byte INTEGER p, after N and r).
    let text = String::from_utf8(read(name)).unwrap();
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut der = Base64::decode_vec(&body).unwrap();
    let at = der
        .windows(8)
        .position(|w| w == [0x02, 0x02, 0x40, 0x00, 0x02, 0x01, 0x08, 0x02])
        .expect("N = 16384, r = 8 in the scrypt parameters");
    assert_eq!(der[at + 8..at + 10], [0x01, 0x01], "p = 1");
    der[at + 9] = 0x7f;
    let hostile = format!(
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\n{}\n-----END ENCRYPTED PRIVATE KEY-----\n",
        Base64::encode_string(&der)
    );
    let file = KeyFile::parse(hostile.as_bytes()).unwrap();
    assert!(matches!(
        file.decrypt(PASS, &limits()),
        Err(KeyFileError::KdfLimit(_))
    ));
}

#[test]
fn unknown_cipher_or_kdf_is_unsupported() {
    let text = with_fields("openssh-ed25519-aes256ctr", |f| {
        f.cipher = b"twofish256-ctr".to_vec()
    });
    assert_eq!(
        KeyFile::parse(text.as_bytes()).err(),
        Some(KeyFileError::UnsupportedCipher("twofish256-ctr".into()))
    );
    let text = with_fields("openssh-ed25519-aes256ctr", |f| f.kdf = b"argon2".to_vec());
    assert_eq!(
        KeyFile::parse(text.as_bytes()).err(),
        Some(KeyFileError::UnsupportedKdf("argon2".into()))
    );
    let pem = String::from_utf8(read("pem-rsa-2048-aes128")).unwrap();
    let pem = pem.replace("DEK-Info: AES-128-CBC,", "DEK-Info: BF-CBC,");
    assert!(matches!(
        KeyFile::parse(pem.as_bytes()),
        Err(KeyFileError::UnsupportedCipher(c)) if c == "BF-CBC"
    ));
}

#[test]
fn public_keys_and_certificates_are_public_key_only() {
    let (blob, _) = pub_of("openssh-ed25519");
    let b64 = Base64::encode_string(&blob);
    let cert = std::fs::read(dir().join("../keys/ed25519-cert.pub")).unwrap();
    let rfc4716 = format!(
        "---- BEGIN SSH2 PUBLIC KEY ----\nComment: \"x\"\n{b64}\n---- END SSH2 PUBLIC KEY ----\n"
    );
    let pkcs8_public = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";
    let cases: Vec<Vec<u8>> = vec![
        read("openssh-ed25519.pub"),
        read("openssh-rsa-2048.pub"),
        read("openssh-ecdsa-p384.pub"),
        cert,
        format!("restrict,command=\"true\" ssh-ed25519 {b64} with options\n").into_bytes(),
        rfc4716.into_bytes(),
        pkcs8_public.as_bytes().to_vec(),
    ];
    for case in cases {
        assert_eq!(
            KeyFile::parse(&case).err(),
            Some(KeyFileError::PublicKeyOnly),
            "{}",
            String::from_utf8_lossy(&case)
        );
    }
}

#[test]
fn other_input_is_not_a_key() {
    for case in [
        &b""[..],
        b"hello",
        b"\xff\xfe\x00binary",
        b"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n",
    ] {
        assert_eq!(KeyFile::parse(case).err(), Some(KeyFileError::NotAKey));
    }
}

/// Regression: OpenSSH writes an ECDSA scalar whose top byte is zero one byte shorter; about 1
/// key in 256 (ssh-key's own file parser refuses those).
#[test]
fn ecdsa_key_with_a_short_scalar_is_read() {
    let name = "openssh-ecdsa-p256-short-scalar";
    let fields = Fields::of(&container(name));
    let mut at = 8; // two check integers
    for _ in 0..3 {
        at += 4 + reader_string(&fields.private, at).len(); // type, curve, public point
    }
    let scalar = reader_string(&fields.private, at);
    assert!(
        scalar.len() < 32,
        "fixture scalar is {} bytes",
        scalar.len()
    );
    let (key, _) = parse(name).decrypt(b"", &limits()).unwrap();
    assert_eq!(key.public_blob(), pub_of(name).0);
    let sig = SigningKey::new(&key)
        .unwrap()
        .sign(b"data", 0, false)
        .unwrap();
    assert!(verify_signature(&key.public_blob(), b"data", &sig));
}

#[test]
fn damaged_private_sections_are_malformed() {
    // Padding must be 1, 2, 3, …
    let text = with_fields("openssh-ed25519", |f| {
        let last = f.private.len() - 1;
        f.private[last] ^= 0x40;
    });
    assert_eq!(
        KeyFile::parse(text.as_bytes()).err(),
        Some(KeyFileError::Malformed("padding"))
    );
    // Check integers must match.
    let text = with_fields("openssh-ed25519", |f| f.private[0] ^= 1);
    assert_eq!(
        KeyFile::parse(text.as_bytes()).err(),
        Some(KeyFileError::Malformed("check integers differ"))
    );
    // The public key must be the private key's.
    let other = Fields::of(&container("openssh-ed25519-aes256ctr")).public;
    let text = with_fields("openssh-ed25519", |f| f.public = other.clone());
    assert!(matches!(
        KeyFile::parse(text.as_bytes()),
        Err(KeyFileError::Malformed(_))
    ));
    // More than one key.
    let text = with_fields("openssh-ed25519", |f| f.nkeys = 2);
    assert!(matches!(
        KeyFile::parse(text.as_bytes()),
        Err(KeyFileError::Malformed(_))
    ));
}

#[test]
fn corrupted_authenticated_ciphertext_is_wrong_passphrase() {
    let text = with_fields("openssh-ed25519-aes256gcm", |f| f.private[20] ^= 1);
    let file = KeyFile::parse(text.as_bytes()).unwrap();
    assert_eq!(
        file.decrypt(PASS, &limits()).err(),
        Some(KeyFileError::WrongPassphrase)
    );
}

// --- openssh-key-v1 container surgery ---

fn container(name: &str) -> Vec<u8> {
    let text = String::from_utf8(read(name)).unwrap();
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    Base64::decode_vec(&body).unwrap()
}

fn armour(blob: &[u8]) -> String {
    let b64 = Base64::encode_string(blob);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(70)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

fn string(bytes: &[u8]) -> Vec<u8> {
    [(bytes.len() as u32).to_be_bytes().to_vec(), bytes.to_vec()].concat()
}

fn reader_string(bytes: &[u8], at: usize) -> Vec<u8> {
    let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    bytes[at + 4..at + 4 + len].to_vec()
}

struct Fields {
    cipher: Vec<u8>,
    kdf: Vec<u8>,
    kdf_options: Vec<u8>,
    nkeys: u32,
    public: Vec<u8>,
    private: Vec<u8>,
    rest: Vec<u8>,
}

impl Fields {
    fn of(blob: &[u8]) -> Self {
        let mut at = b"openssh-key-v1\0".len();
        let mut next = || {
            let s = reader_string(blob, at);
            at += 4 + s.len();
            s
        };
        let (cipher, kdf, kdf_options) = (next(), next(), next());
        let nkeys = u32::from_be_bytes(blob[at..at + 4].try_into().unwrap());
        at += 4;
        let mut next = || {
            let s = reader_string(blob, at);
            at += 4 + s.len();
            s
        };
        let (public, private) = (next(), next());
        Self {
            cipher,
            kdf,
            kdf_options,
            nkeys,
            public,
            private,
            rest: blob[at..].to_vec(),
        }
    }

    fn to_blob(&self) -> Vec<u8> {
        [
            b"openssh-key-v1\0".to_vec(),
            string(&self.cipher),
            string(&self.kdf),
            string(&self.kdf_options),
            self.nkeys.to_be_bytes().to_vec(),
            string(&self.public),
            string(&self.private),
            self.rest.clone(),
        ]
        .concat()
    }
}

fn with_fields(name: &str, change: impl FnOnce(&mut Fields)) -> String {
    let mut fields = Fields::of(&container(name));
    change(&mut fields);
    armour(&fields.to_blob())
}
