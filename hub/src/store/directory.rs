//! The directory: regions, municipalities and organisations. Written at
//! start-up (seed or configuration), read on every request.

use super::codes::{coordinates, roles, roles_to_string};
use super::entities::{municipality, organisation, region};
use super::{Store, StoreError};
use crate::domain::capacity::MunicipalityCode;
use crate::domain::geo::{Municipality, Region};
use crate::domain::identity::{OrgId, Organisation};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait, QueryOrder};

impl Store {
    pub async fn upsert_region(&self, region: &Region) -> Result<(), StoreError> {
        region::Entity::insert(region::ActiveModel {
            id: Set(region.id.clone()),
            name: Set(region.name.clone()),
            province: Set(region.province.clone()),
        })
        .on_conflict(
            OnConflict::column(region::Column::Id)
                .update_columns([region::Column::Name, region::Column::Province])
                .to_owned(),
        )
        .exec(&self.writer)
        .await?;
        for m in &region.municipalities {
            municipality::Entity::insert(municipality::ActiveModel {
                code: Set(m.code.as_str().to_owned()),
                name: Set(m.name.clone()),
                region_id: Set(region.id.clone()),
                latitude: Set(m.coordinates.map(|c| c.latitude)),
                longitude: Set(m.coordinates.map(|c| c.longitude)),
            })
            .on_conflict(
                OnConflict::column(municipality::Column::Code)
                    .update_columns([
                        municipality::Column::Name,
                        municipality::Column::RegionId,
                        municipality::Column::Latitude,
                        municipality::Column::Longitude,
                    ])
                    .to_owned(),
            )
            .exec(&self.writer)
            .await?;
        }
        Ok(())
    }

    pub async fn upsert_organisation(&self, org: &Organisation) -> Result<(), StoreError> {
        organisation::Entity::insert(organisation::ActiveModel {
            id: Set(org.id.as_str().to_owned()),
            name: Set(org.name.clone()),
            roles: Set(roles_to_string(&org.roles)),
            home_region_id: Set(org.home_region_id.clone()),
            served_region_ids: Set(org
                .served_region_ids
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(",")),
        })
        .on_conflict(
            OnConflict::column(organisation::Column::Id)
                .update_columns([
                    organisation::Column::Name,
                    organisation::Column::Roles,
                    organisation::Column::HomeRegionId,
                    organisation::Column::ServedRegionIds,
                ])
                .to_owned(),
        )
        .exec(&self.writer)
        .await?;
        Ok(())
    }

    /// Every organisation, ordered by id.
    pub async fn organisations(&self) -> Result<Vec<Organisation>, StoreError> {
        organisation::Entity::find()
            .order_by_asc(organisation::Column::Id)
            .all(&self.reader)
            .await?
            .into_iter()
            .map(|row| {
                Ok(Organisation {
                    id: OrgId::parse(&row.id)
                        .map_err(|e| StoreError::Corrupt(format!("org id: {e}")))?,
                    name: row.name,
                    roles: roles(&row.roles)?,
                    home_region_id: row.home_region_id,
                    served_region_ids: row
                        .served_region_ids
                        .split(',')
                        .filter(|id| !id.is_empty())
                        .map(str::to_owned)
                        .collect(),
                })
            })
            .collect()
    }

    /// Every region with its municipalities, ordered by id and code.
    pub async fn regions(&self) -> Result<Vec<Region>, StoreError> {
        let regions = region::Entity::find()
            .order_by_asc(region::Column::Id)
            .all(&self.reader)
            .await?;
        let municipalities = municipality::Entity::find()
            .order_by_asc(municipality::Column::Code)
            .all(&self.reader)
            .await?;
        regions
            .into_iter()
            .map(|r| {
                let municipalities = municipalities
                    .iter()
                    .filter(|m| m.region_id == r.id)
                    .map(|m| municipality_domain(m.clone()))
                    .collect::<Result<_, _>>()?;
                Ok(Region {
                    id: r.id,
                    name: r.name,
                    province: r.province,
                    municipalities,
                })
            })
            .collect()
    }
}

pub(super) fn municipality_domain(row: municipality::Model) -> Result<Municipality, StoreError> {
    Ok(Municipality {
        code: MunicipalityCode::parse(&row.code)
            .map_err(|e| StoreError::Corrupt(format!("municipality code: {e}")))?,
        name: row.name,
        region_id: row.region_id,
        coordinates: coordinates(row.latitude, row.longitude),
    })
}
