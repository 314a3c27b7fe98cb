//! Companies and users (spec §3.2, §3.3), and the token answers of the login routes.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::vocab::UserType;

/// A company.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Company {
    pub company_id: Uuid,
    pub name: String,
    #[schema(value_type = Object)]
    pub meta_data: Value,
    pub time_created: f64,
}

/// A user (the password is never written).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct User {
    pub user_id: Uuid,
    pub user_type: UserType,
    pub email: String,
    #[schema(required = true)]
    pub first_name: Option<String>,
    #[schema(required = true)]
    pub last_name: Option<String>,
    #[schema(required = true)]
    pub middle_name: Option<String>,
    #[schema(required = true)]
    pub company_id: Option<Uuid>,
    /// A company admin (the console's "CLIENT ADMIN").
    pub is_admin: bool,
    /// A service account (long-lived tokens).
    pub is_service: bool,
    pub can_start_analysis_quality: bool,
    pub can_start_analysis_biometry: bool,
    pub can_start_analysis_collection: bool,
    #[schema(value_type = Object)]
    pub meta_data: Value,
}

/// A token pair (`POST /api/authorize/auth/`, `POST /api/authorize/refresh/`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TokenPair {
    /// 128 hex characters; send it as `X-Forensic-Access-Token`.
    pub access_token: String,
    /// Refresh token (one use).
    pub expire_token: String,
    /// UNIX seconds.
    pub expire_date: f64,
    pub user_id: Uuid,
    pub user_type: UserType,
    #[schema(required = true)]
    pub company_id: Option<Uuid>,
}
