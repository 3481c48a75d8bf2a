//! FIDO security keys end to end, each scenario against `agentry start` and against OpenSSH's
//! own `ssh-agent` (same steps, same outcome): keys made by the real `ssh-keygen -t ed25519-sk`
//! / `-t ecdsa-sk` with OpenSSH's software authenticator `sk-dummy.so` (`scripts/sk-dummy`),
//! added by the real `ssh-add` (`SSH_SK_PROVIDER`), then `ssh-keygen -Y sign` through the agent
//! and `-Y verify`, an `ssh` login to a loopback `sshd` with a key and with an sk certificate, a
//! confirm-constrained key whose prompt comes before the authenticator is asked, and a provider
//! outside the allow-list (`-P`) refused. Both agents are started with `-P` admitting
//! sk-dummy's directory. Also (agentry only) a library that aborts inside `sk_sign`: that
//! signature fails, the agent serves on, and the next signature starts a new helper.
#![cfg(target_os = "linux")]

mod common;

use agentry_tests::sk_dummy::{allow_pattern, make_key, sk_dummy, SK_TYPES};
use agentry_tests::sshd::{current_user, SshdSetup, TestSshd};
use agentry_tests::tools::ssh_keygen_verify;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// Which agent a scenario runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Agentry,
    OpensshAgent,
}

const KINDS: [Kind; 2] = [Kind::Agentry, Kind::OpensshAgent];

/// A running agent (killed on drop) and where its log goes.
struct Agent {
    socket: PathBuf,
    log: PathBuf,
    child: Child,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Agent {
    /// Starts `kind` in `dir` with allow-list `allow` and, if given, `askpass` for prompts.
    fn start(kind: Kind, dir: &Path, allow: &str, askpass: Option<&Path>) -> Self {
        let socket = dir.join(format!("{kind:?}.sock"));
        let log = dir.join(format!("{kind:?}.log"));
        let mut command = match kind {
            Kind::Agentry => {
                let mut c = agentry();
                c.args(["start", "-D", "-a"])
                    .arg(&socket)
                    .arg("-P")
                    .arg(allow);
                c
            }
            Kind::OpensshAgent => {
                // -d: in the foreground, logging (debug) to stderr.
                let mut c = Command::new("ssh-agent");
                c.arg("-d").arg("-a").arg(&socket).arg("-P").arg(allow);
                c
            }
        };
        if let Some(askpass) = askpass {
            // Without a display, askpass is used only when forced (both agents).
            command
                .env("SSH_ASKPASS", askpass)
                .env("SSH_ASKPASS_REQUIRE", "force");
        }
        let child = command
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start the agent");
        let agent = Self { socket, log, child };
        wait_for_agent(&agent.socket);
        agent
    }

    /// `program` as a client of this agent.
    fn client(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .env("SSH_AUTH_SOCK", &self.socket)
            .env_remove("SSH_ASKPASS")
            .env_remove("DISPLAY")
            .stdin(Stdio::null());
        command
    }

    /// `ssh-add` of `keys` with `SSH_SK_PROVIDER=provider` and `options` (`-c`, …).
    fn ssh_add(&self, provider: &Path, options: &[&str], keys: &[&Path]) -> Output {
        run(self
            .client("ssh-add")
            .env("SSH_SK_PROVIDER", provider)
            .args(options)
            .args(keys))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// `ssh-keygen -Y sign` through `agent` with `public`'s key, then `-Y verify`.
fn sign_and_verify(agent: &Agent, public: &Path, dir: &Path) -> Result<(), String> {
    let message = dir.join("message");
    std::fs::write(&message, b"signed by a security key through the agent\n").unwrap();
    let _ = std::fs::remove_file(dir.join("message.sig"));
    let signed = run(agent
        .client("ssh-keygen")
        .args(["-Y", "sign", "-n", "file", "-f"])
        .arg(public)
        .arg(&message));
    if !signed.status.success() {
        return Err(format!("-Y sign: {}", describe(&signed)));
    }
    let keygen = Path::new("/usr/bin/ssh-keygen");
    let verified = ssh_keygen_verify(keygen, public, &message, &dir.join("signers"));
    if !verified.status.success() {
        return Err(format!("-Y verify: {}", describe(&verified)));
    }
    Ok(())
}

/// What `kind` logs when it asks the authenticator: agentry's touch announcement (its keys are
/// made without no-touch-required), OpenSSH's start of `ssh-sk-helper` (at `-d`'s debug level).
fn asking_pattern(kind: Kind) -> &'static str {
    match kind {
        Kind::Agentry => "touch the security key",
        Kind::OpensshAgent => "start_helper: started",
    }
}

fn public_of(key: &Path) -> PathBuf {
    let mut path = key.as_os_str().to_owned();
    path.push(".pub");
    path.into()
}

#[test]
fn both_key_types_sign_through_the_agent_and_verify() {
    let Some(sk) = sk_dummy() else { return };
    for kind in KINDS {
        let dir = private_tempdir();
        let keys: Vec<PathBuf> = SK_TYPES
            .iter()
            .map(|t| make_key(&sk, dir.path(), t, t, &[]))
            .collect();
        let agent = Agent::start(kind, dir.path(), &allow_pattern(&sk), None);
        let refs: Vec<&Path> = keys.iter().map(PathBuf::as_path).collect();
        let added = agent.ssh_add(&sk, &[], &refs);
        assert!(
            added.status.success(),
            "{kind:?}: ssh-add: {}",
            describe(&added)
        );
        let listed = run(agent.client("ssh-add").arg("-l"));
        let listed = text(&listed.stdout);
        for key in &keys {
            let fingerprint = run(Command::new("ssh-keygen").arg("-lf").arg(public_of(key)));
            assert!(
                listed.contains(text(&fingerprint.stdout).trim()),
                "{kind:?}: {} not listed as ssh-keygen -l shows it:\n{listed}",
                key.display()
            );
        }
        for key in &keys {
            sign_and_verify(&agent, &public_of(key), dir.path()).unwrap_or_else(|e| {
                panic!(
                    "{kind:?}, {}: {e}\nagent log:\n{}",
                    key.display(),
                    agent.log()
                )
            });
        }
    }
}

#[test]
fn ssh_logs_in_with_a_key_and_with_an_sk_certificate() {
    let Some(sk) = sk_dummy() else { return };
    let dir = private_tempdir();
    let plain = make_key(&sk, dir.path(), "plain", "ed25519-sk", &[]);
    let certified = make_key(&sk, dir.path(), "certified", "ecdsa-sk", &[]);
    let ca = dir.path().join("ca");
    let made = run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "ca", "-f"])
        .arg(&ca));
    assert!(made.status.success(), "{}", describe(&made));
    let signed = run(Command::new("ssh-keygen")
        .arg("-s")
        .arg(&ca)
        .args(["-I", "sk-cert", "-n", &current_user()])
        .arg(public_of(&certified)));
    assert!(signed.status.success(), "{}", describe(&signed));
    let cert = dir.path().join("certified-cert.pub");
    assert!(cert.exists());
    // The plain key by itself; the certified one only through its CA.
    let ca_line = std::fs::read_to_string(public_of(&ca)).unwrap();
    let sshd = TestSshd::start_with(SshdSetup {
        authorized_keys: format!(
            "{}cert-authority {ca_line}",
            std::fs::read_to_string(public_of(&plain)).unwrap()
        ),
        ..SshdSetup::default()
    });
    let home = private_tempdir();
    for kind in KINDS {
        for (key, what) in [(&plain, "key"), (&certified, "certificate")] {
            let agent_dir = private_tempdir();
            let agent = Agent::start(kind, agent_dir.path(), &allow_pattern(&sk), None);
            // ssh-add adds certified-cert.pub after the key, as for any key.
            let added = agent.ssh_add(&sk, &[], &[key]);
            assert!(added.status.success(), "{kind:?}: {}", describe(&added));
            if what == "certificate" {
                let listed = text(&run(agent.client("ssh-add").arg("-L")).stdout);
                assert!(
                    listed.contains("sk-ecdsa-sha2-nistp256-cert-v01@openssh.com"),
                    "{kind:?}: certificate not listed:\n{listed}"
                );
            }
            let out = run(agent
                .client("ssh")
                .env("HOME", home.path())
                .args(["-F", "/dev/null", "-o", "StrictHostKeyChecking=no"])
                .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes"])
                .args(["-o", "IdentityFile=/dev/null"])
                .args(["-o", "PreferredAuthentications=publickey", "-p"])
                .arg(sshd.port().to_string())
                .arg(format!("{}@127.0.0.1", current_user()))
                .arg("echo sk-login-ok"));
            assert!(
                out.status.success() && text(&out.stdout).contains("sk-login-ok"),
                "{kind:?} with the {what}: {}\nagent log:\n{}\nsshd log:\n{}",
                describe(&out),
                agent.log(),
                sshd.log()
            );
            if what == "certificate" {
                assert!(
                    sshd.log().contains("ECDSA-SK-CERT"),
                    "{kind:?}: sshd did not accept the certificate:\n{}",
                    sshd.log()
                );
            }
        }
    }
}

#[test]
fn confirmation_comes_before_the_touch_and_a_no_never_reaches_the_key() {
    let Some(sk) = sk_dummy() else { return };
    for kind in KINDS {
        for allow in [true, false] {
            let dir = private_tempdir();
            let key = make_key(&sk, dir.path(), "confirmed", "ed25519-sk", &[]);
            let asked = dir.path().join("asked");
            let log = dir.path().join(format!("{kind:?}.log"));
            // Records each question's kind and how often the agent had logged that it asks the
            // authenticator by then: agentry's touch announcement, logged just before it asks;
            // OpenSSH's start of ssh-sk-helper. A notification (OpenSSH's "confirm user
            // presence", SSH_ASKPASS_PROMPT=none) is answered at once; a confirmation as this
            // round says.
            let asking = asking_pattern(kind);
            let askpass = script(
                &dir.path().join("askpass"),
                &format!(
                    "asked=$(grep -c '{asking}' '{log}')\n\
                     echo \"${{SSH_ASKPASS_PROMPT:-passphrase}} asked=$asked\" >> '{questions}'\n\
                     [ \"$SSH_ASKPASS_PROMPT\" = none ] && exit 0\n\
                     exit {}",
                    if allow { 0 } else { 1 },
                    log = log.display(),
                    questions = asked.display(),
                ),
            );
            let agent = Agent::start(kind, dir.path(), &allow_pattern(&sk), Some(&askpass));
            let added = agent.ssh_add(&sk, &["-c"], &[&key]);
            assert!(added.status.success(), "{kind:?}: {}", describe(&added));
            let outcome = sign_and_verify(&agent, &public_of(&key), dir.path());
            assert_eq!(
                outcome.is_ok(),
                allow,
                "{kind:?}, answer {allow}: {outcome:?}\nagent log:\n{}",
                agent.log()
            );
            let asked = std::fs::read_to_string(&asked).unwrap_or_default();
            let questions: Vec<&str> = asked.lines().collect();
            // The confirmation is the first question, asked before the authenticator was.
            assert_eq!(
                questions.first(),
                Some(&"confirm asked=0"),
                "{kind:?}, answer {allow}: questions {questions:?}"
            );
            // Asked once after a yes; never after a no.
            assert_eq!(
                agent.log().matches(asking).count(),
                usize::from(allow),
                "{kind:?}, answer {allow}: questions {questions:?}\nagent log:\n{}",
                agent.log()
            );
        }
    }
}

#[test]
fn a_provider_outside_the_allow_list_is_refused() {
    let Some(sk) = sk_dummy() else { return };
    for kind in KINDS {
        let dir = private_tempdir();
        let key = make_key(&sk, dir.path(), "key", "ed25519-sk", &[]);
        // The allow-list admits a directory sk-dummy.so is not in.
        let agent = Agent::start(kind, dir.path(), "/usr/lib*/*,/usr/local/lib*/*", None);
        let added = agent.ssh_add(&sk, &[], &[&key]);
        assert_eq!(
            added.status.code(),
            Some(1),
            "{kind:?}: ssh-add should be refused: {}",
            describe(&added)
        );
        assert!(
            text(&added.stderr).contains("agent refused operation"),
            "{kind:?}: {}",
            describe(&added)
        );
        let listed = run(agent.client("ssh-add").arg("-l"));
        assert_eq!(
            listed.status.code(),
            Some(1),
            "{kind:?}: {}",
            describe(&listed)
        );
        if kind == Kind::Agentry {
            assert!(
                agent.log().contains("not in the allow-list"),
                "agentry should say why:\n{}",
                agent.log()
            );
        }
    }
}

/// A middleware library that forwards to sk-dummy.so, or aborts inside `sk_sign` while
/// `crash_marker` exists; built with the C compiler into `dir`.
fn crashing_library(dir: &Path, sk_dummy: &Path, crash_marker: &Path) -> PathBuf {
    let source = dir.join("sk-crash.c");
    std::fs::write(
        &source,
        format!(
            r#"#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
typedef int (*sign_fn)(uint32_t, const uint8_t *, size_t, const char *, const uint8_t *,
    size_t, uint8_t, const char *, void **, void **);
uint32_t sk_api_version(void) {{ return 0x000a0000; }}
int sk_sign(uint32_t alg, const uint8_t *data, size_t len, const char *app,
    const uint8_t *kh, size_t khl, uint8_t flags, const char *pin, void **opts, void **resp) {{
    if (access("{marker}", F_OK) == 0)
        abort();
    void *lib = dlopen("{dummy}", RTLD_NOW | RTLD_LOCAL);
    sign_fn real = lib ? (sign_fn)dlsym(lib, "sk_sign") : NULL;
    return real ? real(alg, data, len, app, kh, khl, flags, pin, opts, resp) : -1;
}}
"#,
            marker = crash_marker.display(),
            dummy = sk_dummy.display()
        ),
    )
    .unwrap();
    let library = dir.join("sk-crash.so");
    let built = run(Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&library)
        .arg(&source)
        .arg("-ldl"));
    assert!(built.status.success(), "cc: {}", describe(&built));
    library
}

/// agentry only: OpenSSH's `ssh-agent` runs its own helper per signature, and inside
/// `ssh-sk-helper` this forwarding library's `sk_sign` fails ("invalid format") even without the
/// crash marker, so the scenario proves nothing there.
#[test]
fn a_library_that_crashes_fails_its_signature_and_the_agent_serves_on() {
    let Some(sk) = sk_dummy() else { return };
    let kind = Kind::Agentry;
    let dir = private_tempdir();
    let marker = dir.path().join("crash");
    let library = crashing_library(dir.path(), &sk, &marker);
    let key = make_key(&sk, dir.path(), "key", "ed25519-sk", &[]);
    let allow = format!("{}/*", dir.path().canonicalize().unwrap().display());
    let agent = Agent::start(kind, dir.path(), &allow, None);
    let added = agent.ssh_add(&library, &[], &[&key]);
    assert!(added.status.success(), "{kind:?}: {}", describe(&added));
    std::fs::write(&marker, b"").unwrap();
    assert!(
        sign_and_verify(&agent, &public_of(&key), dir.path()).is_err(),
        "{kind:?}: a library that aborts made a signature"
    );
    // The agent is alive and still holds the key; once the library behaves, it signs.
    let listed = run(agent.client("ssh-add").arg("-l"));
    assert!(listed.status.success(), "{kind:?}: {}", describe(&listed));
    std::fs::remove_file(&marker).unwrap();
    sign_and_verify(&agent, &public_of(&key), dir.path()).unwrap_or_else(|e| {
        panic!(
            "{kind:?}: after the crash: {e}\nagent log:\n{}",
            agent.log()
        )
    });
}
