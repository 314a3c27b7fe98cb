//! Roles and who may see or change what (spec §3). Pure rules, unit-tested; the HTTP layer asks
//! these questions and storage filters with [`Scope`].
//!
//! | role | sees folders/media/analyses | may delete folders/media | manages users |
//! |---|---|---|---|
//! | ADMIN | all | yes | all (any role) |
//! | OPERATOR | all | no | no |
//! | CLIENT, company admin (`is_admin`) | own company | own company | own company (CLIENT only) |
//! | CLIENT_OPERATOR | own company | no | no |
//! | CLIENT, CLIENT service (`is_service`) | own folders | no | no |
//!
//! An object outside the caller's scope answers as if it did not exist (404, error 10).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Oz `user_type`. `CLIENT_ADMIN` and `CLIENT_SERVICE` are accepted on input and stored as
/// CLIENT with `is_admin` / `is_service`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    Admin,
    Operator,
    Client,
    ClientOperator,
}

impl Role {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "ADMIN",
            Role::Operator => "OPERATOR",
            Role::Client => "CLIENT",
            Role::ClientOperator => "CLIENT_OPERATOR",
        }
    }

    /// Parses a `user_type`, returning the role and the flags it implies (is_admin, is_service).
    #[must_use]
    pub fn parse(s: &str) -> Option<(Role, bool, bool)> {
        match s.trim().to_ascii_uppercase().replace(' ', "_").as_str() {
            "ADMIN" => Some((Role::Admin, false, false)),
            "OPERATOR" => Some((Role::Operator, false, false)),
            "CLIENT" => Some((Role::Client, false, false)),
            "CLIENT_ADMIN" => Some((Role::Client, true, false)),
            "CLIENT_SERVICE" => Some((Role::Client, false, true)),
            "CLIENT_OPERATOR" => Some((Role::ClientOperator, false, false)),
            _ => None,
        }
    }
}

/// The stored and compared form of an email: trimmed and lower-case (emails are case-insensitive).
#[must_use]
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Analysis kinds a user may be allowed to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AnalysisKind {
    Quality,
    Biometry,
    Collection,
    Documents,
}

impl AnalysisKind {
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "quality" | "liveness" => Some(Self::Quality),
            "biometry" => Some(Self::Biometry),
            // Oz's documents call it COLLECTION, "Blacklist", "1:N" and "O2N" (spec §7.2).
            "collection" | "blacklist" | "black list" | "black_list" | "o2n" => Some(Self::Collection),
            "documents" => Some(Self::Documents),
            _ => None,
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Quality => "QUALITY",
            Self::Biometry => "BIOMETRY",
            Self::Collection => "COLLECTION",
            Self::Documents => "DOCUMENTS",
        }
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: Uuid,
    pub company_id: Option<Uuid>,
    pub role: Role,
    pub is_admin: bool,
    pub is_service: bool,
    pub can_start_quality: bool,
    pub can_start_biometry: bool,
    pub can_start_collection: bool,
}

/// Which objects a caller may see; storage turns it into a WHERE clause. The default is
/// [`Scope::Nothing`], so a filter built without a scope sees nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    All,
    Company(Uuid),
    /// Only objects created by this user.
    Own(Uuid),
    /// Nothing (a client user without a company that is not the owner).
    #[default]
    Nothing,
}

impl Scope {
    /// Whether an object owned by `user_id` in `company_id` is inside the scope.
    #[must_use]
    pub fn contains(&self, user_id: Option<Uuid>, company_id: Option<Uuid>) -> bool {
        match self {
            Scope::All => true,
            Scope::Company(c) => company_id == Some(*c),
            Scope::Own(u) => user_id == Some(*u),
            Scope::Nothing => false,
        }
    }
}

impl Principal {
    /// Company-wide client roles: company admin or client operator.
    #[must_use]
    pub fn is_company_wide(&self) -> bool {
        (self.role == Role::Client && self.is_admin) || self.role == Role::ClientOperator
    }

    /// Scope of folders, media and analyses.
    #[must_use]
    pub fn data_scope(&self) -> Scope {
        match self.role {
            Role::Admin | Role::Operator => Scope::All,
            _ if self.is_company_wide() => self.company_id.map_or(Scope::Own(self.user_id), Scope::Company),
            _ => Scope::Own(self.user_id),
        }
    }

    /// May delete folders and media inside its scope.
    #[must_use]
    pub fn can_delete_data(&self) -> bool {
        self.role == Role::Admin || (self.role == Role::Client && self.is_admin)
    }

    /// May create folders, upload media and start analyses (OPERATOR roles only review).
    #[must_use]
    pub fn can_write_data(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Client)
    }

    #[must_use]
    pub fn can_start(&self, kind: AnalysisKind) -> bool {
        if !self.can_write_data() {
            return false;
        }
        match kind {
            AnalysisKind::Quality => self.can_start_quality,
            AnalysisKind::Biometry => self.can_start_biometry,
            AnalysisKind::Collection => self.can_start_collection,
            AnalysisKind::Documents => true,
        }
    }

    /// Scope of users the caller may see.
    #[must_use]
    pub fn user_scope(&self) -> Scope {
        match self.role {
            Role::Admin | Role::Operator => Scope::All,
            _ if self.is_company_wide() => self.company_id.map_or(Scope::Own(self.user_id), Scope::Company),
            _ => Scope::Own(self.user_id),
        }
    }

    /// May create or change a user with this role and company. ADMIN: anyone. Company admin:
    /// CLIENT or CLIENT_OPERATOR users of its own company.
    #[must_use]
    pub fn can_manage_user(&self, role: Role, company_id: Option<Uuid>) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Client if self.is_admin => {
                matches!(role, Role::Client | Role::ClientOperator)
                    && company_id.is_some()
                    && company_id == self.company_id
            }
            _ => false,
        }
    }

    /// Whether changing the password of `target` needs the current password: always for one's own
    /// (a stolen token alone cannot take the account over), never for a user one manages.
    #[must_use]
    pub fn needs_current_password(&self, target: Uuid) -> bool {
        target == self.user_id
    }

    /// May end every session of a user: oneself ("log out everywhere"), or a user one manages
    /// (ADMIN: anyone; company admin: CLIENT users of its company).
    #[must_use]
    pub fn can_revoke_sessions(&self, target: Uuid, role: Role, company_id: Option<Uuid>) -> bool {
        target == self.user_id || self.can_manage_user(role, company_id)
    }

    /// May see companies: ADMIN and OPERATOR all, others their own.
    #[must_use]
    pub fn company_scope(&self) -> Scope {
        match self.role {
            Role::Admin | Role::Operator => Scope::All,
            _ => self.company_id.map_or(Scope::Nothing, Scope::Company),
        }
    }

    /// May set the final verdict of an analysis of `company_id` (spec §3.1): OPERATOR for any,
    /// CLIENT OPERATOR for its own company's. ADMIN explicitly cannot.
    #[must_use]
    pub fn can_decide(&self, company_id: Option<Uuid>) -> bool {
        match self.role {
            Role::Operator => true,
            Role::ClientOperator => company_id.is_some() && company_id == self.company_id,
            _ => false,
        }
    }

    /// Scope of the operator decisions' audit trail: ADMIN and OPERATOR all; company admins and
    /// client operators their company's; nobody else.
    #[must_use]
    pub fn audit_scope(&self) -> Scope {
        match self.role {
            Role::Admin | Role::Operator => Scope::All,
            _ if self.is_company_wide() => self.company_id.map_or(Scope::Nothing, Scope::Company),
            _ => Scope::Nothing,
        }
    }

    /// Scope of blacklist collections (company-owned, spec §10): ADMIN and OPERATOR all; every
    /// client role its company's (a mobile SDK's service user looks its blacklist up by alias).
    #[must_use]
    pub fn collection_scope(&self) -> Scope {
        match self.role {
            Role::Admin | Role::Operator => Scope::All,
            _ => self.company_id.map_or(Scope::Nothing, Scope::Company),
        }
    }

    /// Creating and deleting collections, persons and their photos: ADMIN for any company, a
    /// company admin (CLIENT ADMIN) for its own (spec §3.1: "add new blacklist collections").
    #[must_use]
    pub fn can_manage_collections(&self, company_id: Uuid) -> bool {
        self.role == Role::Admin || (self.role == Role::Client && self.is_admin && self.company_id == Some(company_id))
    }

    /// Creating, renaming and deleting companies is an ADMIN task; a company admin may rename its own.
    #[must_use]
    pub fn can_manage_company(&self, company_id: Option<Uuid>) -> bool {
        self.role == Role::Admin || (self.role == Role::Client && self.is_admin && company_id == self.company_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(role: Role, is_admin: bool, company: Option<Uuid>) -> Principal {
        Principal {
            user_id: Uuid::from_u128(1),
            company_id: company,
            role,
            is_admin,
            is_service: false,
            can_start_quality: true,
            can_start_biometry: true,
            can_start_collection: false,
        }
    }

    #[test]
    fn roles_parse_with_implied_flags() {
        assert_eq!(Role::parse("client admin"), Some((Role::Client, true, false)));
        assert_eq!(Role::parse("CLIENT_SERVICE"), Some((Role::Client, false, true)));
        assert_eq!(Role::parse("operator"), Some((Role::Operator, false, false)));
        assert_eq!(Role::parse("root"), None);
        assert_eq!(AnalysisKind::parse("Quality"), Some(AnalysisKind::Quality));
        assert_eq!(AnalysisKind::parse("BIOMETRY"), Some(AnalysisKind::Biometry));
        assert_eq!(AnalysisKind::parse("x"), None);
        for s in ["COLLECTION", "collection", "BLACK LIST", "blacklist", "Black_List", "O2N"] {
            assert_eq!(AnalysisKind::parse(s), Some(AnalysisKind::Collection), "{s}");
        }
    }

    #[test]
    fn operators_decide_admins_do_not() {
        let c = Uuid::from_u128(9);
        let other = Uuid::from_u128(10);
        assert!(p(Role::Operator, false, None).can_decide(Some(other)));
        assert!(p(Role::Operator, false, None).can_decide(None));
        assert!(p(Role::ClientOperator, false, Some(c)).can_decide(Some(c)));
        assert!(!p(Role::ClientOperator, false, Some(c)).can_decide(Some(other)));
        assert!(!p(Role::ClientOperator, false, Some(c)).can_decide(None));
        assert!(!p(Role::Admin, false, None).can_decide(Some(c)), "spec §3.1: ADMIN cannot change statuses");
        assert!(!p(Role::Client, true, Some(c)).can_decide(Some(c)));
        assert!(!p(Role::Client, false, Some(c)).can_decide(Some(c)));
        assert_eq!(p(Role::Admin, false, None).audit_scope(), Scope::All);
        assert_eq!(p(Role::ClientOperator, false, Some(c)).audit_scope(), Scope::Company(c));
        assert_eq!(p(Role::Client, true, Some(c)).audit_scope(), Scope::Company(c));
        assert_eq!(p(Role::Client, false, Some(c)).audit_scope(), Scope::Nothing);
    }

    #[test]
    fn collections_belong_to_companies() {
        let c = Uuid::from_u128(9);
        let other = Uuid::from_u128(10);
        assert_eq!(p(Role::Admin, false, None).collection_scope(), Scope::All);
        assert_eq!(p(Role::Operator, false, None).collection_scope(), Scope::All);
        assert_eq!(p(Role::Client, false, Some(c)).collection_scope(), Scope::Company(c));
        assert_eq!(p(Role::ClientOperator, false, Some(c)).collection_scope(), Scope::Company(c));
        assert_eq!(p(Role::Client, false, None).collection_scope(), Scope::Nothing);
        assert!(p(Role::Admin, false, None).can_manage_collections(other));
        assert!(p(Role::Client, true, Some(c)).can_manage_collections(c));
        assert!(!p(Role::Client, true, Some(c)).can_manage_collections(other));
        assert!(!p(Role::Client, false, Some(c)).can_manage_collections(c));
        assert!(!p(Role::ClientOperator, false, Some(c)).can_manage_collections(c));
        assert!(!p(Role::Operator, false, None).can_manage_collections(c));
    }

    #[test]
    fn data_scopes() {
        let c = Uuid::from_u128(9);
        assert_eq!(p(Role::Admin, false, None).data_scope(), Scope::All);
        assert_eq!(p(Role::Operator, false, None).data_scope(), Scope::All);
        assert_eq!(p(Role::Client, true, Some(c)).data_scope(), Scope::Company(c));
        assert_eq!(p(Role::ClientOperator, false, Some(c)).data_scope(), Scope::Company(c));
        assert_eq!(p(Role::Client, false, Some(c)).data_scope(), Scope::Own(Uuid::from_u128(1)));
        let s = Scope::Company(c);
        assert!(s.contains(Some(Uuid::from_u128(5)), Some(c)));
        assert!(!s.contains(Some(Uuid::from_u128(1)), Some(Uuid::from_u128(8))));
        assert!(!Scope::Own(Uuid::from_u128(1)).contains(Some(Uuid::from_u128(2)), Some(c)));
    }

    #[test]
    fn permissions() {
        let c = Uuid::from_u128(9);
        let client = p(Role::Client, false, Some(c));
        let cadmin = p(Role::Client, true, Some(c));
        let op = p(Role::Operator, false, None);
        let admin = p(Role::Admin, false, None);
        assert!(
            !client.can_delete_data() && cadmin.can_delete_data() && admin.can_delete_data() && !op.can_delete_data()
        );
        assert!(client.can_start(AnalysisKind::Quality) && !client.can_start(AnalysisKind::Collection));
        assert!(!op.can_start(AnalysisKind::Quality));
        assert!(cadmin.can_manage_user(Role::Client, Some(c)));
        assert!(!cadmin.can_manage_user(Role::Admin, Some(c)));
        assert!(!cadmin.can_manage_user(Role::Client, Some(Uuid::from_u128(8))));
        assert!(!client.can_manage_user(Role::Client, Some(c)));
        assert!(admin.can_manage_user(Role::Operator, None));
        assert!(cadmin.can_manage_company(Some(c)) && !cadmin.can_manage_company(Some(Uuid::from_u128(8))));
        assert_eq!(client.company_scope(), Scope::Company(c));
    }

    #[test]
    fn sessions_and_passwords() {
        let c = Uuid::from_u128(9);
        let me = Uuid::from_u128(1);
        let other = Uuid::from_u128(2);
        let client = p(Role::Client, false, Some(c));
        let cadmin = p(Role::Client, true, Some(c));
        let admin = p(Role::Admin, false, None);
        assert!(client.needs_current_password(me) && !admin.needs_current_password(other));
        assert!(admin.needs_current_password(me), "an ADMIN changing its own password gives the current one");
        assert!(client.can_revoke_sessions(me, Role::Client, Some(c)), "log out everywhere");
        assert!(!client.can_revoke_sessions(other, Role::Client, Some(c)));
        assert!(cadmin.can_revoke_sessions(other, Role::Client, Some(c)));
        assert!(!cadmin.can_revoke_sessions(other, Role::Admin, None));
        assert!(!cadmin.can_revoke_sessions(other, Role::Client, Some(Uuid::from_u128(8))));
        assert!(admin.can_revoke_sessions(other, Role::Operator, None));
        assert!(!p(Role::Operator, false, None).can_revoke_sessions(other, Role::Client, Some(c)));
    }

    #[test]
    fn emails_normalize() {
        assert_eq!(normalize_email("  Alice@Example.COM \n"), "alice@example.com");
        assert_eq!(normalize_email("ÉLODIE@exemple.fr"), "élodie@exemple.fr");
    }
}
