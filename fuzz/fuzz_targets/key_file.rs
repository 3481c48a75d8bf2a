//! Key files (`agentry_core::keyfile`): arbitrary bytes go to `KeyFile::parse`; whatever parses
//! is queried (format, encryption, public key, comment) and decrypted with a wrong passphrase
//! under tiny KDF limits (at most 64 KiB and 2 passes of Argon2, 16 bcrypt rounds, 1000 PBKDF2
//! iterations), so a file that asks for more fails fast with `KdfLimit` instead of stalling the
//! fuzzer. Nothing may panic.

#![no_main]

use agentry_core::keyfile::{KdfLimits, KeyFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = KeyFile::parse(data) else {
        return;
    };
    let _ = (file.format(), file.is_encrypted(), file.comment());
    let _ = file.public_key().map(|k| k.algorithm());
    let mut limits = KdfLimits::default();
    limits.max_argon2_memory_kib = 64;
    limits.max_argon2_passes = 2;
    limits.max_argon2_parallelism = 1;
    limits.max_bcrypt_rounds = 16;
    limits.max_pbkdf2_iterations = 1000;
    limits.max_scrypt_memory_kib = 64;
    limits.max_scrypt_parallelism = 1;
    let _ = file.decrypt(b"not the passphrase", &limits);
});
