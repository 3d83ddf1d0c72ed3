//! A stage's log on its way to the store: lines are sent to a writer task that appends them in batches as
//! they come, so a crash loses at most the last fraction of a second and nothing waits on the database.

use std::time::Duration;

use slipway_store::Store;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Lines are written at least this often while they keep coming.
const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// ... or when this many bytes are waiting.
const FLUSH_BYTES: usize = 64 * 1024;

/// The sending half: cheap to clone, usable from sync callbacks (Docker and git progress).
#[derive(Clone)]
pub struct LogSink {
    tx: mpsc::UnboundedSender<String>,
}

impl LogSink {
    pub fn line(&self, line: impl AsRef<str>) {
        let line = line.as_ref().trim_end_matches(['\r', '\n']);
        // A closed writer means the stage is over; a late line from a callback is dropped.
        let _ = self.tx.send(format!("{line}\n"));
    }

    /// A `FnMut(&str)` for callbacks that hand over lines.
    pub fn callback(&self) -> impl FnMut(&str) + Send + 'static {
        let sink = self.clone();
        move |line: &str| sink.line(line)
    }
}

/// The writing half, owned by the stage runner.
pub struct StageLog {
    sink: LogSink,
    writer: JoinHandle<Result<(), slipway_store::StoreError>>,
}

impl StageLog {
    pub fn start(store: Store, stage_id: i64) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_batches(store, stage_id, rx));
        StageLog { sink: LogSink { tx }, writer }
    }

    pub fn sink(&self) -> &LogSink {
        &self.sink
    }

    /// Writes what is left and stops the writer.
    pub async fn close(self) -> Result<(), slipway_store::StoreError> {
        drop(self.sink);
        match self.writer.await {
            Ok(result) => result,
            Err(_) => Ok(()), // the writer task panicked or was cancelled: nothing more can be written
        }
    }
}

async fn write_batches(
    store: Store,
    stage_id: i64,
    mut rx: mpsc::UnboundedReceiver<String>,
) -> Result<(), slipway_store::StoreError> {
    let mut pending = String::new();
    loop {
        let deadline = tokio::time::sleep(FLUSH_EVERY);
        tokio::pin!(deadline);
        let closed = loop {
            tokio::select! {
                line = rx.recv() => match line {
                    Some(line) => {
                        pending.push_str(&line);
                        if pending.len() >= FLUSH_BYTES { break false; }
                    }
                    None => break true,
                },
                () = &mut deadline => break false,
            }
        };
        if !pending.is_empty() {
            store.append_log(stage_id, &pending).await?;
            pending.clear();
        }
        if closed {
            return Ok(());
        }
    }
}
