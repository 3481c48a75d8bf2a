//! Threads for the core: the core starts none of its own, so the platform hands it a
//! [`ThreadStarter`] that starts named OS threads (the signing pool's, one per core).

use agentry_core::ThreadStarter;

/// A starter that runs each job on a new named OS thread.
pub fn os_threads() -> ThreadStarter {
    ThreadStarter::new(|name, job| {
        std::thread::Builder::new()
            .name(name)
            .spawn(job)
            .map(drop)
            .map_err(|e| e.to_string())
    })
}
