//! Sign cost per key type: the raw crypto call (ed25519-dalek, RustCrypto ECDSA, ring RSA)
//! against the whole agent handler (decode SIGN_REQUEST, look up the key, sign, encode the reply)
//! for the same key and data. Prints ns per signature and the handler's overhead in percent.
//! Run with `cargo bench -p agentry-core`.

use agentry_core::proto::{Request, SignRequest};
use agentry_core::{Agent, AgentOptions, ClientInfo, Session};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

const DATA: &[u8] = &[0x5a; 256];

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(rel)).expect(rel)
}

fn public_blob(name: &str) -> Vec<u8> {
    let text = String::from_utf8(read(&format!("keys/{name}.pub"))).unwrap();
    ssh_key::PublicKey::from_openssh(text.trim())
        .unwrap()
        .to_bytes()
        .unwrap()
}

fn private(name: &str) -> ssh_key::PrivateKey {
    ssh_key::PrivateKey::from_openssh(read(&format!("keys/{name}"))).unwrap()
}

fn per_call(f: &mut impl FnMut(), iters: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(iters)
}

/// Fastest ns per call of `raw` and of the handler over 15 interleaved rounds of `iters` calls
/// each; interleaving and taking the minimum keep other load on the machine out of the ratio.
/// `handler_round(n)` runs n handler calls and returns ns per call.
fn compare(mut raw: impl FnMut(), handler_round: impl Fn(u32) -> f64, iters: u32) -> (f64, f64) {
    per_call(&mut raw, iters / 4 + 1);
    handler_round(iters / 4 + 1);
    let (mut best_raw, mut best_handler) = (f64::MAX, f64::MAX);
    for _ in 0..15 {
        best_raw = best_raw.min(per_call(&mut raw, iters));
        best_handler = best_handler.min(handler_round(iters));
    }
    (best_raw, best_handler)
}

fn bench(rt: &tokio::runtime::Runtime, name: &str, flags: u32, iters: u32, raw: impl FnMut()) {
    // As the daemon runs it: slow signatures on OS threads the platform starts.
    let threads = agentry_core::ThreadStarter::new(|name, job| {
        std::thread::Builder::new()
            .name(name)
            .spawn(job)
            .map(drop)
            .map_err(|e| e.to_string())
    });
    let agent = Agent::new(AgentOptions::new().signing_threads(threads));
    let mut session = Session::new(ClientInfo::default());
    let add = read(&format!("requests/ssh-add-{name}.bin"));
    rt.block_on(agent.handle_message(&mut session, &add));
    let body = Request::Sign(SignRequest {
        key_blob: public_blob(name),
        data: DATA.to_vec(),
        flags,
    })
    .encode();
    // Each handler round runs as one task on a runtime worker, as a connection task does, so the
    // figure holds the handler's own work and not the cost of entering the runtime per call.
    let session = std::sync::Arc::new(tokio::sync::Mutex::new(session));
    let handler_round = |n: u32| {
        let (agent, body, session) = (agent.clone(), body.clone(), session.clone());
        rt.block_on(rt.spawn(async move {
            let mut session = session.lock().await;
            let start = Instant::now();
            for _ in 0..n {
                let reply = agent.handle_message(&mut session, &body).await;
                assert_eq!(reply[0], 14, "sign failed");
                black_box(reply);
            }
            start.elapsed().as_nanos() as f64 / f64::from(n)
        }))
        .unwrap()
    };
    let (raw, handler) = compare(raw, handler_round, iters);
    report(name, raw, handler);
}

fn report(name: &str, raw: f64, handler: f64) {
    let overhead = (handler - raw) / raw * 100.0;
    println!(
        "{name:<12} raw {:>10.1} us   handler {:>10.1} us   overhead {overhead:>6.2} %",
        raw / 1000.0,
        handler / 1000.0
    );
}

fn main() {
    // The agent's runtime: multi-threaded, two workers (slow keys sign in place on a worker).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    println!(
        "sign cost, {} bytes of data (raw crypto call vs whole agent handler)",
        DATA.len()
    );

    let ed = private("ed25519");
    let seed = ed.key_data().ed25519().unwrap().private.to_bytes();
    let dalek = ed25519_dalek::SigningKey::from_bytes(&seed);
    bench(&rt, "ed25519", 0, 2000, || {
        use ed25519_dalek::Signer;
        black_box(dalek.sign(black_box(DATA)));
    });

    let rng = ring::rand::SystemRandom::new();
    for (name, alg) in [
        (
            "ecdsa-p256",
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        ),
        (
            "ecdsa-p384",
            &ring::signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        ),
    ] {
        let key = private(name);
        let ecdsa = key.key_data().ecdsa().unwrap();
        let public = ssh_key::public::EcdsaPublicKey::from(ecdsa);
        let pair = ring::signature::EcdsaKeyPair::from_private_key_and_public_key(
            alg,
            ecdsa.private_key_bytes(),
            public.as_sec1_bytes(),
            &rng,
        )
        .unwrap();
        bench(&rt, name, 0, 500, || {
            black_box(pair.sign(&rng, black_box(DATA)).unwrap());
        });
    }

    let p = private("ecdsa-p521");
    let scalar = p.key_data().ecdsa().unwrap().private_key_bytes().to_vec();
    let sk = p521::ecdsa::SigningKey::from_slice(&scalar).unwrap();
    bench(&rt, "ecdsa-p521", 0, 100, || {
        use p521::ecdsa::signature::Signer;
        let sig: p521::ecdsa::Signature = sk.sign(black_box(DATA));
        black_box(sig);
    });

    // The PEM fixture is the same RSA-2048 key in PKCS#1 form, which ring reads directly.
    let pem = String::from_utf8(read("keys/rsa-2048-pem")).unwrap();
    let (_, der) = pem_rfc7468::decode_vec(pem.as_bytes()).unwrap();
    let pair = ring::signature::RsaKeyPair::from_der(&der).unwrap();
    let mut sig = vec![0; pair.public().modulus_len()];
    bench(&rt, "rsa-2048", 4, 100, || {
        pair.sign(
            &ring::signature::RSA_PKCS1_SHA512,
            &rng,
            black_box(DATA),
            &mut sig,
        )
        .unwrap();
        black_box(&sig);
    });
}
