//! `agentry add --pkcs11 PROVIDER` and `agentry remove --pkcs11 PROVIDER`, as `ssh-add -s` and
//! `ssh-add -e`: the PIN is asked like other passphrases (askpass, terminal, or a line of
//! standard input), the provider path is made absolute here (the agent would resolve a relative
//! one against its own directory), and the agent loads and checks the provider. With
//! `--remember` the PIN that worked is kept in the OS keyring under the provider's resolved path,
//! for `[[pkcs11]]` configuration entries with `pin = "keyring"`.

use crate::agent_state::AgentState;
use crate::client::Client;
use crate::passphrase::read_passphrase;
use crate::{Failure, Outcome};
use agentry_core::proto::{Constraint, Request, Response, SmartcardAdd, SmartcardRemove};
use zeroize::Zeroizing;

/// The provider's path as the agent is to be given it.
fn absolute(provider: &str) -> Result<String, Failure> {
    let path =
        std::path::absolute(provider).map_err(|e| Failure::new(format!("{provider}: {e}")))?;
    path.into_os_string()
        .into_string()
        .map_err(|_| Failure::new(format!("{provider}: the path is not valid Unicode")))
}

/// Loads `provider` into the agent with `constraints`, asking for the token's PIN first.
pub(crate) fn add_provider(
    client: &mut Client,
    provider: &str,
    constraints: &[Constraint],
    remember: bool,
) -> Outcome {
    let path = absolute(provider)?;
    let pin = read_passphrase(&format!("Enter PIN for PKCS#11 provider {path}: "))
        .map_err(Failure::new)?;
    let request = Request::AddSmartcardKey(Box::new(SmartcardAdd {
        provider: path.clone(),
        pin: Zeroizing::new(pin.as_bytes().to_vec()),
        constraints: constraints.to_vec(),
        constrained: !constraints.is_empty(),
    }));
    match client.request(&request)? {
        Response::Success => {
            eprintln!("Card added: {path}");
            if remember {
                let resolved = agentry_platform::helper::provider_path::resolve(&path)
                    .map_err(|e| Failure::new(e.to_string()))?;
                agentry_platform::keyring::KeyringStore::os()
                    .remember_pin(&resolved, &pin)
                    .map_err(|e| Failure::new(format!("the PIN was not remembered: {e}")))?;
                eprintln!("PIN kept in the OS keyring for {resolved}");
            }
            Ok(())
        }
        _ => Err(refused(client, &format!("add provider {path}"))),
    }
}

/// Unloads `provider` and drops its keys.
pub(crate) fn remove_provider(client: &mut Client, provider: &str) -> Outcome {
    let path = absolute(provider)?;
    let request = Request::RemoveSmartcardKey(SmartcardRemove {
        provider: path.clone(),
        pin: Zeroizing::default(),
    });
    match client.request(&request)? {
        Response::Success => {
            eprintln!("Card removed: {path}");
            Ok(())
        }
        _ => Err(refused(client, &format!("remove provider {path}"))),
    }
}

/// Why the agent refused, as far as the client can tell: the lock, else the reasons the agent
/// logs (it gives none on the wire).
fn refused(client: &mut Client, what: &str) -> Failure {
    match AgentState::probe(client) {
        Ok(state) => match state.lock_reason() {
            Some(reason) => Failure::new(format!("cannot {what}: {reason}")),
            None => Failure::new(format!(
                "the agent refused to {what} (not allowed by its -P list, a wrong PIN, no keys \
                 it does not hold already, or not loaded; its log says which)"
            )),
        },
        Err(e) => e,
    }
}
