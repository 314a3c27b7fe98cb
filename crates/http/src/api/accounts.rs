//! Companies and users (spec §3).

use crate::wire::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use oz_domain::access::{Role, Scope};
use oz_domain::caps;
use oz_engine::render;
use oz_storage::accounts::{NewUser, UserPatch};
use oz_wire::Page;
use serde_json::json;
use uuid::Uuid;

use super::auth::{Auth, hash_password_bounded, refusal, verify_password_bounded};
use super::error::{ApiError, ApiResult, lookup, parse_id};
use super::query::{self, Pairs};
use crate::apidoc::schemas::{CompanyCreate, CompanyWrite, UserCreate, UserWrite};
use crate::state::AppState;

/// The list envelope; `total` (the count of every match, paging aside) is left out when `None`
/// (`total_omit=true`).
fn list_json<T: utoipa::ToSchema>(items: Vec<T>, offset: i64, limit: i64, total: Option<i64>) -> Json<Page<T>> {
    Json(Page::new(items, offset, limit, total))
}

// ---- companies --------------------------------------------------------------------------------

#[utoipa::path(
    get,
    path = "/api/companies/",
    operation_id = "list_companies",
    tag = "accounts",
    summary = "Companies the caller may see",
    params(crate::apidoc::params::AccountList, crate::apidoc::params::OffsetLimit),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = oz_wire::Page<oz_wire::accounts::Company>), crate::apidoc::ApiErrors)
)]
pub async fn list_companies(
    State(st): State<AppState>,
    auth: Auth,
    Query(q): Query<Pairs>,
) -> ApiResult<Json<Page<oz_wire::accounts::Company>>> {
    let api = st.api()?;
    let offset = query::int(&q, "offset", 0, i64::MAX)?;
    let limit = query::int(&q, "limit", 100, 1000)?;
    let (scope, search) = (auth.principal.company_scope(), query::get(&q, "search_text"));
    let list = api.db.companies(&scope, search, offset, limit).await?;
    let total = if query::flag(&q, "total_omit") { None } else { Some(api.db.companies_total(&scope, search).await?) };
    Ok(list_json(list.iter().map(render::company).collect(), offset, limit, total))
}

#[utoipa::path(
    post,
    path = "/api/companies/",
    operation_id = "create_company",
    tag = "accounts",
    summary = "Create a company (ADMIN)",
    request_body(content = crate::apidoc::schemas::CompanyCreate, content_type = "application/json"),
    security(("token" = [])),
    responses((status = 201, description = "Created", body = oz_wire::accounts::Company), crate::apidoc::ApiErrors)
)]
pub async fn create_company(
    State(st): State<AppState>,
    auth: Auth,
    super::body::JsonBody(b): super::body::JsonBody,
) -> ApiResult<(StatusCode, Json<oz_wire::accounts::Company>)> {
    let api = st.api()?;
    if auth.principal.role != Role::Admin {
        return Err(ApiError::forbidden("only ADMIN can create companies"));
    }
    let CompanyCreate { name, meta_data } = super::body::parse(&b)?;
    let name = Some(name.trim()).filter(|s| !s.is_empty()).ok_or_else(|| ApiError::structure("name is required"))?;
    caps::text("name", name, caps::MAX_TEXT_CHARS)?;
    let meta = super::body::meta_data("meta_data", meta_data)?;
    let c = api.db.create_company(name, &meta).await?;
    Ok((StatusCode::CREATED, Json(render::company(&c))))
}

#[utoipa::path(
    get,
    path = "/api/companies/{id}/",
    operation_id = "get_company",
    tag = "accounts",
    summary = "A company",
    params(("id" = String, Path, description = "Company id (UUID)")),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = oz_wire::accounts::Company), crate::apidoc::ApiErrors)
)]
pub async fn get_company(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<oz_wire::accounts::Company>> {
    let api = st.api()?;
    let id = parse_id(&id, "Company")?;
    let c = api.db.company(id, &auth.principal.company_scope()).await.map_err(lookup("Company"))?;
    Ok(Json(render::company(&c)))
}

#[utoipa::path(
    patch,
    path = "/api/companies/{id}/",
    operation_id = "update_company",
    tag = "accounts",
    summary = "Rename a company or change its meta_data",
    params(("id" = String, Path, description = "Company id (UUID)")),
    request_body(content = crate::apidoc::schemas::CompanyWrite, content_type = "application/json"),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = oz_wire::accounts::Company), crate::apidoc::ApiErrors)
)]
pub async fn update_company(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    super::body::JsonBody(b): super::body::JsonBody,
) -> ApiResult<Json<oz_wire::accounts::Company>> {
    let api = st.api()?;
    let id = parse_id(&id, "Company")?;
    api.db.company(id, &auth.principal.company_scope()).await.map_err(lookup("Company"))?;
    if !auth.principal.can_manage_company(Some(id)) {
        return Err(ApiError::forbidden("you cannot change this company"));
    }
    let CompanyWrite { name, meta_data } = super::body::parse(&b)?;
    if let Some(n) = &name {
        caps::text("name", n, caps::MAX_TEXT_CHARS)?;
    }
    let meta = meta_data.map(|m| super::body::meta_data("meta_data", Some(m))).transpose()?;
    api.db.update_company(id, name.as_deref(), meta.as_ref()).await?;
    Ok(Json(render::company(&api.db.company(id, &Scope::All).await?)))
}

/// `DELETE /api/companies/{id}`: refused with 409 (error 4) while the company has folders;
/// `?force=true` deletes its folders, media, analyses, stored files and webhook deliveries with
/// it. Its users and their sessions always go with it.
#[utoipa::path(
    delete,
    path = "/api/companies/{id}/",
    operation_id = "delete_company",
    tag = "accounts",
    summary = "Delete a company (409 while it has folders, unless force=true)",
    params(("id" = String, Path, description = "Company id (UUID)"), crate::apidoc::params::Force),
    security(("token" = [])),
    responses((status = 204, description = "Done"), (status = 409, description = "The company has folders", body = oz_wire::errors::ApiErrorBody), crate::apidoc::ApiErrors)
)]
pub async fn delete_company(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(q): Query<Pairs>,
) -> ApiResult<StatusCode> {
    let api = st.api()?;
    let id = parse_id(&id, "Company")?;
    api.db.company(id, &auth.principal.company_scope()).await.map_err(lookup("Company"))?;
    if auth.principal.role != Role::Admin {
        return Err(ApiError::forbidden("only ADMIN can delete companies"));
    }
    let files = match api.db.remove_company(id, query::flag(&q, "force")).await {
        Ok(f) => f,
        Err(oz_storage::StoreError::Conflict(m)) => {
            return Err(ApiError::new(StatusCode::CONFLICT, 4, m).with_details(json!({ "force": false })));
        }
        Err(e) => return Err(lookup("Company")(e)),
    };
    // The rows are committed: now the files (a crash here leaves them to the sweeper).
    api.engine.forget_and_remove(files).await.map_err(|e| ApiError::storage("cannot remove stored files", &e))?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- users ------------------------------------------------------------------------------------

/// A name field within `caps::MAX_TEXT_CHARS`.
fn text(k: &str, v: Option<String>) -> ApiResult<Option<String>> {
    if let Some(s) = &v {
        caps::text(k, s, caps::MAX_TEXT_CHARS)?;
    }
    Ok(v)
}

/// A password within `caps::MAX_PASSWORD_BYTES` and at least 8 characters.
fn password(k: &str, v: String) -> ApiResult<String> {
    caps::count(&format!("{k} (bytes)"), v.len(), caps::MAX_PASSWORD_BYTES)?;
    if v.len() < 8 {
        return Err(ApiError::value(format!("{k} must have at least 8 characters")));
    }
    Ok(v)
}

/// An email within the caps, and an address.
fn email(v: String) -> ApiResult<String> {
    caps::text("email", &v, caps::MAX_TEXT_CHARS)?;
    if !valid_email(&v) {
        return Err(ApiError::value("email is not a valid address"));
    }
    Ok(v)
}

/// `company_id`: absent, null or a UUID.
fn company_field(v: Option<Option<String>>) -> ApiResult<Option<Option<Uuid>>> {
    v.map(|c| c.map(|s| Uuid::parse_str(&s).map_err(|_| ApiError::value("company_id is not a UUID"))).transpose())
        .transpose()
}

fn valid_email(e: &str) -> bool {
    let e = e.trim();
    e.len() <= 254 && e.contains('@') && !e.starts_with('@') && !e.ends_with('@') && !e.contains(char::is_whitespace)
}

#[utoipa::path(
    get,
    path = "/api/users/",
    operation_id = "list_users",
    tag = "accounts",
    summary = "Users the caller may see",
    params(crate::apidoc::params::AccountList, crate::apidoc::params::OffsetLimit),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = oz_wire::Page<oz_wire::accounts::User>), crate::apidoc::ApiErrors)
)]
pub async fn list_users(
    State(st): State<AppState>,
    auth: Auth,
    Query(q): Query<Pairs>,
) -> ApiResult<Json<Page<oz_wire::accounts::User>>> {
    let api = st.api()?;
    let offset = query::int(&q, "offset", 0, i64::MAX)?;
    let limit = query::int(&q, "limit", 100, 1000)?;
    let company = query::uuids(&q, "company_id")?.first().copied();
    let (scope, search) = (auth.principal.user_scope(), query::get(&q, "search_text"));
    let list = api.db.users(&scope, company, search, offset, limit).await?;
    let total =
        if query::flag(&q, "total_omit") { None } else { Some(api.db.users_total(&scope, company, search).await?) };
    Ok(list_json(list.iter().map(render::user).collect(), offset, limit, total))
}

#[utoipa::path(
    post,
    path = "/api/users/",
    operation_id = "create_user",
    tag = "accounts",
    summary = "Create a user",
    request_body(content = crate::apidoc::schemas::UserCreate, content_type = "application/json"),
    security(("token" = [])),
    responses((status = 201, description = "Created", body = oz_wire::accounts::User), crate::apidoc::ApiErrors)
)]
pub async fn create_user(
    State(st): State<AppState>,
    auth: Auth,
    super::body::JsonBody(b): super::body::JsonBody,
) -> ApiResult<(StatusCode, Json<oz_wire::accounts::User>)> {
    let api = st.api()?;
    let UserCreate { email: e, password: pw, fields: f } = super::body::parse(&b)?;
    let email = email(e)?;
    let password = password("password", pw)?;
    let ut = text("user_type", f.user_type)?.unwrap_or_else(|| "CLIENT".into());
    let (role, implied_admin, implied_service) =
        Role::parse(&ut).ok_or_else(|| ApiError::value(format!("unknown user_type {ut:?}")))?;
    let mut company_id = company_field(f.company_id)?.flatten();
    // A company admin creates users in its own company by default.
    if company_id.is_none() && auth.principal.role == Role::Client {
        company_id = auth.principal.company_id;
    }
    if matches!(role, Role::Client | Role::ClientOperator) && company_id.is_none() {
        return Err(ApiError::structure("company_id is required for CLIENT users"));
    }
    if let Some(c) = company_id {
        api.db
            .company(c, &auth.principal.company_scope())
            .await
            .map_err(|_| ApiError::value("company_id does not exist"))?;
    }
    if !auth.principal.can_manage_user(role, company_id) {
        return Err(ApiError::forbidden("you cannot create this user"));
    }
    let meta_data = super::body::meta_data("meta_data", f.meta_data)?;
    let new = NewUser {
        email,
        password_hash: hash_password_bounded(api, password).await?,
        role,
        company_id,
        is_admin: f.is_admin.unwrap_or(implied_admin),
        is_service: f.is_service.unwrap_or(implied_service),
        can_start_quality: f.can_start_analysis_quality.unwrap_or(true),
        can_start_biometry: f.can_start_analysis_biometry.unwrap_or(true),
        can_start_collection: f.can_start_analysis_collection.unwrap_or(true),
        first_name: text("first_name", f.first_name)?,
        last_name: text("last_name", f.last_name)?,
        middle_name: text("middle_name", f.middle_name)?,
        meta_data,
    };
    let u = api.db.create_user(&new).await?;
    Ok((StatusCode::CREATED, Json(render::user(&u))))
}

#[utoipa::path(
    get,
    path = "/api/users/{id}/",
    operation_id = "get_user",
    tag = "accounts",
    summary = "A user",
    params(("id" = String, Path, description = "User id (UUID)")),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = oz_wire::accounts::User), crate::apidoc::ApiErrors)
)]
pub async fn get_user(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<oz_wire::accounts::User>> {
    let api = st.api()?;
    let id = parse_id(&id, "User")?;
    let u = api.db.user_in(id, &auth.principal.user_scope()).await.map_err(lookup("User"))?;
    Ok(Json(render::user(&u)))
}

#[utoipa::path(
    patch,
    path = "/api/users/{id}/",
    operation_id = "update_user",
    tag = "accounts",
    summary = "Change a user",
    params(("id" = String, Path, description = "User id (UUID)")),
    request_body(content = crate::apidoc::schemas::UserWrite, content_type = "application/json"),
    security(("token" = [])),
    responses((status = 200, description = "OK", body = oz_wire::accounts::User), crate::apidoc::ApiErrors)
)]
pub async fn update_user(
    State(st): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    super::body::JsonBody(b): super::body::JsonBody,
) -> ApiResult<Json<oz_wire::accounts::User>> {
    let api = st.api()?;
    let id = parse_id(&id, "User")?;
    let target = api.db.user_in(id, &auth.principal.user_scope()).await.map_err(lookup("User"))?;
    let UserWrite { email: e, password: pw, current_password, fields: f } = super::body::parse(&b)?;
    let mut patch = UserPatch {
        email: e.map(email).transpose()?,
        first_name: text("first_name", f.first_name)?,
        last_name: text("last_name", f.last_name)?,
        middle_name: text("middle_name", f.middle_name)?,
        ..UserPatch::default()
    };
    let new_password = pw.map(|p| password("password", p)).transpose()?;
    // Users changing their own password prove they know the current one (`current_password`,
    // `old_password` accepted too): a stolen token alone cannot take the account over.
    let current_password = current_password
        .map(|p| caps::count("current_password (bytes)", p.len(), caps::MAX_PASSWORD_BYTES).map(|()| p))
        .transpose()?;
    let mut role = target.role;
    if let Some(ut) = text("user_type", f.user_type)? {
        let (r, a, s) = Role::parse(&ut).ok_or_else(|| ApiError::value(format!("unknown user_type {ut:?}")))?;
        role = r;
        patch.role = Some(r);
        if a {
            patch.is_admin = Some(true);
        }
        if s {
            patch.is_service = Some(true);
        }
    }
    patch.company_id = company_field(f.company_id)?;
    if let Some(Some(c)) = patch.company_id {
        api.db
            .company(c, &auth.principal.company_scope())
            .await
            .map_err(|_| ApiError::value("company_id does not exist"))?;
    }
    patch.is_admin = f.is_admin.or(patch.is_admin);
    patch.is_service = f.is_service.or(patch.is_service);
    patch.can_start_quality = f.can_start_analysis_quality;
    patch.can_start_biometry = f.can_start_analysis_biometry;
    patch.can_start_collection = f.can_start_analysis_collection;
    let privileged = patch.role.is_some()
        || patch.company_id.is_some()
        || patch.is_admin.is_some()
        || patch.is_service.is_some()
        || patch.can_start_quality.is_some()
        || patch.can_start_biometry.is_some()
        || patch.can_start_collection.is_some();
    let company_after = patch.company_id.unwrap_or(target.company_id);
    let allowed = if target.id == auth.user.id && !privileged {
        true // anyone may change their own names, email and password
    } else {
        auth.principal.can_manage_user(target.role, target.company_id)
            && auth.principal.can_manage_user(role, company_after)
    };
    if !allowed {
        return Err(ApiError::forbidden("you cannot change this user"));
    }
    if let Some(pw) = new_password.clone() {
        if auth.principal.needs_current_password(target.id) {
            let current = current_password
                .ok_or_else(|| ApiError::structure("current_password is required to change your own password"))?;
            // Guessing the current password counts as login attempts on this email.
            api.cfg.login.check_email(&target.email).map_err(refusal)?;
            if !verify_password_bounded(api, current, target.password_hash.clone()).await? {
                return Err(ApiError::forbidden("current_password is not correct"));
            }
        }
        patch.password_hash = Some(hash_password_bounded(api, pw).await?);
    }
    let meta = f.meta_data.map(|m| super::body::meta_data("meta_data", Some(m))).transpose()?;
    let mut u = api.db.update_user(id, &patch).await?;
    if let Some(meta) = meta {
        api.db.set_meta_data(oz_storage::accounts::MetaTable::Users, id, &meta).await?;
        u.meta_data = meta;
    }
    if new_password.is_some() {
        // A new password ends the user's other logins; the caller's own login goes on when it
        // changed its own password.
        let keep = (target.id == auth.user.id).then_some(auth.session.family_id);
        api.db.revoke_user_sessions(id, keep).await?;
    }
    Ok(Json(render::user(&u)))
}

/// `DELETE /api/users/{id}/sessions` (our extension): ends every session of the user (all its
/// logins, the caller's own included when it names itself). ADMIN: any user; company admin: the
/// users it manages; anyone: itself ("log out everywhere"). 204.
#[utoipa::path(
    delete,
    path = "/api/users/{id}/sessions/",
    operation_id = "revoke_sessions",
    tag = "accounts",
    summary = "End every session of a user",
    params(("id" = String, Path, description = "User id (UUID)")),
    security(("token" = [])),
    responses((status = 204, description = "Done"), crate::apidoc::ApiErrors)
)]
pub async fn revoke_sessions(State(st): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let api = st.api()?;
    let id = parse_id(&id, "User")?;
    let target = api.db.user_in(id, &auth.principal.user_scope()).await.map_err(lookup("User"))?;
    if !auth.principal.can_revoke_sessions(target.id, target.role, target.company_id) {
        return Err(ApiError::forbidden("you cannot end this user's sessions"));
    }
    api.db.revoke_user_sessions(id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete,
    path = "/api/users/{id}/",
    operation_id = "delete_user",
    tag = "accounts",
    summary = "Delete a user",
    params(("id" = String, Path, description = "User id (UUID)")),
    security(("token" = [])),
    responses((status = 204, description = "Done"), crate::apidoc::ApiErrors)
)]
pub async fn delete_user(State(st): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let api = st.api()?;
    let id = parse_id(&id, "User")?;
    let target = api.db.user_in(id, &auth.principal.user_scope()).await.map_err(lookup("User"))?;
    if target.id == auth.user.id || !auth.principal.can_manage_user(target.role, target.company_id) {
        return Err(ApiError::forbidden("you cannot delete this user"));
    }
    api.db.delete_user(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
