//! Deleting one's own account, for good.
//!
//! What goes: the account row with its linked identities and its end-to-end key and the key's
//! backup (one `DELETE`, the rest by `ON DELETE CASCADE`), and every session (their access tokens
//! refused and their sockets dropped, as at logout). The address and the username are free again
//! at once. What stays: the messages the user sent, in the chats of the people they sent them to,
//! as Slack, Matrix and Signal keep them; realtime takes the user out of every group and tells
//! their contacts (`USER_DELETED_CHANNEL`).
//!
//! realtime's part is recorded in the `Kv` (`DELETED_USERS_PENDING_KEY`) before anything is
//! deleted, and the channel only hastens it: a realtime instance that was down, or a request that
//! stopped half-way and is retried, still gets the user out of their groups.

use common::ApiError;
use common::contracts::account::DeleteAccountRequest;
use common::contracts::auth::{DELETED_USERS_PENDING_KEY, USER_DELETED_CHANNEL};

use super::{AuthService, Principal, kv_err};
use crate::ports::{Mail, UserRecord};

impl AuthService {
    /// Deletes the caller's account once the password (counted against the login budget, as a
    /// password change) or a code mailed to the address proves it is them.
    pub async fn delete_account(
        &self,
        me: &Principal,
        req: DeleteAccountRequest,
    ) -> Result<(), ApiError> {
        let user = self.own_account(me.user_id).await?;
        match (req.password, req.code) {
            (Some(password), None) => self.check_password(&user, password, "password").await?,
            (None, Some(code)) => self.otps.verify(&user.email, &code).await?,
            _ => return Err(ApiError::field("password", "give the password or a code")),
        }
        let id = user.id.to_string();
        let at_ms = chrono::Utc::now().timestamp_millis();
        self.kv
            .hash_incr(DELETED_USERS_PENDING_KEY, &id, at_ms)
            .await
            .map_err(kv_err)?;
        self.store.delete_user(user.id).await?;
        // An empty `kept`: every session goes, this one too, and any the index missed is cut off.
        self.sessions.revoke_others(&id, "").await?;
        if let Err(e) = self.kv.publish(USER_DELETED_CHANNEL, &id).await {
            tracing::warn!(error = %e, "could not announce a deleted account; realtime's sweep will find it");
        }
        tracing::info!(user = %id, "account deleted");
        self.mail_account_deleted(&user);
        Ok(())
    }

    fn mail_account_deleted(&self, user: &UserRecord) {
        self.mail_in_background(Mail {
            to: user.email.clone(),
            subject: "Your Batiyoun account was deleted".to_owned(),
            body: format!(
                "Your Batiyoun account {} was deleted, and every session signed in to it was signed out. Its profile, its encryption key and this address's link to it are gone; the messages it sent stay with the people it sent them to.\n\nIf it was not you, someone knew your password or could read this mailbox: change the password of this mailbox. The account cannot be restored, but you can sign up again with this address.",
                user.username
            ),
        });
    }
}
