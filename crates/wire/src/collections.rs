//! Collections (1:N watch lists), their persons and the persons' photos (spec §4.5, §10).

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::folder::MediaInfo;
use crate::vocab::MediaType;

/// A collection.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Collection {
    pub collection_id: Uuid,
    pub alias: String,
    pub company_id: Uuid,
    #[schema(value_type = Object)]
    pub meta_data: Value,
    pub time_created: f64,
    pub time_updated: f64,
}

/// A photo of a person (a media of type IMAGE_FOLDER).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PersonImage {
    pub media_id: Uuid,
    /// Same as `media_id`.
    pub image_id: Uuid,
    pub person_id: Uuid,
    pub collection_id: Uuid,
    pub company_id: Uuid,
    pub media_type: MediaType,
    pub original_name: String,
    pub original_url: String,
    #[schema(required = true)]
    pub thumb_url: Option<String>,
    pub info: MediaInfo,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub meta_data: Value,
    pub time_created: f64,
}

/// A person of a collection with its photos.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Person {
    pub person_id: Uuid,
    pub collection_id: Uuid,
    pub company_id: Uuid,
    /// e.g. `{"person_info": {"first_name": ..., "last_name": ...}}`.
    #[schema(value_type = Object)]
    pub meta_data: Value,
    pub images: Vec<PersonImage>,
    pub time_created: f64,
    pub time_updated: f64,
}
