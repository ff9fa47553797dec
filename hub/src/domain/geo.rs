//! Distances between coordinates, for sorting search results by how close
//! to home a place is ("zo thuis mogelijk").

use super::capacity::Coordinates;

const EARTH_RADIUS_KM: f64 = 6371.0;

/// Great-circle distance in kilometres (haversine).
pub fn distance_km(a: Coordinates, b: Coordinates) -> f64 {
    let (lat1, lat2) = (a.latitude.to_radians(), b.latitude.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.longitude - a.longitude).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().asin()
}

/// A municipality (gemeente): belongs to exactly one region.
#[derive(Debug, Clone, PartialEq)]
pub struct Municipality {
    pub code: super::capacity::MunicipalityCode,
    pub name: String,
    pub region_id: String,
    pub coordinates: Option<Coordinates>,
}

/// A youth-care region (jeugdregio), lying in one province.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    pub id: String,
    pub name: String,
    pub province: String,
    pub municipalities: Vec<Municipality>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haarlem_to_leiden_is_about_27_km() {
        let haarlem = Coordinates::new(52.3874, 4.6462).unwrap();
        let leiden = Coordinates::new(52.1601, 4.4970).unwrap();
        let d = distance_km(haarlem, leiden);
        assert!((26.0..29.0).contains(&d), "{d}");
        assert_eq!(distance_km(haarlem, haarlem), 0.0);
    }
}
