//! One job per lake at a time: the `_lock.json` object (issue 8
//! concurrency). A run creates it with a conditional put (`PutMode::Create`:
//! `If-None-Match: *` on S3, an exclusive create on local disk) before it
//! touches anything, and deletes it when it ends, failed or not.
//!
//! A second job finds the object and stops with a message naming the holder.
//! A lock left by a killed run is taken over when it names this host and a
//! process that no longer exists; any other holder needs `--break-lock`,
//! since only the operator can know that a run on another host is gone.

use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use super::{Lake, SinkError};

/// The lock object under the lake root.
const LOCK: &str = "_lock.json";

/// Who holds a lake.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    /// The holding run.
    pub run_id: String,
    /// Its job.
    pub job: String,
    /// Its process id.
    pub pid: u32,
    /// Its host name.
    pub host: String,
    /// When it started (RFC 3339).
    pub started_at: String,
}

impl LockHolder {
    /// This process, for `run_id` of `job`.
    pub fn this_process(run_id: &str, job: &str, started_at: &str) -> LockHolder {
        LockHolder {
            run_id: run_id.to_string(),
            job: job.to_string(),
            pid: std::process::id(),
            host: host_name(),
            started_at: started_at.to_string(),
        }
    }

    /// `run R of job J (pid P on H, started T)`.
    pub fn describe(&self) -> String {
        format!(
            "run {} of job {} (pid {} on {}, started {})",
            self.run_id, self.job, self.pid, self.host, self.started_at
        )
    }

    /// True when the holder ran on this host and its process is gone.
    fn is_dead_here(&self) -> bool {
        self.host == host_name()
            && self.pid != std::process::id()
            && !std::path::Path::new(&format!("/proc/{}", self.pid)).exists()
            && std::path::Path::new("/proc/self").exists()
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".to_string())
}

impl Lake {
    /// Take the lake for `me`. With `break_lock`, an existing lock is
    /// removed first (the operator says its run is gone). Returns the
    /// holder whose lock was taken over, if any (its run ended without
    /// releasing the lake).
    ///
    /// # Errors
    /// [`SinkError::Locked`] when another live run holds it;
    /// [`SinkError::Store`] when the store fails.
    pub async fn lock(
        &self,
        me: &LockHolder,
        break_lock: bool,
    ) -> Result<Option<LockHolder>, SinkError> {
        let path = self.path(LOCK);
        let mut taken_over = None;
        let body = serde_json::to_vec_pretty(me).expect("a lock holder always serialises");
        for attempt in 0..2 {
            let opts = PutOptions {
                mode: PutMode::Create,
                ..PutOptions::default()
            };
            super::crash::before_write("put", &path);
            match self
                .root
                .store
                .put_opts(&path, PutPayload::from(body.clone()), opts)
                .await
            {
                Ok(_) => return Ok(taken_over),
                Err(object_store::Error::AlreadyExists { .. }) if attempt == 0 => {
                    let holder = self.lock_holder().await?;
                    let stale = holder.as_ref().is_none_or(LockHolder::is_dead_here);
                    if !(break_lock || stale) {
                        return Err(SinkError::Locked {
                            lake: self.root.redacted(),
                            holder: holder
                                .map_or_else(|| "an unknown run".into(), |h| h.describe()),
                        });
                    }
                    tracing::warn!(
                        holder = %holder.as_ref().map_or_else(|| "unreadable".into(), LockHolder::describe),
                        forced = break_lock,
                        "Taking over the lake lock of a run that is gone."
                    );
                    self.delete(&path).await?;
                    taken_over = holder;
                }
                Err(object_store::Error::NotImplemented { .. }) => {
                    // A store without conditional puts: check, then write.
                    if let Some(h) = self.lock_holder().await? {
                        if !(break_lock || h.is_dead_here()) {
                            return Err(SinkError::Locked {
                                lake: self.root.redacted(),
                                holder: h.describe(),
                            });
                        }
                        taken_over = Some(h);
                    }
                    super::crash::before_write("put", &path);
                    self.root
                        .store
                        .put(&path, PutPayload::from(body.clone()))
                        .await
                        .map_err(self.store_err("write", &path))?;
                    return Ok(taken_over);
                }
                Err(e) => return Err(self.store_err("write", &path)(e)),
            }
        }
        Err(SinkError::Locked {
            lake: self.root.redacted(),
            holder: "another run that took it at the same moment".into(),
        })
    }

    /// Release the lake if `run_id` still holds it.
    ///
    /// # Errors
    /// [`SinkError::Store`] when the store fails.
    pub async fn unlock(&self, run_id: &str) -> Result<(), SinkError> {
        if self
            .lock_holder()
            .await?
            .is_some_and(|h| h.run_id == run_id)
        {
            self.delete(&self.path(LOCK)).await?;
        }
        Ok(())
    }

    /// The current holder, if the lake is locked (None also for an
    /// unreadable lock object, which is then treated as stale).
    ///
    /// # Errors
    /// [`SinkError::Store`] when the store fails.
    pub async fn lock_holder(&self) -> Result<Option<LockHolder>, SinkError> {
        let path = self.path(LOCK);
        let bytes = match self.get_bytes(&path).await {
            Ok(b) => b,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.store_err("read", &path)(e)),
        };
        Ok(serde_json::from_slice(&bytes).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(run: &str) -> LockHolder {
        LockHolder::this_process(run, "t", "2026-11-22T00:00:00Z")
    }

    #[tokio::test]
    async fn one_holder_at_a_time() {
        let lake = Lake::open("memory://lock-test/one").unwrap();
        lake.lock(&holder("r1"), false).await.unwrap();
        let err = lake.lock(&holder("r2"), false).await.unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("run r1 of job t") && msg.contains("--break-lock"),
            "{msg}"
        );
        // Unlock by someone else leaves it; by the holder frees it.
        lake.unlock("r2").await.unwrap();
        assert!(lake.lock_holder().await.unwrap().is_some());
        lake.unlock("r1").await.unwrap();
        assert!(lake.lock_holder().await.unwrap().is_none());
        lake.lock(&holder("r2"), false).await.unwrap();
        // --break-lock takes it from a live holder.
        lake.lock(&holder("r3"), true).await.unwrap();
        assert_eq!(lake.lock_holder().await.unwrap().unwrap().run_id, "r3");
    }

    #[tokio::test]
    async fn a_dead_process_on_this_host_is_taken_over() {
        let lake = Lake::open("memory://lock-test/dead").unwrap();
        let mut gone = holder("dead");
        // Beyond the kernel's pid range: never a live process.
        gone.pid = 4_194_305;
        lake.lock(&gone, false).await.unwrap();
        lake.lock(&holder("next"), false).await.unwrap();
        assert_eq!(lake.lock_holder().await.unwrap().unwrap().run_id, "next");
        // The same dead pid on another host is not ours to judge.
        let mut elsewhere = gone.clone();
        elsewhere.host = "other-host".into();
        let lake = Lake::open("memory://lock-test/elsewhere").unwrap();
        lake.lock(&elsewhere, false).await.unwrap();
        assert!(lake.lock(&holder("next"), false).await.is_err());
    }
}
