//! Reading the mails a test app sent: the dev-mailbox file (embedded) or the SMTP sink's Maildir
//! (real), where aiosmtpd's `Mailbox` handler delivers every message as one file.

use std::path::PathBuf;
use std::time::SystemTime;

pub enum Mailbox {
    DevFile(PathBuf),
    Maildir(PathBuf),
}

impl Mailbox {
    /// Every message to `email` so far, oldest first.
    pub fn messages_to(&self, email: &str) -> Vec<String> {
        match self {
            Mailbox::DevFile(path) => std::fs::read_to_string(path)
                .unwrap_or_default()
                .split("\n--- ")
                .filter(|m| m.lines().any(|l| l == format!("To: {email}")))
                .map(str::to_owned)
                .collect(),
            Mailbox::Maildir(dir) => {
                let mut found: Vec<(SystemTime, String)> = Vec::new();
                for sub in ["new", "cur"] {
                    let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
                        continue;
                    };
                    for entry in entries.flatten() {
                        let Ok(text) = std::fs::read_to_string(entry.path()) else {
                            continue;
                        };
                        let to_me = text.lines().take_while(|l| !l.is_empty()).any(|l| {
                            l.to_ascii_lowercase().starts_with("to:") && l.contains(email)
                        });
                        if to_me {
                            let at = entry
                                .metadata()
                                .and_then(|m| m.modified())
                                .unwrap_or(std::time::UNIX_EPOCH);
                            found.push((at, text));
                        }
                    }
                }
                found.sort_by_key(|(at, _)| *at);
                found.into_iter().map(|(_, t)| t).collect()
            }
        }
    }
}

/// The 6-digit code in a message ("…code is 123456.").
pub fn extract_code(message: &str) -> Option<String> {
    let at = message.find("code is ")? + "code is ".len();
    let code: String = message[at..].chars().take(6).collect();
    (code.len() == 6 && code.chars().all(|c| c.is_ascii_digit())).then_some(code)
}
