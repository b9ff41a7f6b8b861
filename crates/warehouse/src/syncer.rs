//! Syncing written files on a thread of their own.
//!
//! An ingest writes hundreds of Parquet files, and each must be on disk before the commit
//! that names it. Synced by the thread that wrote it, every file stops that thread for the
//! disk's round trip (1 to 3 ms here, sometimes far more): at 10M rows the two workers sat
//! about 2.5 s in `fsync` between them, each a core left idle. Handed to a [`Syncer`], a
//! file is synced while its writer goes on to the next, and [`Syncer::finish`] waits for
//! the last one before anything is committed.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use crate::{Error, Result};

/// Files waiting for their sync at most: writers wait beyond this, so a slow disk holds back
/// the writing instead of piling up open files.
const PENDING: usize = 32;

/// Syncs files handed to it on a thread of its own; [`Syncer::finish`] returns once every
/// one is on disk, or with the first failure.
///
/// ```
/// use std::io::Write;
/// let dir = tempfile::tempdir().unwrap();
/// let syncer = custos_warehouse::Syncer::start().unwrap();
/// for name in ["a", "b"] {
///     let path = dir.path().join(name);
///     let mut file = std::fs::File::create(&path).unwrap();
///     file.write_all(b"rows").unwrap();
///     syncer.sync(&path, file).unwrap();
/// }
/// syncer.finish().unwrap();
/// ```
#[derive(Debug)]
pub struct Syncer {
    tx: Option<SyncSender<(PathBuf, File)>>,
    thread: Option<JoinHandle<Result<()>>>,
}

impl Syncer {
    /// Starts the syncing thread.
    pub fn start() -> Result<Syncer> {
        let (tx, rx) = sync_channel(PENDING);
        let thread = std::thread::Builder::new()
            .name("custos-sync".into())
            .spawn(move || sync_all(rx))
            .map_err(|e| Error::io(Path::new("<sync thread>"), e))?;
        Ok(Syncer {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Hands `file` (written at `path`) over to be synced; syncs it here if the thread is
    /// gone.
    pub fn sync(&self, path: &Path, file: File) -> Result<()> {
        let Some(tx) = &self.tx else {
            return file.sync_all().map_err(|e| Error::io(path, e));
        };
        match tx.send((path.to_path_buf(), file)) {
            Ok(()) => Ok(()),
            Err(returned) => returned.0.1.sync_all().map_err(|e| Error::io(path, e)),
        }
    }

    /// Waits until every file handed over is on disk; the first file that could not be
    /// synced is the error.
    pub fn finish(mut self) -> Result<()> {
        self.stop()
    }

    fn stop(&mut self) -> Result<()> {
        self.tx = None;
        match self.thread.take() {
            None => Ok(()),
            Some(thread) => thread.join().unwrap_or_else(|_| {
                Err(Error::io(
                    Path::new("<sync thread>"),
                    std::io::Error::other("it panicked"),
                ))
            }),
        }
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        // Dropped without `finish` only when the work failed anyway.
        let _ = self.stop();
    }
}

/// Syncs every file received until the channel closes. After a failure the rest are only
/// closed: the commit they were for will not happen.
fn sync_all(rx: Receiver<(PathBuf, File)>) -> Result<()> {
    let mut first_failure = None;
    for (path, file) in rx {
        if first_failure.is_none()
            && let Err(e) = file.sync_all()
        {
            first_failure = Some(Error::io(&path, e));
        }
    }
    first_failure.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_cannot_be_synced_fails_the_finish() {
        let dir = tempfile::tempdir().expect("dir");
        let syncer = Syncer::start().expect("start");
        let good = dir.path().join("good");
        syncer
            .sync(&good, File::create(&good).expect("create"))
            .expect("hand over");
        // A directory opened for reading syncs; a pipe does not (EINVAL).
        let (reader, _writer) = std::io::pipe().expect("pipe");
        let pipe = File::from(std::os::fd::OwnedFd::from(reader));
        syncer.sync(Path::new("<pipe>"), pipe).expect("hand over");
        let err = syncer.finish().expect_err("the pipe cannot be synced");
        assert!(err.to_string().contains("<pipe>"), "{err}");
    }
}
