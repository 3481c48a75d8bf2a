//! The thread an in-process test agent is served on, on Unix ([`crate::server::TestAgent`]) and
//! on Windows (`crate::windows::WinTestAgent`) alike: a runtime of its own, told to stop and
//! joined when dropped.

use std::future::Future;
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// A server running on its own thread and runtime; stopped and joined when dropped.
#[derive(Debug)]
pub(crate) struct ServerThread {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ServerThread {
    /// Runs the future `serve` makes, given the receiver that says when to stop, on a new thread
    /// in a multi-threaded runtime with two workers.
    pub(crate) fn spawn<S, F>(serve: S) -> Self
    where
        S: FnOnce(oneshot::Receiver<()>) -> F + Send + 'static,
        F: Future<Output = ()>,
    {
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("test runtime");
            runtime.block_on(serve(stopped));
        });
        Self {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
