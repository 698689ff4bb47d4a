//! Signup, email codes, password login, refresh and logout.

use common::contracts::auth::{LoginRequest, SignupRequest, VerifyOtpRequest};
use common::{ApiError, ErrorCode};

use super::{AuthService, Issued, Principal, kv_err, password, rate_limit};
use crate::ports::{Mail, NewUser, UserRecord};

/// The client address used for per-IP limits.
pub type ClientIp = std::net::IpAddr;

fn invalid_credentials() -> ApiError {
    ApiError::new(ErrorCode::InvalidCredentials, "wrong login or password")
}

impl AuthService {
    /// Creates an unverified account and mails it a code.
    pub async fn signup(&self, req: SignupRequest, ip: ClientIp) -> Result<UserRecord, ApiError> {
        let email = req.email.trim().to_lowercase();
        if password::is_common(&req.password) {
            return Err(ApiError::field(
                "password",
                "is too common; choose a less guessable password",
            ));
        }
        rate_limit::consume(
            &self.kv,
            &format!("rl:otp_ip:{ip}"),
            self.limits.otp_per_ip_hour,
            rate_limit::HOUR,
        )
        .await?;
        let hash = self.hasher.hash(req.password).await?;
        let user = self
            .store
            .create_user(NewUser {
                email: email.clone(),
                username: req.username,
                password_hash: Some(hash),
                display_name: req.display_name.map(|d| d.trim().to_owned()),
                provider: "email".into(),
                provider_id: None,
                verified: false,
            })
            .await?;
        // Count the signup mail against the address's hourly budget and start its resend cooldown.
        rate_limit::hit(&self.kv, &format!("rl:otp_email:{email}"), rate_limit::HOUR).await?;
        let _ = rate_limit::cooldown(
            &self.kv,
            &format!("otp_cooldown:{email}"),
            self.limits.otp_resend_cooldown,
        )
        .await;
        self.send_code(&email).await?;
        Ok(user)
    }

    /// Mails a fresh code if the address has an account; behaves the same either way, so the
    /// response says nothing about which addresses are registered.
    pub async fn request_otp(&self, email: &str, ip: ClientIp) -> Result<(), ApiError> {
        let email = email.trim().to_lowercase();
        self.spend_code_budgets(&email, ip).await?;
        if self.store.find_by_email(&email).await?.is_some() {
            self.send_code(&email).await?;
        }
        Ok(())
    }

    /// What mailing a code to `email` at the request of `ip` costs: the IP's hourly budget, the
    /// address's cooldown and its hourly budget (refused once any is spent), so nobody's inbox can
    /// be flooded with codes.
    pub(super) async fn spend_code_budgets(
        &self,
        email: &str,
        ip: ClientIp,
    ) -> Result<(), ApiError> {
        rate_limit::consume(
            &self.kv,
            &format!("rl:otp_ip:{ip}"),
            self.limits.otp_per_ip_hour,
            rate_limit::HOUR,
        )
        .await?;
        rate_limit::cooldown(
            &self.kv,
            &format!("otp_cooldown:{email}"),
            self.limits.otp_resend_cooldown,
        )
        .await?;
        rate_limit::consume(
            &self.kv,
            &format!("rl:otp_email:{email}"),
            self.limits.otp_per_email_hour,
            rate_limit::HOUR,
        )
        .await
    }

    /// Stores a new code and mails it in the background, so the response time does not depend on
    /// the mail server (or on whether a mail was sent at all).
    async fn send_code(&self, email: &str) -> Result<(), ApiError> {
        let code = self.otps.issue(email).await?;
        let minutes = self.otps.ttl().as_secs().div_ceil(60);
        self.mail_in_background(Mail {
            to: email.to_owned(),
            subject: format!("Your Batiyoun code: {code}"),
            body: format!(
                "Your Batiyoun code is {code}. Enter it to verify your email address, to set a new password, or to confirm deleting your account.\n\nIt expires in {minutes} minutes and works once. If you did not ask for it, ignore this email."
            ),
        });
        Ok(())
    }

    /// Sends `mail` without waiting for the mail server; a failure is logged.
    pub(super) fn mail_in_background(&self, mail: Mail) {
        let mailer = self.mailer.clone();
        tokio::spawn(async move {
            // Not the subject: a code's mail has the code in it.
            if let Err(e) = mailer.send(mail).await {
                tracing::error!(error = %e, "could not send an email");
            }
        });
    }

    /// Checks a code, marks the email verified and signs the user in.
    pub async fn verify_otp(
        &self,
        req: VerifyOtpRequest,
        user_agent: Option<String>,
    ) -> Result<Issued, ApiError> {
        let user = self.account_of_code(&req.email, &req.code).await?;
        if !user.verified {
            self.store.mark_verified(user.id).await?;
        }
        let user = self.store.find_by_id(user.id).await?.unwrap_or(user);
        self.issue(user, user_agent).await
    }

    /// The account of the address a code from `request_otp` was mailed to; the code is used up.
    pub(super) async fn account_of_code(
        &self,
        email: &str,
        code: &str,
    ) -> Result<UserRecord, ApiError> {
        let email = email.trim().to_lowercase();
        self.otps.verify(&email, code).await?;
        self.store.find_by_email(&email).await?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidOtp,
                "the code is wrong or has expired; request a new one",
            )
        })
    }

    /// Password login by email or username.
    pub async fn login(
        &self,
        req: LoginRequest,
        ip: ClientIp,
        user_agent: Option<String>,
    ) -> Result<Issued, ApiError> {
        let login = req.login.trim().to_lowercase();
        let account_key = format!("rl:login_fail:{login}");
        let ip_key = format!("rl:login_fail_ip:{ip}");
        let window = self.limits.login_window;
        rate_limit::check(&self.kv, &ip_key, self.limits.login_failures_per_ip, window).await?;
        rate_limit::check(
            &self.kv,
            &account_key,
            self.limits.login_failures_per_account,
            window,
        )
        .await?;

        let user = if login.contains('@') {
            self.store.find_by_email(&login).await?
        } else {
            self.store.find_by_username(&login).await?
        };
        // Unknown users (and Google-only accounts) still pay for a full argon2 verification.
        let hash = user.as_ref().and_then(|u| u.password_hash.clone());
        let ok = self.hasher.verify(req.password, hash).await?;
        let user = match (ok, user) {
            (true, Some(user)) => user,
            _ => {
                rate_limit::hit(&self.kv, &account_key, window).await?;
                rate_limit::hit(&self.kv, &ip_key, window).await?;
                return Err(invalid_credentials());
            }
        };
        // Only after the password proved ownership, so this reveals nothing to a guesser.
        if !user.verified {
            return Err(ApiError::new(
                ErrorCode::EmailNotVerified,
                "verify your email first; request a new code if needed",
            ));
        }
        self.kv.del(&account_key).await.map_err(kv_err)?;
        self.issue(user, user_agent).await
    }

    /// Starts a session for `user`, signed in from `user_agent`, and mints its first access token.
    pub async fn issue(
        &self,
        user: UserRecord,
        user_agent: Option<String>,
    ) -> Result<Issued, ApiError> {
        let (session_id, refresh_token) = self
            .sessions
            .create(&user.id.to_string(), user_agent)
            .await?;
        let access_token = self
            .minter
            .mint_access(&user.id.to_string(), &session_id, super::now())
            .map_err(ApiError::internal)?;
        Ok(Issued {
            user,
            session_id,
            access_token,
            expires_in: self.minter.ttl().as_secs(),
            refresh_token,
        })
    }

    /// Rotates the refresh token and mints a new access token: (access token, expires in, new
    /// refresh token).
    pub async fn refresh(&self, refresh_token: &str) -> Result<(String, u64, String), ApiError> {
        let (live, next) = self.sessions.rotate(refresh_token).await?;
        let token = self
            .minter
            .mint_access(&live.user_id, &live.session_id, super::now())
            .map_err(ApiError::internal)?;
        Ok((token, self.minter.ttl().as_secs(), next))
    }

    /// Ends the session the request was made in.
    pub async fn logout(&self, session_id: &str) -> Result<(), ApiError> {
        self.sessions.revoke(session_id).await
    }

    /// Authenticates a Bearer access token; the session must still be live.
    pub async fn authenticate_bearer(&self, token: &str) -> Result<Principal, ApiError> {
        let unauthorized =
            || ApiError::new(ErrorCode::Unauthorized, "invalid or expired access token");
        let claims = self.verifier.verify_access(token).map_err(|e| {
            tracing::debug!(error = %e, "access token refused");
            unauthorized()
        })?;
        if !self.sessions.is_live(&claims.sid).await? {
            return Err(unauthorized());
        }
        let user_id = claims.sub.parse().map_err(|_| unauthorized())?;
        Ok(Principal {
            user_id,
            session_id: claims.sid,
        })
    }

    /// Authenticates the session cookie (without rotating it).
    pub async fn authenticate_cookie(&self, refresh_token: &str) -> Result<Principal, ApiError> {
        let live = self.sessions.check(refresh_token).await?;
        let user_id = live
            .user_id
            .parse()
            .map_err(|_| ApiError::new(ErrorCode::Unauthorized, "no valid session"))?;
        Ok(Principal {
            user_id,
            session_id: live.session_id,
        })
    }
}
