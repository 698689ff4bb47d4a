//! `Mailer` for local development without an SMTP server: every message is logged and appended to
//! a file (`DATA_DIR/dev-mailbox.log`), so a newcomer can read the signup code and finish signing up.

use std::path::PathBuf;

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;

use crate::ports::{Mail, MailError, Mailer};

pub struct DevMailbox {
    path: PathBuf,
    // Appends from concurrent requests must not interleave.
    lock: tokio::sync::Mutex<()>,
}

impl DevMailbox {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

#[async_trait]
impl Mailer for DevMailbox {
    fn backend(&self) -> &'static str {
        "dev-mailbox"
    }

    async fn send(&self, mail: Mail) -> Result<(), MailError> {
        tracing::info!(to = %mail.to, subject = %mail.subject, body = %mail.body, "dev mailbox: email not sent (SMTP_URL unset)");
        let entry = format!(
            "--- {} ---\nTo: {}\nSubject: {}\n\n{}\n\n",
            chrono::Utc::now().to_rfc3339(),
            mail.to,
            mail.subject,
            mail.body
        );
        let _guard = self.lock.lock().await;
        if let Some(dir) = self.path.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| MailError(e.to_string()))?;
        }
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .await
            .map_err(|e| MailError(format!("{}: {e}", self.path.display())))?;
        file.write_all(entry.as_bytes())
            .await
            .map_err(|e| MailError(e.to_string()))?;
        file.flush().await.map_err(|e| MailError(e.to_string()))
    }
}
