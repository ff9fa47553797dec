//! Schema migrations: Rust, append-only, named by date and intent. A
//! migration is never edited after it lands; change the schema with a new one.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(M20261123CapacityRegistry)]
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
