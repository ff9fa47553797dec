//! sea-orm entities: the row world. Seen only inside `store`.
//!
//! Times are stored as milliseconds since the Unix epoch (`*_ms`), so that
//! comparisons mean the same on SQLite and PostgreSQL.

pub mod region {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "regions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: String,
        pub province: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod municipality {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "municipalities")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub code: String,
        pub name: String,
        pub region_id: String,
        pub latitude: Option<f64>,
        pub longitude: Option<f64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod organisation {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "organisations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: String,
        /// Role names separated by commas.
        pub roles: String,
        pub home_region_id: String,
        /// Region ids separated by commas: those a network serves.
        pub served_region_ids: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod location {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "locations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub provider_id: String,
        pub name: String,
        pub municipality_code: String,
        /// Derived from the municipality when stored.
        pub region_id: String,
        pub latitude: Option<f64>,
        pub longitude: Option<f64>,
        pub updated_at_ms: i64,
        pub intake_phone: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod offering {
    use sea_orm::entity::prelude::*;

    #[derive(
        Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize,
    )]
    #[sea_orm(table_name = "offerings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub location_id: String,
        pub provider_id: String,
        pub region_id: String,
        pub place_type: i32,
        /// Bit set of care profiles.
        pub care_profiles: i32,
        pub age_min: i32,
        pub age_max: i32,
        pub gender_policy: i32,
        pub security_level: i32,
        pub intake: i32,
        pub lead_time_days: i32,
        pub total_places: i32,
        pub free_places: i32,
        pub waiting_days: i32,
        pub observed_at_ms: i64,
        pub published_at_ms: i64,
        /// The revision of the latest publication.
        pub published_revision: i64,
        /// The revision of the latest change of any kind.
        pub revision: i64,
        /// Placements confirmed since the latest publication; reset by each
        /// publication, kept in the same transaction as the confirmation.
        pub placed_since_publication: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::location::Entity",
            from = "Column::LocationId",
            to = "super::location::Column::Id"
        )]
        Location,
    }

    impl Related<super::location::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Location.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod hold {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "holds")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub offering_id: String,
        /// The provider owning the offering, so a provider lists its holds by index.
        pub provider_id: String,
        pub holder_id: String,
        pub request_id: String,
        pub child_municipality_code: String,
        pub duration_secs: i64,
        pub state: i32,
        pub created_at_ms: i64,
        pub expires_at_ms: i64,
        pub ended_at_ms: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::offering::Entity",
            from = "Column::OfferingId",
            to = "super::offering::Column::Id"
        )]
        Offering,
    }

    impl Related<super::offering::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Offering.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod provider_request {
    use sea_orm::entity::prelude::*;

    /// One provider's part of a placement request, with the request's fields.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "provider_requests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub placement_request_id: String,
        pub requester_id: String,
        /// The requester's idempotency key.
        pub request_id: String,
        pub provider_id: String,
        pub offering_id: String,
        pub hold_id: String,
        pub case_reference: String,
        pub age_years: i32,
        pub child_municipality_code: String,
        pub care_profiles: i32,
        pub security_level: i32,
        pub urgency: i32,
        pub note: Option<String>,
        pub created_at_ms: i64,
        pub answer_due_ms: i64,
        pub state: i32,
        pub refusal_reason: Option<i32>,
        pub refusal_note: Option<String>,
        pub referral_offering_id: Option<String>,
        pub answered_at_ms: Option<i64>,
        /// When the retention period's end erased its free text.
        pub erased_at_ms: Option<i64>,
        /// The registry revision of its latest change.
        pub revision: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod publish_request {
    use sea_orm::entity::prelude::*;

    /// Idempotency record of one accepted publication.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "publish_requests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub provider_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub request_id: String,
        /// Hash of the request's parameters.
        pub fingerprint: String,
        pub revision: i64,
        /// JSON array of the published offering ids, in request order.
        pub offering_ids: String,
        pub created_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod capacity_event {
    use sea_orm::entity::prelude::*;

    /// The registry's change log: what the watch replays.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "capacity_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub revision: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub offering_id: String,
        /// JSON: the offering row and its active holds at this revision.
        pub payload: String,
        pub at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod registry_meta {
    use sea_orm::entity::prelude::*;

    /// Named counters: the current revision, the oldest revision the log still holds.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "registry_meta")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub value: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod unmet_demand {
    use sea_orm::entity::prelude::*;

    /// A search that found no fresh free place. No person data.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "unmet_demand")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub at_ms: i64,
        pub searcher_id: String,
        /// Bit set of place types searched for; 0 means any.
        pub place_types: i32,
        pub care_profiles: i32,
        pub child_age: Option<i32>,
        /// Comma-separated region ids searched in; empty means any.
        pub region_ids: String,
        pub child_municipality_code: Option<String>,
        /// The region the signal counts for: the child's municipality's,
        /// or else the one region searched; none for a wider search.
        pub region_id: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod offering_publication {
    use sea_orm::entity::prelude::*;

    /// One publication of one offering: the history regional figures use.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "offering_publications")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub offering_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub revision: i64,
        pub region_id: String,
        pub place_type: i32,
        pub care_profiles: i32,
        pub age_min: i32,
        pub age_max: i32,
        pub total_places: i32,
        pub free_places: i32,
        pub waiting_days: i32,
        pub observed_at_ms: i64,
        pub published_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod consultation {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "consultations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub filer_id: String,
        pub addressee_id: String,
        pub request_id: String,
        pub case_reference: Option<String>,
        pub age_years: Option<i32>,
        pub question: Option<String>,
        pub municipality_code: String,
        pub problem_domains: i32,
        pub question_type: i32,
        pub urgency: i32,
        pub state: i32,
        pub filed_at_ms: i64,
        pub answer_due_at_ms: i64,
        pub first_answered_at_ms: Option<i64>,
        pub ended_at_ms: Option<i64>,
        pub erased_at_ms: Option<i64>,
        pub escalated_from_id: Option<String>,
        pub escalated_to_id: Option<String>,
        pub overdue_announced: bool,
        pub revision: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod consultation_party {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "consultation_parties")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub consultation_id: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod consultation_transition {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "consultation_transitions")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub consultation_id: String,
        pub from_state: i32,
        pub to_state: i32,
        pub organisation_id: String,
        pub person: String,
        pub at_ms: i64,
        pub note: Option<String>,
        /// 0 when the transition is no decline.
        pub decline_reason: i32,
        /// Empty when the client sent none.
        pub request_id: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod consultation_message {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "consultation_messages")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub consultation_id: String,
        pub author_id: String,
        pub person: String,
        pub text: Option<String>,
        pub posted_at_ms: i64,
        pub request_id: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod consultation_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "consultation_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub revision: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub consultation_id: String,
        pub kind: i32,
        pub state: i32,
        /// Empty for the hub's own events (deadline, erasure).
        pub actor_id: String,
        pub at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod audit_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i64,
        /// Microseconds since the epoch: the precision the hash covers.
        pub at_us: i64,
        pub event_type: String,
        pub organisation_id: String,
        pub person: String,
        pub certificate_identity: String,
        pub consultation_id: Option<String>,
        pub action: i32,
        pub outcome: i32,
        /// Hex SHA-256.
        pub prev_hash: String,
        pub hash: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
