//! Moving an account to another email address. The user proves it is them (the password) and
//! that the new address is theirs (a code mailed there, `POST /api/auth/email/confirm`); only
//! then does the address change. The old address is told. The codes live apart from sign-in codes
//! (`Otps::for_email_change`): one can make an address an account's, never sign anyone in.

use common::contracts::account::{ChangeEmailRequest, ConfirmEmailRequest};
use common::{ApiError, ErrorCode};

use super::accounts::ClientIp;
use super::{AuthService, Principal};
use crate::ports::{Mail, UserRecord};

/// The code's subject: the user and the address it proves, so a code works for that pair only.
fn subject(user: &UserRecord, new_email: &str) -> String {
    format!("{}:{new_email}", user.id)
}

impl AuthService {
    /// Mails a code to `new_email` for the caller to confirm. The address must be free: unlike a
    /// code request this says whether it is, as signing up with it would.
    pub async fn request_email_change(
        &self,
        me: &Principal,
        req: ChangeEmailRequest,
        ip: ClientIp,
    ) -> Result<(), ApiError> {
        let user = self.own_account(me.user_id).await?;
        let new_email = req.new_email.trim().to_lowercase();
        if new_email == user.email {
            return Err(ApiError::field("newEmail", "is already your email"));
        }
        self.check_password(&user, req.password, "password").await?;
        // As any code's: nobody's inbox can be flooded through this either.
        self.spend_code_budgets(&new_email, ip).await?;
        if self.store.find_by_email(&new_email).await?.is_some() {
            return Err(ApiError::new(
                ErrorCode::EmailTaken,
                "this email is already registered",
            ));
        }
        let code = self
            .email_changes
            .issue(&subject(&user, &new_email))
            .await?;
        let minutes = self.email_changes.ttl().as_secs().div_ceil(60);
        self.mail_in_background(Mail {
            to: new_email,
            subject: format!("Your Batiyoun code: {code}"),
            body: format!(
                "Your Batiyoun code is {code}. Enter it to make this the email address of the account {}.\n\nIt expires in {minutes} minutes and works once. If you did not ask for it, ignore this email.",
                user.username
            ),
        });
        Ok(())
    }

    /// Makes `new_email` the caller's address, proven by the code mailed there, and tells the
    /// old address.
    pub async fn confirm_email_change(
        &self,
        me: &Principal,
        req: ConfirmEmailRequest,
    ) -> Result<UserRecord, ApiError> {
        let user = self.own_account(me.user_id).await?;
        let new_email = req.new_email.trim().to_lowercase();
        self.email_changes
            .verify(&subject(&user, &new_email), &req.code)
            .await?;
        if !self.store.set_email(user.id, &new_email).await? {
            return Err(ApiError::new(
                ErrorCode::Unauthorized,
                "the account no longer exists",
            ));
        }
        self.mail_in_background(Mail {
            to: user.email.clone(),
            subject: "Your Batiyoun email address was changed".to_owned(),
            body: format!(
                "The email address of your Batiyoun account {} was changed to {new_email}. Codes and notices now go there.\n\nIf it was not you, someone has your password: tell your administrator.",
                user.username
            ),
        });
        self.own_account(user.id).await
    }
}
