//! Schema migrations: Rust, append-only, named by date and intent. A
//! migration is never edited after it lands; change the schema with a new one.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(M20261123CapacityRegistry),
            Box::new(M20261124Consultations),
            Box::new(M20261125PublicationHistory),
            Box::new(M20261126UnmetDemandRegion),
            Box::new(M20261127InsightsScope),
            Box::new(M20261201HoldsByOffering),
            Box::new(M20261204PlacementRequests),
            Box::new(M20261204LocationIntakePhone),
            Box::new(M20261205PlacementRevisions),
        ]
    }
}

/// Directory, locations, offerings, holds, the change log and unmet demand.
#[derive(DeriveMigrationName)]
struct M20261123CapacityRegistry;

#[async_trait::async_trait]
impl MigrationTrait for M20261123CapacityRegistry {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("regions")
                .col(string("id").primary_key())
                .col(string("name"))
                .col(string("province"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("municipalities")
                .col(string("code").primary_key())
                .col(string("name"))
                .col(string("region_id"))
                .col(double_null("latitude"))
                .col(double_null("longitude"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("organisations")
                .col(string("id").primary_key())
                .col(string("name"))
                .col(string("roles"))
                .col(string("home_region_id"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("locations")
                .col(string("id").primary_key())
                .col(string("provider_id"))
                .col(string("name"))
                .col(string("municipality_code"))
                .col(string("region_id"))
                .col(double_null("latitude"))
                .col(double_null("longitude"))
                .col(big_integer("updated_at_ms"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "locations",
            "ix_locations_provider",
            &["provider_id", "id"],
        ))
        .await?;
        m.create_table(
            Table::create()
                .table("offerings")
                .col(string("id").primary_key())
                .col(string("location_id"))
                .col(string("provider_id"))
                .col(string("region_id"))
                .col(integer("place_type"))
                .col(integer("care_profiles"))
                .col(integer("age_min"))
                .col(integer("age_max"))
                .col(integer("gender_policy"))
                .col(integer("security_level"))
                .col(integer("intake"))
                .col(integer("lead_time_days"))
                .col(integer("total_places"))
                .col(integer("free_places"))
                .col(integer("waiting_days"))
                .col(big_integer("observed_at_ms"))
                .col(big_integer("published_at_ms"))
                .col(big_integer("published_revision"))
                .col(big_integer("revision"))
                .col(integer("placed_since_publication"))
                .to_owned(),
        )
        .await?;
        // An offering is one kind of place at one location: its key is unique.
        m.create_index(
            index(
                "offerings",
                "ux_offerings_key",
                &[
                    "location_id",
                    "place_type",
                    "care_profiles",
                    "age_min",
                    "age_max",
                    "gender_policy",
                    "security_level",
                ],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "offerings",
            "ix_offerings_search",
            &["region_id", "place_type"],
        ))
        .await?;
        m.create_table(
            Table::create()
                .table("holds")
                .col(string("id").primary_key())
                .col(string("offering_id"))
                .col(string("provider_id"))
                .col(string("holder_id"))
                .col(string("request_id"))
                .col(string("child_municipality_code"))
                .col(big_integer("duration_secs"))
                .col(integer("state"))
                .col(big_integer("created_at_ms"))
                .col(big_integer("expires_at_ms"))
                .col(big_integer_null("ended_at_ms"))
                .to_owned(),
        )
        .await?;
        // Idempotency: one hold per client request id.
        m.create_index(
            index("holds", "ux_holds_request", &["holder_id", "request_id"])
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "holds",
            "ix_holds_active",
            &["state", "expires_at_ms"],
        ))
        .await?;
        m.create_index(index(
            "holds",
            "ix_holds_offering",
            &["offering_id", "state"],
        ))
        .await?;
        m.create_index(index(
            "holds",
            "ix_holds_provider",
            &["provider_id", "created_at_ms"],
        ))
        .await?;
        m.create_index(index(
            "holds",
            "ix_holds_holder",
            &["holder_id", "created_at_ms"],
        ))
        .await?;
        m.create_table(
            Table::create()
                .table("publish_requests")
                .col(string("provider_id"))
                .col(string("request_id"))
                .col(string("fingerprint"))
                .col(big_integer("revision"))
                .col(text("offering_ids"))
                .col(big_integer("created_at_ms"))
                .primary_key(Index::create().col("provider_id").col("request_id"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("capacity_events")
                .col(big_integer("revision"))
                .col(string("offering_id"))
                .col(text("payload"))
                .col(big_integer("at_ms"))
                .primary_key(Index::create().col("revision").col("offering_id"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("registry_meta")
                .col(string("key").primary_key())
                .col(big_integer("value"))
                .to_owned(),
        )
        .await?;
        m.exec_stmt(
            Query::insert()
                .into_table("registry_meta")
                .columns(["key", "value"])
                .values_panic(["revision".into(), 0i64.into()])
                .values_panic(["log_starts_after".into(), 0i64.into()])
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("unmet_demand")
                .col(big_pk_auto("id"))
                .col(big_integer("at_ms"))
                .col(string("searcher_id"))
                .col(integer("place_types"))
                .col(integer("care_profiles"))
                .col(integer_null("child_age"))
                .col(string("region_ids"))
                .col(string_null("child_municipality_code"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("unmet_demand", "ix_unmet_demand_at", &["at_ms"]))
            .await?;
        Ok(())
    }
}

/// Consultations, their parties, history, threads and change log, and the
/// hash-chained audit trail.
struct M20261124Consultations;

// Named by hand: the derive takes the file's name, which every migration here shares.
impl MigrationName for M20261124Consultations {
    fn name(&self) -> &str {
        "m20261124_consultations"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M20261124Consultations {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("consultations")
                .col(string("id").primary_key())
                .col(string("filer_id"))
                .col(string("addressee_id"))
                .col(string("request_id"))
                // Content: NULL once erased after the retention period.
                .col(string_null("case_reference"))
                .col(integer_null("age_years"))
                .col(text_null("question"))
                .col(string("municipality_code"))
                .col(integer("problem_domains"))
                .col(integer("question_type"))
                .col(integer("urgency"))
                .col(integer("state"))
                .col(big_integer("filed_at_ms"))
                .col(big_integer("answer_due_at_ms"))
                .col(big_integer_null("first_answered_at_ms"))
                .col(big_integer_null("ended_at_ms"))
                .col(big_integer_null("erased_at_ms"))
                .col(string_null("escalated_from_id"))
                .col(string_null("escalated_to_id"))
                .col(boolean("overdue_announced"))
                .col(big_integer("revision"))
                .to_owned(),
        )
        .await?;
        // Idempotency: one consultation per filer's request id.
        m.create_index(
            index(
                "consultations",
                "ux_consultations_request",
                &["filer_id", "request_id"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        // Deadline and retention sweeps.
        m.create_index(index(
            "consultations",
            "ix_consultations_state_due",
            &["state", "answer_due_at_ms"],
        ))
        .await?;
        m.create_index(index(
            "consultations",
            "ix_consultations_ended",
            &["erased_at_ms", "ended_at_ms"],
        ))
        .await?;
        m.create_table(
            Table::create()
                .table("consultation_parties")
                .col(string("org_id"))
                .col(string("consultation_id"))
                .primary_key(Index::create().col("org_id").col("consultation_id"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "consultation_parties",
            "ix_consultation_parties_consultation",
            &["consultation_id"],
        ))
        .await?;
        m.create_table(
            Table::create()
                .table("consultation_transitions")
                .col(big_pk_auto("id"))
                .col(string("consultation_id"))
                .col(integer("from_state"))
                .col(integer("to_state"))
                .col(string("organisation_id"))
                .col(string("person"))
                .col(big_integer("at_ms"))
                .col(text_null("note"))
                .col(integer("decline_reason"))
                .col(string("request_id"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "consultation_transitions",
            "ix_consultation_transitions",
            &["consultation_id", "id"],
        ))
        .await?;
        m.create_table(
            Table::create()
                .table("consultation_messages")
                .col(string("id").primary_key())
                .col(string("consultation_id"))
                .col(string("author_id"))
                .col(string("person"))
                .col(text_null("text"))
                .col(big_integer("posted_at_ms"))
                .col(string("request_id"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "consultation_messages",
                "ux_consultation_messages_request",
                &["consultation_id", "author_id", "request_id"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("consultation_events")
                .col(big_integer("revision"))
                .col(string("consultation_id"))
                .col(integer("kind"))
                .col(integer("state"))
                .col(string("actor_id"))
                .col(big_integer("at_ms"))
                .primary_key(Index::create().col("revision").col("consultation_id"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "consultation_events",
            "ix_consultation_events_consultation",
            &["consultation_id", "revision"],
        ))
        .await?;
        m.create_table(
            Table::create()
                .table("audit_events")
                .col(big_integer("seq").primary_key())
                .col(big_integer("at_us"))
                .col(string("event_type"))
                .col(string("organisation_id"))
                .col(string("person"))
                .col(string("certificate_identity"))
                .col(string_null("consultation_id"))
                .col(integer("action"))
                .col(integer("outcome"))
                .col(string("prev_hash"))
                .col(string("hash"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "audit_events",
            "ix_audit_events_consultation",
            &["consultation_id", "seq"],
        ))
        .await?;
        m.create_index(index(
            "audit_events",
            "ix_audit_events_organisation",
            &["organisation_id", "seq"],
        ))
        .await?;
        m.create_index(index("audit_events", "ix_audit_events_at", &["at_us"]))
            .await?;
        m.exec_stmt(
            Query::insert()
                .into_table("registry_meta")
                .columns(["key", "value"])
                .values_panic(["consultation_revision".into(), 0i64.into()])
                .values_panic(["audit_seq".into(), 0i64.into()])
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}

/// The publication history regional figures are computed from: one row per
/// offering per publication, kept after the change log is pruned. Existing
/// offerings start their history with their latest publication.
struct M20261125PublicationHistory;

impl MigrationName for M20261125PublicationHistory {
    fn name(&self) -> &str {
        "m20261125_publication_history"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M20261125PublicationHistory {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        const COLUMNS: [&str; 12] = [
            "offering_id",
            "revision",
            "region_id",
            "place_type",
            "care_profiles",
            "age_min",
            "age_max",
            "total_places",
            "free_places",
            "waiting_days",
            "observed_at_ms",
            "published_at_ms",
        ];
        m.create_table(
            Table::create()
                .table("offering_publications")
                .col(string("offering_id"))
                .col(big_integer("revision"))
                .col(string("region_id"))
                .col(integer("place_type"))
                .col(integer("care_profiles"))
                .col(integer("age_min"))
                .col(integer("age_max"))
                .col(integer("total_places"))
                .col(integer("free_places"))
                .col(integer("waiting_days"))
                .col(big_integer("observed_at_ms"))
                .col(big_integer("published_at_ms"))
                .primary_key(Index::create().col("offering_id").col("revision"))
                .to_owned(),
        )
        .await?;
        // "The publication in force at t" is one seek per offering.
        m.create_index(index(
            "offering_publications",
            "ix_offering_publications_in_force",
            &["offering_id", "published_at_ms", "revision"],
        ))
        .await?;
        // A period's publications in one region: a range, not all history.
        m.create_index(index(
            "offering_publications",
            "ix_offering_publications_region",
            &["region_id", "published_at_ms"],
        ))
        .await?;
        m.exec_stmt(
            Query::insert()
                .into_table("offering_publications")
                .columns(COLUMNS)
                .select_from(
                    Query::select()
                        .columns([
                            "id",
                            "published_revision",
                            "region_id",
                            "place_type",
                            "care_profiles",
                            "age_min",
                            "age_max",
                            "total_places",
                            "free_places",
                            "waiting_days",
                            "observed_at_ms",
                            "published_at_ms",
                        ])
                        .from("offerings")
                        .to_owned(),
                )
                .map_err(|e| DbErr::Migration(e.to_string()))?
                .to_owned(),
        )
        .await?;
        // Holds of a period, for placements and holds over time.
        m.create_index(index("holds", "ix_holds_created", &["created_at_ms"]))
            .await?;
        Ok(())
    }
}

/// Unmet demand attributed to one region, so a region's weeks are an index
/// range: the child's municipality's region, or else the one region searched.
struct M20261126UnmetDemandRegion;

impl MigrationName for M20261126UnmetDemandRegion {
    fn name(&self) -> &str {
        "m20261126_unmet_demand_region"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M20261126UnmetDemandRegion {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("unmet_demand")
                .add_column(string_null("region_id"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "unmet_demand",
            "ix_unmet_demand_region",
            &["region_id", "at_ms"],
        ))
        .await?;
        let db = m.get_connection();
        db.execute_unprepared(
            "UPDATE unmet_demand SET region_id = (SELECT municipalities.region_id \
             FROM municipalities WHERE municipalities.code = unmet_demand.child_municipality_code) \
             WHERE child_municipality_code IS NOT NULL",
        )
        .await?;
        db.execute_unprepared(
            "UPDATE unmet_demand SET region_id = region_ids \
             WHERE region_id IS NULL AND region_ids <> '' AND region_ids NOT LIKE '%,%'",
        )
        .await?;
        Ok(())
    }
}

/// The regions a supra-regional network serves, whose figures it reads; and
/// the indexes that keep a region's placements and consultations a range.
struct M20261127InsightsScope;

impl MigrationName for M20261127InsightsScope {
    fn name(&self) -> &str {
        "m20261127_insights_scope"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M20261127InsightsScope {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("organisations")
                .add_column(string("served_region_ids").default(""))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "holds",
            "ix_holds_child_municipality",
            &["child_municipality_code", "created_at_ms"],
        ))
        .await?;
        m.create_index(index(
            "consultations",
            "ix_consultations_municipality",
            &["municipality_code", "filed_at_ms"],
        ))
        .await?;
        Ok(())
    }
}

/// An offering's running holds as one range of an index: with only
/// `(offering_id, state)` beside `(state, expires_at_ms)`, SQLite's planner
/// read every active hold of every offering to count one offering's, so
/// each hold decision slowed as holds accumulated.
struct M20261201HoldsByOffering;

impl MigrationName for M20261201HoldsByOffering {
    fn name(&self) -> &str {
        "m20261201_holds_by_offering"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M20261201HoldsByOffering {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(index(
            "holds",
            "ix_holds_offering_running",
            &["offering_id", "state", "expires_at_ms"],
        ))
        .await?;
        // Its first two columns served nothing else.
        m.drop_index(
            Index::drop()
                .name("ix_holds_offering")
                .table("holds")
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}

/// Placement requests: one row per provider asked, the request's own
/// fields repeated on each (a request goes to at most a few providers, and
/// each provider reads only its own row).
struct M20261204PlacementRequests;

impl MigrationName for M20261204PlacementRequests {
    fn name(&self) -> &str {
        "m20261204_placement_requests"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M20261204PlacementRequests {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("provider_requests")
                .col(string("id").primary_key())
                .col(string("placement_request_id"))
                .col(string("requester_id"))
                .col(string("request_id"))
                .col(string("provider_id"))
                .col(string("offering_id"))
                .col(string("hold_id"))
                .col(string("case_reference"))
                .col(integer("age_years"))
                .col(string("child_municipality_code"))
                .col(integer("care_profiles"))
                .col(integer("security_level"))
                .col(integer("urgency"))
                .col(text_null("note"))
                .col(big_integer("created_at_ms"))
                .col(big_integer("answer_due_ms"))
                .col(integer("state"))
                .col(integer_null("refusal_reason"))
                .col(text_null("refusal_note"))
                .col(string_null("referral_offering_id"))
                .col(big_integer_null("answered_at_ms"))
                .col(big_integer_null("erased_at_ms"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "provider_requests",
            "ix_provider_requests_request",
            &["placement_request_id"],
        ))
        .await?;
        m.create_index(index(
            "provider_requests",
            "ix_provider_requests_requester",
            &["requester_id", "request_id"],
        ))
        .await?;
        m.create_index(index(
            "provider_requests",
            "ix_provider_requests_provider",
            &["provider_id", "created_at_ms"],
        ))
        .await?;
        m.create_index(index(
            "provider_requests",
            "ix_provider_requests_hold",
            &["hold_id"],
        ))
        .await?;
        Ok(())
    }
}

/// Each location's intake desk telephone number, which crisis staff call
/// before they drive.
struct M20261204LocationIntakePhone;

impl MigrationName for M20261204LocationIntakePhone {
    fn name(&self) -> &str {
        "m20261204_location_intake_phone"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M20261204LocationIntakePhone {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("locations")
                .add_column(string_null("intake_phone"))
                .to_owned(),
        )
        .await
    }
}

/// The registry revision of each provider request's latest change, so the
/// placement watch can resume after a revision as the other watches do.
struct M20261205PlacementRevisions;

impl MigrationName for M20261205PlacementRevisions {
    fn name(&self) -> &str {
        "m20261205_placement_revisions"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M20261205PlacementRevisions {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("provider_requests")
                .add_column(big_integer("revision").default(0))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "provider_requests",
            "ix_provider_requests_requester_revision",
            &["requester_id", "revision"],
        ))
        .await?;
        m.create_index(index(
            "provider_requests",
            "ix_provider_requests_provider_revision",
            &["provider_id", "revision"],
        ))
        .await
    }
}

fn index(
    table: &'static str,
    name: &'static str,
    columns: &[&'static str],
) -> IndexCreateStatement {
    let mut statement = Index::create();
    statement.name(name).table(table);
    for column in columns {
        statement.col(*column);
    }
    statement.to_owned()
}
