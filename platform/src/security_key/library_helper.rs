//! The helper process's end for security keys (`agentry helper sk`): loads one middleware
//! library, the one its first request names, and answers [`HelperRequest::SkSign`] with the SSH
//! signature made from the authenticator's assertion. Invariant: a helper serves one library
//! for its whole life (a request naming another is refused), so a library's state never mixes
//! with another's; key handles and PINs live only in zeroizing buffers.

use super::middleware::Middleware;
use super::SkError;
use agentry_core::keys::PrivateKey;
use agentry_core::proto::{HelperFailure, HelperReply, HelperRequest};
use agentry_core::wire::Reader;
use std::path::Path;

/// The library this helper loaded, once it has.
#[derive(Debug, Default)]
pub struct SkLibraryHelper {
    loaded: Option<(String, Middleware)>,
}

impl SkLibraryHelper {
    /// Answers one request.
    pub fn handle(&mut self, request: HelperRequest) -> HelperReply {
        let HelperRequest::SkSign {
            library,
            key,
            data,
            pin,
        } = request
        else {
            return HelperReply::failure(HelperFailure::Other, "not a security key request");
        };
        let middleware = match self.library(&library) {
            Ok(m) => m,
            Err(e) => return HelperReply::failure(HelperFailure::Other, e.to_string()),
        };
        let key = match PrivateKey::decode_wire(&mut Reader::new(&key)) {
            Ok(key) => key,
            Err(e) => {
                return HelperReply::failure(HelperFailure::Other, format!("security key: {e}"))
            }
        };
        let Some(sk) = key.as_security_key() else {
            return HelperReply::failure(HelperFailure::Other, "not a security key");
        };
        let pin = (!pin.is_empty()).then_some(pin.as_slice());
        let signed = middleware
            .sign(
                sk.algorithm(),
                &data,
                sk.application(),
                sk.key_handle(),
                sk.flags(),
                pin,
            )
            .and_then(|a| {
                a.ssh_signature(sk.algorithm())
                    .map_err(|_| SkError::Malformed("signature"))
            });
        match signed {
            Ok(sig) => HelperReply::Signature(sig),
            Err(e) => {
                let reason = match e {
                    SkError::PinRequired => HelperFailure::WrongPin,
                    SkError::DeviceNotFound => HelperFailure::TokenAbsent,
                    _ => HelperFailure::Other,
                };
                HelperReply::failure(reason, e.to_string())
            }
        }
    }

    fn library(&mut self, library: &str) -> Result<&Middleware, SkError> {
        if self.loaded.is_none() {
            let middleware = Middleware::open(Path::new(library))?;
            self.loaded = Some((library.to_owned(), middleware));
        }
        match &self.loaded {
            Some((loaded, middleware)) if loaded == library => Ok(middleware),
            _ => Err(SkError::Library(
                "this helper serves another library".into(),
            )),
        }
    }
}
