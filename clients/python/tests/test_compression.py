"""Compressed calls, as integrators configure their channels (grpcio's
`compression=`, grpc-java's `withCompression`, grpc-go's `UseCompressor`):
every service of the hub accepts gzip and deflate requests from grpcio and
answers it, compressed when grpcio says it accepts that."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from spil import Hub
from spil.v1 import (
    audit_pb2,
    capacity_pb2,
    common_pb2,
    consultations_pb2,
    directory_pb2,
    insights_pb2,
)

from conftest import RunningHub

ENCODINGS = [grpc.Compression.Gzip, grpc.Compression.Deflate]


def connect(hub: RunningHub, organisation: str, compression: grpc.Compression) -> Hub:
    ca, cert, key = hub.credentials(organisation)
    return Hub.from_files(
        hub.target, ca=ca, cert=cert, key=key, person="J. de Vries", compression=compression
    )


# One call per service: (service, organisation allowed to make it, call).
CALLS = {
    "Directory": (
        "crisisdienst-zkh",
        lambda h: h.call(h.directory.WhoAmI, directory_pb2.WhoAmIRequest()).organisation.id,
    ),
    "CapacityRegistry": (
        "crisisdienst-zkh",
        lambda h: len(
            h.call(
                h.capacity.SearchPlaces,
                capacity_pb2.SearchPlacesRequest(
                    place_types=[common_pb2.PLACE_TYPE_CRISIS_BED], child_age=15, include_unavailable=True
                ),
            ).results
        ),
    ),
    "Consultations": (
        "ret-zkh-ijmond",
        lambda h: len(
            h.call(
                h.consultations.ListConsultations, consultations_pb2.ListConsultationsRequest()
            ).consultations
        ),
    ),
    "Insights": (
        "regio-zuid-kennemerland",
        lambda h: h.call(
            h.insights.CapacityOverview,
            insights_pb2.CapacityOverviewRequest(region_id="zuid-kennemerland"),
        ).ByteSize(),
    ),
    "Audit": (
        "spil-privacy",
        lambda h: h.call(h.audit.VerifyAuditChain, audit_pb2.VerifyAuditChainRequest()).ByteSize(),
    ),
    "Health": (
        "crisisdienst-zkh",
        lambda h: health_pb2_grpc.HealthStub(h.channel)
        .Check(health_pb2.HealthCheckRequest(), timeout=10)
        .status,
    ),
    "Reflection": (
        "crisisdienst-zkh",
        lambda h: len(
            next(
                reflection_pb2_grpc.ServerReflectionStub(h.channel).ServerReflectionInfo(
                    iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10
                )
            ).list_services_response.service
        ),
    ),
}


@pytest.mark.parametrize("encoding", ENCODINGS, ids=lambda e: e.name)
@pytest.mark.parametrize("service", sorted(CALLS))
def test_every_service_answers_a_compressed_call(
    hub: RunningHub, service: str, encoding: grpc.Compression
) -> None:
    organisation, call = CALLS[service]
    with connect(hub, organisation, encoding) as client:
        answer = call(client)
    assert answer, f"{service} gave an empty answer to a {encoding.name} call"


def test_a_compressed_watch_streams(hub: RunningHub) -> None:
    with connect(hub, "kenter", grpc.Compression.Gzip) as provider:
        stream = provider.capacity.WatchCapacity(
            capacity_pb2.WatchCapacityRequest(include_snapshot=True), timeout=10
        )
        first = next(iter(stream))
        stream.cancel()
    assert first.revision > 0
