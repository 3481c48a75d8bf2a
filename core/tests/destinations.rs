//! Destination restrictions (`ssh-add -h`) enforced along the chain of session binds, after
//! OpenSSH's regress/agent-restrict.sh: allowed host and user work, wrong host or user is
//! refused, forwarded listings are filtered, multi-hop paths must be declared hop by hop, and a
//! restricted key never signs on an unbound connection or a forwarding hop.

mod common;

use agentry_core::proto::{DestinationConstraint, Hop, Response};
use agentry_core::{Agent, AgentOptions, Session};
use common::*;

fn origin_to(host: &Host, user: &str) -> DestinationConstraint {
    DestinationConstraint {
        from: Hop::default(),
        to: host.hop(user),
    }
}

fn between(from: &Host, to: &Host, user: &str) -> DestinationConstraint {
    DestinationConstraint {
        from: from.hop(""),
        to: to.hop(user),
    }
}

async fn agent_with_restricted_key(dests: Vec<DestinationConstraint>) -> Agent {
    let agent = Agent::new(AgentOptions::new());
    add_restricted_ed25519(&agent, dests).await;
    agent
}

/// The data ssh signs for `publickey-hostbound-v00@openssh.com` user authentication.
fn userauth(sid: &[u8], user: &str, host: &Host) -> Vec<u8> {
    hostbound_userauth(sid, user, &host.blob())
}

async fn sign_as(agent: &Agent, s: &mut Session, data: &[u8]) -> bool {
    let body = sign_body(&public_blob("ed25519"), data, 0);
    matches!(call(agent, s, &body).await, Response::Signature(_))
}

async fn listed(agent: &Agent, s: &mut Session) -> bool {
    matches!(call(agent, s, &[11]).await, Response::Identities(ids) if !ids.is_empty())
}

#[tokio::test]
async fn allowed_host_and_user_sign_other_users_and_hosts_do_not() {
    let a = Host::new("a.test", 1);
    let b = Host::new("b.test", 2);
    let agent = agent_with_restricted_key(vec![origin_to(&a, "alice")]).await;

    // Unbound local connection: listed, but no signature at all.
    let mut local = session();
    assert!(listed(&agent, &mut local).await);
    assert!(!sign_as(&agent, &mut local, b"anything").await);

    let mut to_a = session();
    a.bind(&agent, &mut to_a, &[7; 32], false).await;
    assert!(listed(&agent, &mut to_a).await);
    assert!(sign_as(&agent, &mut to_a, &userauth(&[7; 32], "alice", &a)).await);
    assert!(!sign_as(&agent, &mut to_a, &userauth(&[7; 32], "bob", &a)).await);
    assert!(
        !sign_as(&agent, &mut to_a, &userauth(&[8; 32], "alice", &a)).await,
        "wrong session"
    );
    assert!(
        !sign_as(&agent, &mut to_a, &userauth(&[7; 32], "alice", &b)).await,
        "wrong host key in data"
    );
    assert!(!sign_as(&agent, &mut to_a, b"not a userauth request").await);

    let mut to_b = session();
    b.bind(&agent, &mut to_b, &[9; 32], false).await;
    assert!(!listed(&agent, &mut to_b).await);
    assert!(!sign_as(&agent, &mut to_b, &userauth(&[9; 32], "alice", &b)).await);
}

#[tokio::test]
async fn multi_hop_path_must_be_declared_hop_by_hop() {
    let a = Host::new("a.test", 1);
    let b = Host::new("b.test", 2);
    let c = Host::new("c.test", 3);
    let agent = agent_with_restricted_key(vec![origin_to(&a, ""), between(&a, &b, "deploy")]).await;

    // Forwarded to a: listed there (usable beyond a), but a forwarding hop never signs.
    let mut via_a = session();
    a.bind(&agent, &mut via_a, &[1; 32], true).await;
    assert!(listed(&agent, &mut via_a).await);
    assert!(!sign_as(&agent, &mut via_a, &userauth(&[1; 32], "deploy", &a)).await);

    // a → b for user deploy: allowed.
    b.bind(&agent, &mut via_a, &[2; 32], false).await;
    assert!(sign_as(&agent, &mut via_a, &userauth(&[2; 32], "deploy", &b)).await);
    assert!(!sign_as(&agent, &mut via_a, &userauth(&[2; 32], "root", &b)).await);

    // a → c was never declared.
    let mut via_a_to_c = session();
    a.bind(&agent, &mut via_a_to_c, &[3; 32], true).await;
    c.bind(&agent, &mut via_a_to_c, &[4; 32], false).await;
    assert!(!listed(&agent, &mut via_a_to_c).await);
    assert!(!sign_as(&agent, &mut via_a_to_c, &userauth(&[4; 32], "deploy", &c)).await);
}

#[tokio::test]
async fn key_usable_only_at_a_host_is_hidden_from_connections_forwarded_through_it() {
    let a = Host::new("a.test", 1);
    let agent = agent_with_restricted_key(vec![origin_to(&a, "")]).await;
    let mut via_a = session();
    a.bind(&agent, &mut via_a, &[5; 32], true).await;
    assert!(!listed(&agent, &mut via_a).await);
    // Unrestricted keys stay visible everywhere.
    add_fixture(&agent, "ssh-add-ecdsa-p256.bin").await;
    assert!(listed(&agent, &mut via_a).await);
}

#[tokio::test]
async fn restricted_key_cannot_be_removed_or_replaced_from_a_disallowed_hop() {
    let a = Host::new("a.test", 1);
    let b = Host::new("b.test", 2);
    let agent = agent_with_restricted_key(vec![origin_to(&a, "")]).await;
    let mut to_b = session();
    b.bind(&agent, &mut to_b, &[6; 32], false).await;
    let remove = request_bytes("ssh-add-d-ed25519.bin");
    assert_eq!(call(&agent, &mut to_b, &remove).await, Response::Failure);
    let re_add = request_bytes("ssh-add-ed25519.bin");
    assert_eq!(call(&agent, &mut to_b, &re_add).await, Response::Failure);
    assert_eq!(
        agent.key_infos()[0].destinations.len(),
        1,
        "constraints kept"
    );
    assert_eq!(
        call(&agent, &mut session(), &remove).await,
        Response::Success
    );
}
