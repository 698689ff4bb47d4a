//! Managing one's own account: the display name, the password (changed with the current one, or
//! reset with a code mailed to the address) and the sessions signed in to it.
//!
//! A new password signs out every other session at once (`Sessions::revoke_others`): whoever
//! knew the old one, or held a session, is out. The address is told in a mail of its own.

use common::contracts::account::UpdateProfileRequest;
use common::contracts::account::{ChangePasswordRequest, ResetPasswordRequest, SessionView};
use common::contracts::auth::PROFILE_CHANGED_CHANNEL;
use common::{ApiError, ErrorCode};
use uuid::Uuid;

use super::users::to_profile;
use super::{AuthService, Issued, Principal, kv_err, password, rate_limit};
use crate::ports::{Mail, UserRecord};

/// How the new password was proven, for the notice mail.
enum Proof {
    CurrentPassword,
    EmailedCode,
}

fn login_failures_key(email: &str) -> String {
    // The key a login by email counts failures under: guesses here and there share one budget.
    format!("rl:login_fail:{email}")
}

fn refuse_common(new_password: &str) -> Result<(), ApiError> {
    if password::is_common(new_password) {
        return Err(ApiError::field(
            "newPassword",
            "is too common; choose a less guessable password",
        ));
    }
    Ok(())
}

impl AuthService {
    /// The caller's own account; one deleted meanwhile is `unauthorized`, not `not_found`.
    pub async fn own_account(&self, user_id: Uuid) -> Result<UserRecord, ApiError> {
        self.store.find_by_id(user_id).await?.ok_or_else(gone)
    }

    /// Changes the fields of the caller's profile that the request names.
    pub async fn update_profile(
        &self,
        user_id: Uuid,
        req: UpdateProfileRequest,
    ) -> Result<UserRecord, ApiError> {
        let changed = req.display_name.is_some();
        if changed {
            self.count_profile_change(user_id).await?;
        }
        if let Some(name) = req.display_name {
            let name = name.as_deref().map(str::trim);
            if !self.store.set_display_name(user_id, name).await? {
                return Err(gone());
            }
        }
        let user = self.own_account(user_id).await?;
        if changed {
            self.announce_profile_change(&user).await;
        }
        Ok(user)
    }

    /// Counts a change of the caller's profile (its name or its picture) against
    /// `PROFILE_MAX_CHANGES_PER_HOUR`: each is announced to every contact, so bounded, it cannot be
    /// made a flood.
    pub(super) async fn count_profile_change(&self, user_id: Uuid) -> Result<(), ApiError> {
        rate_limit::consume(
            &self.kv,
            &format!("rl:profile:{user_id}"),
            self.limits.profile_changes_per_hour,
            rate_limit::HOUR,
        )
        .await
    }

    /// Tells realtime (`PROFILE_CHANGED_CHANNEL`), so the user's contacts show the change at
    /// once. It is stored whatever happens here: unannounced, clients see it when they next load
    /// the profile.
    pub(super) async fn announce_profile_change(&self, user: &UserRecord) {
        let profile = serde_json::to_string(&to_profile(user)).expect("a profile serializes");
        if let Err(e) = self.kv.publish(PROFILE_CHANGED_CHANNEL, &profile).await {
            tracing::warn!(error = %e, "could not announce a profile change");
        }
    }

    /// Replaces the caller's password, proven by the current one, and signs out every other
    /// session; returns how many. Wrong guesses count against the account's login budget.
    pub async fn change_password(
        &self,
        me: &Principal,
        req: ChangePasswordRequest,
    ) -> Result<u32, ApiError> {
        let user = self.own_account(me.user_id).await?;
        refuse_common(&req.new_password)?;
        self.check_password(&user, req.current_password, "currentPassword")
            .await?;
        self.set_password(&user, req.new_password).await?;
        let revoked = self
            .sessions
            .revoke_others(&user.id.to_string(), &me.session_id)
            .await?;
        self.mail_password_changed(&user, Proof::CurrentPassword);
        Ok(revoked)
    }

    /// Checks the password a signed-in user gave to prove it is them (`field` names it in
    /// errors). Wrong guesses count against the budget of failed logins by the account's email,
    /// and a spent budget refuses even the right one.
    pub(super) async fn check_password(
        &self,
        user: &UserRecord,
        password: String,
        field: &str,
    ) -> Result<(), ApiError> {
        let failures = login_failures_key(&user.email);
        let window = self.limits.login_window;
        let limit = self.limits.login_failures_per_account;
        rate_limit::check(&self.kv, &failures, limit, window).await?;
        let Some(hash) = user.password_hash.clone() else {
            return Err(ApiError::field(
                field,
                "this account has no password yet; set one with a code sent to your email (\"Forgot password?\")",
            ));
        };
        if !self.hasher.verify(password, Some(hash)).await? {
            rate_limit::hit(&self.kv, &failures, window).await?;
            return Err(ApiError::new(
                ErrorCode::InvalidCredentials,
                "the password is wrong",
            ));
        }
        Ok(())
    }

    /// Sets a new password for the address's account, proven by a code from
    /// `POST /api/auth/request-otp` (which also verifies the address), signs in from
    /// `user_agent` and signs out every other session. An account made with Google gets its
    /// first password this way.
    pub async fn reset_password(
        &self,
        req: ResetPasswordRequest,
        user_agent: Option<String>,
    ) -> Result<Issued, ApiError> {
        // Before the code is used up, so a refused password does not cost the user their code.
        refuse_common(&req.new_password)?;
        let user = self.account_of_code(&req.email, &req.code).await?;
        self.set_password(&user, req.new_password).await?;
        if !user.verified {
            self.store.mark_verified(user.id).await?;
        }
        // The address was proven: earlier failed logins no longer lock it.
        self.kv
            .del(&login_failures_key(&user.email))
            .await
            .map_err(kv_err)?;
        let user = self.user(user.id).await?;
        let issued = self.issue(user, user_agent).await?;
        self.sessions
            .revoke_others(&issued.user.id.to_string(), &issued.session_id)
            .await?;
        self.mail_password_changed(&issued.user, Proof::EmailedCode);
        Ok(issued)
    }

    async fn set_password(&self, user: &UserRecord, new_password: String) -> Result<(), ApiError> {
        let hash = self.hasher.hash(new_password).await?;
        if !self.store.set_password_hash(user.id, &hash).await? {
            return Err(gone());
        }
        Ok(())
    }

    fn mail_password_changed(&self, user: &UserRecord, proof: Proof) {
        let how = match proof {
            Proof::CurrentPassword => "with your current password",
            Proof::EmailedCode => "with a code sent to this address",
        };
        self.mail_in_background(Mail {
            to: user.email.clone(),
            subject: "Your Batiyoun password was changed".to_owned(),
            body: format!(
                "The password of your Batiyoun account {} was changed {how}, and every other session signed in to it was signed out.\n\nIf it was not you, set a new password now with a code sent to this address (\"Forgot password?\" on the sign-in page).",
                user.username
            ),
        });
    }

    /// The caller's sessions, most recently active first, the current one marked.
    pub async fn sessions_of(&self, me: &Principal) -> Result<Vec<SessionView>, ApiError> {
        self.sessions
            .list(&me.user_id.to_string(), &me.session_id)
            .await
    }

    /// Signs out one of the caller's sessions (the current one included).
    pub async fn end_session(&self, me: &Principal, session_id: &str) -> Result<(), ApiError> {
        self.sessions
            .revoke_own(&me.user_id.to_string(), session_id)
            .await
    }

    /// Signs out every session of the caller but the current one; returns how many.
    pub async fn end_other_sessions(&self, me: &Principal) -> Result<u32, ApiError> {
        self.sessions
            .revoke_others(&me.user_id.to_string(), &me.session_id)
            .await
    }
}

/// The account was deleted while the request ran.
pub(super) fn gone() -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, "the account no longer exists")
}
