//! The config's `[[pkcs11]]` entries: each provider is loaded into the agent before it serves,
//! as `agentry add --pkcs11` would load it (the agent's allow-list applies), logging in with the
//! PIN kept in the OS keyring when the entry says `pin = "keyring"`. A provider that fails is
//! logged with its config line; the others still load.

use super::{Config, Pkcs11Entry, Problem};
use agentry_core::proto::Constraint;
use agentry_core::Agent;
use zeroize::Zeroizing;

/// Loads every `[[pkcs11]]` provider; returns how many loaded.
pub(crate) async fn load_providers(agent: &Agent, config: &Config) -> usize {
    let Some(path) = &config.path else {
        return 0;
    };
    let mut loaded = 0;
    for entry in &config.pkcs11 {
        match load_one(agent, entry).await {
            Ok(keys) => {
                tracing::info!(provider = %entry.provider.display(), keys, "loaded from {}", path.display());
                loaded += 1;
            }
            Err(e) => tracing::error!("{}", e.render(path)),
        }
    }
    loaded
}

async fn load_one(agent: &Agent, entry: &Pkcs11Entry) -> Result<usize, Problem> {
    let at = |message: String| Problem::at(entry.pos, message);
    let name = entry.provider.display().to_string();
    let provider = entry
        .provider
        .to_str()
        .ok_or_else(|| at(format!("{name}: the path is not valid Unicode")))?;
    let pin = if entry.pin_from_keyring {
        let resolved = agentry_platform::helper::provider_path::resolve(provider)
            .map_err(|e| at(e.to_string()))?;
        agentry_platform::keyring::KeyringStore::os()
            .recall_pin(&resolved)
            .map_err(|e| at(format!("{name}: {e}")))?
            .ok_or_else(|| {
                at(format!(
                    "{name}: no PIN kept in the OS keyring (run `agentry add --pkcs11 {name} --remember` once)"
                ))
            })?
    } else {
        Zeroizing::default()
    };
    let mut constraints = Vec::new();
    if let Some(life) = entry.lifetime {
        constraints.push(Constraint::Lifetime(
            u32::try_from(life.as_secs()).unwrap_or(u32::MAX),
        ));
    }
    if entry.confirm {
        constraints.push(Constraint::Confirm);
    }
    agent
        .add_provider(provider, pin, constraints)
        .await
        .map_err(|e| at(format!("{name}: {e}")))
}
