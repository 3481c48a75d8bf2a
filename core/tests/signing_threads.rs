//! The core starts no threads of its own: slow signatures (RSA here) are made in place until an
//! agent is given a `ThreadStarter`, and the signing threads are then started through it, once
//! per process, one per core. One test in its own binary, since the pool is per process.

mod common;

use agentry_core::proto::Response;
use agentry_core::{Agent, AgentOptions, ThreadStarter};
use common::*;
use std::sync::{Arc, Mutex};

async fn rsa_signs(agent: &Agent) -> bool {
    add_fixture(agent, "ssh-add-rsa-2048.bin").await;
    let body = sign_body(&public_blob("rsa-2048"), b"data", 4);
    matches!(
        call(agent, &mut session(), &body).await,
        Response::Signature(_)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_threads_come_only_from_the_platforms_starter() {
    let started = Arc::new(Mutex::new(Vec::<String>::new()));
    let record = Arc::clone(&started);
    let starter = ThreadStarter::new(move |name, job| {
        record.lock().unwrap().push(name.clone());
        std::thread::Builder::new()
            .name(name)
            .spawn(job)
            .map(drop)
            .map_err(|e| e.to_string())
    });

    // Without a starter, nothing is started: the signature is made in place.
    assert!(rsa_signs(&Agent::new(AgentOptions::new())).await);
    assert!(started.lock().unwrap().is_empty());

    let agent = Agent::new(AgentOptions::new().signing_threads(starter));
    assert!(rsa_signs(&agent).await);
    assert!(rsa_signs(&agent).await);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let names: Vec<String> = (0..cores).map(|i| format!("agentry-sign-{i}")).collect();
    assert_eq!(
        *started.lock().unwrap(),
        names,
        "started once, one per core"
    );
}
