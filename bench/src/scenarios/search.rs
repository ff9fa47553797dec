//! Searches, closed loop, with the sizes of what they send and receive
//! (for the echo baseline of the same bytes).

use crate::*;

impl Bench {
    pub(crate) async fn search(&self) -> anyhow::Result<(Report, SearchSizes)> {
        self.search_accepting(None).await
    }

    /// The same searches, with the client accepting `compression`: the hub
    /// then compresses every answer. The note gives the wire size of the
    /// mean answer compressed and plain.
    pub(crate) async fn search_accepting(
        &self,
        compression: Option<CompressionEncoding>,
    ) -> anyhow::Result<(Report, SearchSizes)> {
        let clients = self
            .clients("crisisdienst-zkh", self.args.connections)
            .await?;
        let regions: Vec<String> = clients[0]
            .directory()
            .list_regions(pb::ListRegionsRequest {})
            .await?
            .into_inner()
            .regions
            .into_iter()
            .map(|r| r.id)
            .collect();
        let regions = Arc::new(regions);
        // The sizes a sized echo must match: the request as encoded, and the
        // mean answer over one search of every region.
        let (mut answers, mut gzipped) = (0usize, 0usize);
        for n in 0..regions.len() {
            let answer = clients[0]
                .capacity()
                .search_places(search_request(&regions, n as u64))
                .await?
                .into_inner()
                .encode_to_vec();
            answers += answer.len();
            gzipped += gzipped_len(&answer)?;
        }
        let sizes = SearchSizes {
            request: search_request(&regions, 0).encoded_len(),
            response: answers / regions.len().max(1),
        };
        let name = match compression {
            None => "search (region, page 50)".to_owned(),
            Some(encoding) => format!("search (region, page 50), answers in {encoding}"),
        };
        let searches = regions.len().max(1);
        let mut report = self
            .timed(&name, clients, move |client, n| {
                let regions = Arc::clone(&regions);
                async move {
                    let mut capacity = client.capacity();
                    if let Some(encoding) = compression {
                        capacity = capacity.accept_compressed(encoding);
                    }
                    capacity
                        .search_places(search_request(&regions, n))
                        .await
                        .is_ok()
                }
            })
            .await;
        report.note = format!(
            "{}; request {} B, mean answer {} B ({} B gzipped)",
            report.note,
            sizes.request,
            sizes.response,
            gzipped / searches
        );
        Ok((report, sizes))
    }
}

/// The encoded sizes of the search scenario's calls, for the sized echo.
#[derive(Clone, Copy)]
pub(crate) struct SearchSizes {
    pub(crate) request: usize,
    pub(crate) response: usize,
}

/// The search scenario's n-th search: a crisis search in one region after another.
pub(crate) fn search_request(regions: &[String], n: u64) -> pb::SearchPlacesRequest {
    pb::SearchPlacesRequest {
        region_ids: vec![regions[n as usize % regions.len()].clone()],
        child_age: Some(14),
        child_municipality_code: "GM0392".into(),
        include_unavailable: true,
        page_size: 50,
        ..Default::default()
    }
}
