//! Agent forwarding through a chain of real sshd servers (A → B → C, plus hosts with CA-signed
//! host certificates), with destination restrictions added by the real `ssh-add -h`: the
//! scenarios of OpenSSH's regress/agent-restrict.sh, each run against agentry and against
//! OpenSSH's own ssh-agent, which must agree (and match the expected outcome). Then the
//! confirmation prompt of a forwarded request, shown through a scripted askpass, names the hops
//! from known_hosts.
#![cfg(unix)]

use agentry_core::prompt::Prompter;
use agentry_core::{Agent, AgentOptions};
use agentry_platform::known_hosts::KnownHostsNames;
use agentry_platform::unix::askpass::AskpassPrompter;
use agentry_tests::chain::{OpenSshAgent, SshChain, CHAIN_END};
use agentry_tests::fixtures::{self, private_key_copy};
use agentry_tests::server::{private_tempdir, TestAgent};
use agentry_tests::sshd::current_user;
use agentry_tests::tools::{agent_command, describe, require_tool, run};
use std::path::Path;
use std::sync::Arc;

/// The key restricted in each scenario, and one added without restrictions.
const RESTRICTED: &str = "ed25519";
const FREE: &str = "ecdsa-p256";

fn authorized() -> Vec<String> {
    [RESTRICTED, FREE]
        .iter()
        .map(|k| std::fs::read_to_string(fixtures::key_path(&format!("{k}.pub"))).unwrap())
        .collect()
}

/// What a run of the hop script showed: whether the last host was reached, and which fixture
/// keys the forwarded agent listed there.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    reached: bool,
    listed_at_end: Vec<&'static str>,
}

struct Scenario {
    name: &'static str,
    /// `ssh-add -h` arguments for the restricted key (the free key is added too when `free`).
    restrict: &'static [&'static str],
    free: bool,
    path: &'static [&'static str],
    expect: Outcome,
}

fn outcome(out: &std::process::Output) -> Outcome {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let reached = out.status.success() && stdout.contains(CHAIN_END);
    let listed_at_end = [RESTRICTED, FREE]
        .into_iter()
        .filter(|k| {
            let public = std::fs::read_to_string(fixtures::key_path(&format!("{k}.pub"))).unwrap();
            let blob = public.split_whitespace().nth(1).unwrap().to_owned();
            stdout.contains(&blob)
        })
        .collect();
    Outcome {
        reached,
        listed_at_end,
    }
}

/// Adds the scenario's keys to the agent at `socket` with the real ssh-add.
fn add_keys(chain: &SshChain, socket: &Path, dir: &Path, s: &Scenario) {
    let ssh_add = require_tool("ssh-add", "openssh-client");
    let key = private_key_copy(dir, RESTRICTED);
    let mut restricted = agent_command(&ssh_add, socket);
    restricted.arg("-H").arg(chain.known_hosts());
    for dest in s.restrict {
        restricted.args(["-h", &dest.replace("USER", &current_user())]);
    }
    let out = run(restricted.arg(&key));
    assert!(
        out.status.success(),
        "{}: ssh-add -h: {}",
        s.name,
        describe(&out)
    );
    if s.free {
        let free = private_key_copy(dir, FREE);
        let out = run(agent_command(&ssh_add, socket).arg(&free));
        assert!(
            out.status.success(),
            "{}: ssh-add: {}",
            s.name,
            describe(&out)
        );
    }
}

fn run_scenario(chain: &SshChain, socket: &Path, s: &Scenario) -> Outcome {
    let dir = private_tempdir();
    add_keys(chain, socket, dir.path(), s);
    outcome(&chain.hop(socket, s.path))
}

#[test]
fn destination_restrictions_agree_with_openssh_ssh_agent_along_real_chains() {
    let chain = SshChain::start(&["a", "b", "c"], &["d", "e"], &authorized());
    let refused = || Outcome {
        reached: false,
        listed_at_end: Vec::new(),
    };
    let at_end = |keys: &[&'static str]| Outcome {
        reached: true,
        listed_at_end: keys.to_vec(),
    };
    let scenarios = [
        Scenario {
            name: "allowed host",
            restrict: &["host_a"],
            free: false,
            path: &["host_a"],
            expect: at_end(&[]),
        },
        Scenario {
            name: "wrong host",
            restrict: &["host_a"],
            free: false,
            path: &["host_b"],
            expect: refused(),
        },
        Scenario {
            name: "right user",
            restrict: &["USER@host_a"],
            free: false,
            path: &["host_a"],
            expect: at_end(&[]),
        },
        Scenario {
            name: "wildcard user",
            restrict: &["*@host_a"],
            free: false,
            path: &["host_a"],
            expect: at_end(&[]),
        },
        Scenario {
            name: "wrong user",
            restrict: &["baduser@host_a"],
            free: false,
            path: &["host_a"],
            expect: refused(),
        },
        Scenario {
            name: "forwarded list filtered",
            restrict: &["host_a"],
            free: true,
            path: &["host_a"],
            expect: at_end(&[FREE]),
        },
        Scenario {
            name: "key usable beyond a host is listed there",
            restrict: &["host_a", "host_a>host_b", "host_b>host_c"],
            free: true,
            path: &["host_a", "host_b"],
            expect: at_end(&[RESTRICTED, FREE]),
        },
        Scenario {
            name: "multi-hop allowed path",
            restrict: &["host_a", "host_a>host_b", "host_b>host_c"],
            free: false,
            path: &["host_a", "host_b", "host_c"],
            expect: at_end(&[]),
        },
        Scenario {
            name: "multi-hop wrong user",
            restrict: &["host_a", "host_a>baduser@host_b"],
            free: false,
            path: &["host_a", "host_b"],
            expect: refused(),
        },
        Scenario {
            name: "path not listed",
            restrict: &["host_a", "host_a>host_c"],
            free: false,
            path: &["host_a", "host_b", "host_c"],
            expect: refused(),
        },
        Scenario {
            name: "the listed path works",
            restrict: &["host_a", "host_a>host_c"],
            free: false,
            path: &["host_a", "host_c"],
            expect: at_end(&[]),
        },
        Scenario {
            name: "multi-hop cycle without the backward hops",
            restrict: &["host_a", "host_a>host_b", "host_b>host_c"],
            free: false,
            path: &["host_a", "host_b", "host_a", "host_a", "host_c"],
            expect: refused(),
        },
        Scenario {
            name: "multi-hop cycle with every hop listed",
            restrict: &[
                "host_a",
                "host_a>host_b",
                "host_b>host_c",
                "host_b>host_a",
                "host_a>host_a",
                "host_a>host_c",
            ],
            free: false,
            path: &["host_a", "host_b", "host_a", "host_a", "host_c"],
            expect: at_end(&[]),
        },
        Scenario {
            name: "CA-certified host",
            restrict: &["host_d"],
            free: false,
            path: &["host_d"],
            expect: at_end(&[]),
        },
        Scenario {
            name: "certificate principal honoured",
            restrict: &["host_e"],
            free: false,
            path: &["host_d"],
            expect: refused(),
        },
        Scenario {
            name: "certified host as a forwarding hop",
            restrict: &["host_d", "host_d>host_e", "host_e>host_a"],
            free: false,
            path: &["host_d", "host_e", "host_a"],
            expect: at_end(&[]),
        },
    ];
    let mut failures = Vec::new();
    for s in &scenarios {
        let agentry = TestAgent::start();
        let ours = run_scenario(&chain, agentry.socket(), s);
        let openssh = OpenSshAgent::start();
        let theirs = run_scenario(&chain, openssh.socket(), s);
        if ours != theirs || ours != s.expect {
            failures.push(format!(
                "{}: agentry {ours:?}, ssh-agent {theirs:?}, expected {:?}",
                s.name, s.expect
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n{}",
        failures.join("\n"),
        chain.logs()
    );
}

/// `ssh-add -c` key used on host_b through host_a: agentry's askpass prompt (scripted, recording
/// its text) shows the key's fingerprint, the path with the names known_hosts gives both hops,
/// and that the request was forwarded.
#[test]
fn forwarded_confirmation_prompt_names_the_hops_from_known_hosts() {
    let chain = SshChain::start(&["a", "b"], &[], &authorized());
    let dir = private_tempdir();
    let record = dir.path().join("prompts");
    let askpass = dir.path().join("askpass");
    std::fs::write(
        &askpass,
        format!(
            "#!/bin/sh\n[ \"$SSH_ASKPASS_PROMPT\" = confirm ] || exit 1\nprintf '%s\\n--\\n' \"$1\" >> {}\n",
            record.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o755)).unwrap();
    let prompter = KnownHostsNames::new(
        Arc::new(AskpassPrompter::new(askpass)),
        vec![dir.path().join("missing"), chain.known_hosts()],
    );
    let agent = TestAgent::serve(Agent::with_parts(
        AgentOptions::new(),
        Some(Arc::new(prompter) as Arc<dyn Prompter>),
        Arc::new(agentry_core::clock::TokioClock),
    ));
    let key = private_key_copy(dir.path(), RESTRICTED);
    let ssh_add = require_tool("ssh-add", "openssh-client");
    let added = run(agent_command(&ssh_add, agent.socket()).arg("-c").arg(&key));
    assert!(added.status.success(), "ssh-add -c: {}", describe(&added));

    let out = chain.hop(agent.socket(), &["host_a", "host_b"]);
    assert!(
        outcome(&out).reached,
        "{}\n{}",
        describe(&out),
        chain.logs()
    );
    let prompts = std::fs::read_to_string(&record).unwrap_or_default();
    let fingerprint = fixtures::public_key(RESTRICTED)
        .fingerprint(ssh_key::HashAlg::Sha256)
        .to_string();
    let forwarded = prompts
        .split("\n--\n")
        .find(|p| p.contains("host_a \u{2192} host_b"))
        .unwrap_or_else(|| panic!("no prompt names host_a \u{2192} host_b:\n{prompts}"));
    assert!(
        forwarded.contains("Path: you \u{2192} host_a \u{2192} host_b"),
        "{forwarded}"
    );
    assert!(forwarded.contains(&fingerprint), "{forwarded}");
    assert!(forwarded.contains("forwarded"), "{forwarded}");
    assert!(forwarded.contains("Requested by: "), "{forwarded}");
    // The first login (local ssh to host_a) was asked about too, named the same way.
    assert!(prompts.contains("Path: you \u{2192} host_a\n"), "{prompts}");
}
