//! Who may write: API tokens and the login sessions made from them. Only SHA-256 hashes are stored; making
//! and hashing the secrets is the web layer's job, so nothing here ever sees a usable secret.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ActiveValue::NotSet, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::Serialize;

use crate::entities::{api_token, session};
use crate::error::{Context, StoreError};
use crate::{Store, now};

/// An API token's record; the token itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<api_token::Model> for ApiToken {
    fn from(m: api_token::Model) -> Self {
        ApiToken {
            id: m.id,
            name: m.name,
            created_at: m.created_at,
            last_used_at: m.last_used_at,
            revoked_at: m.revoked_at,
        }
    }
}

/// A login session: whose token made it, and the CSRF value its forms must send back.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    pub id: i64,
    pub token_name: String,
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("token_name", &self.token_name)
            .field("csrf", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// How stale a token's `last_used_at` may be.
const LAST_USED_PRECISION: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

impl Store {
    /// Records a token by its hash. A name already taken is [`StoreError::Invalid`].
    pub async fn create_token(&self, name: &str, hash: &str) -> Result<ApiToken, StoreError> {
        if self.token_named(name).await?.is_some() {
            return Err(StoreError::Invalid {
                what: "token name",
                reason: format!("a token named `{name}` exists; pick another name or revoke it first"),
            });
        }
        let model = api_token::ActiveModel {
            id: NotSet,
            name: Set(name.to_string()),
            hash: Set(hash.to_string()),
            created_at: Set(now()),
            last_used_at: Set(None),
            revoked_at: Set(None),
        }
        .insert(&self.db)
        .await
        .context(|| format!("creating the API token `{name}`"))?;
        Ok(model.into())
    }

    async fn token_named(&self, name: &str) -> Result<Option<ApiToken>, StoreError> {
        let found = api_token::Entity::find()
            .filter(api_token::Column::Name.eq(name))
            .one(&self.db)
            .await
            .context(|| format!("looking up the API token `{name}`"))?;
        Ok(found.map(ApiToken::from))
    }

    /// The live (not revoked) token with this hash, marking it used.
    pub async fn use_token(&self, hash: &str) -> Result<Option<ApiToken>, StoreError> {
        let what = || "checking an API token".to_string();
        let found = api_token::Entity::find()
            .filter(api_token::Column::Hash.eq(hash))
            .filter(api_token::Column::RevokedAt.is_null())
            .one(&self.db)
            .await
            .context(what)?;
        let Some(found) = found else { return Ok(None) };
        // One write a minute at most: an API client reading in a loop must not turn every read into a write.
        let now = now();
        if found.last_used_at.is_none_or(|at| now - at >= LAST_USED_PRECISION) {
            api_token::Entity::update_many()
                .col_expr(api_token::Column::LastUsedAt, Expr::value(now))
                .filter(api_token::Column::Id.eq(found.id))
                .exec(&self.db)
                .await
                .context(what)?;
        }
        Ok(Some(found.into()))
    }

    /// Every token, oldest first.
    pub async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        let rows = api_token::Entity::find()
            .order_by_asc(api_token::Column::Id)
            .all(&self.db)
            .await
            .context(|| "listing API tokens".into())?;
        Ok(rows.into_iter().map(ApiToken::from).collect())
    }

    /// Revokes the token named `name` and ends its sessions; `false` if there is no such live token.
    pub async fn revoke_token(&self, name: &str) -> Result<bool, StoreError> {
        let what = || format!("revoking the API token `{name}`");
        let Some(token) = self.token_named(name).await?.filter(|t| t.revoked_at.is_none()) else { return Ok(false) };
        api_token::Entity::update_many()
            .col_expr(api_token::Column::RevokedAt, Expr::value(now()))
            .filter(api_token::Column::Id.eq(token.id))
            .exec(&self.db)
            .await
            .context(what)?;
        session::Entity::delete_many()
            .filter(session::Column::TokenId.eq(token.id))
            .exec(&self.db)
            .await
            .context(what)?;
        Ok(true)
    }

    /// Opens a session for `token` until `expires_at`; `hash` is the cookie's hash.
    pub async fn create_session(
        &self,
        token: &ApiToken,
        hash: &str,
        csrf: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<Session, StoreError> {
        let model = session::ActiveModel {
            id: NotSet,
            token_id: Set(token.id),
            hash: Set(hash.to_string()),
            csrf: Set(csrf.to_string()),
            created_at: Set(now()),
            expires_at: Set(expires_at),
        }
        .insert(&self.db)
        .await
        .context(|| format!("opening a session for the token `{}`", token.name))?;
        Ok(Session { id: model.id, token_name: token.name.clone(), csrf: model.csrf, expires_at })
    }

    /// The unexpired session with this cookie hash, whose token is not revoked.
    pub async fn session(&self, hash: &str) -> Result<Option<Session>, StoreError> {
        let what = || "checking a login session".to_string();
        let found = session::Entity::find()
            .filter(session::Column::Hash.eq(hash))
            .filter(session::Column::ExpiresAt.gt(now()))
            .one(&self.db)
            .await
            .context(what)?;
        let Some(found) = found else { return Ok(None) };
        let token = api_token::Entity::find_by_id(found.token_id)
            .filter(api_token::Column::RevokedAt.is_null())
            .one(&self.db)
            .await
            .context(what)?;
        Ok(token.map(|t| Session { id: found.id, token_name: t.name, csrf: found.csrf, expires_at: found.expires_at }))
    }

    /// Ends a session (logout); expired ones go with it.
    pub async fn end_session(&self, id: i64) -> Result<(), StoreError> {
        session::Entity::delete_many()
            .filter(session::Column::Id.eq(id).or(session::Column::ExpiresAt.lte(now())))
            .exec(&self.db)
            .await
            .context(|| format!("ending session {id}"))?;
        Ok(())
    }
}
