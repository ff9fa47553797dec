"""The FHIR endpoint, checked by implementations nobody here wrote: every
resource it returns is validated by the fhir.resources R4B models, its
invariants (as the FHIR R4 specification words them) evaluated by fhirpathpy,
and parsed by fhirclient's R4 models; the fhirpy client reads services with
their locations and a capacity report. Stale capacity is absent, never free."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import fhirpathpy
import pytest
import requests
from fhir.resources.R4B import get_fhir_model_class
from fhirclient.models.fhirelementfactory import FHIRElementFactory
from fhirpathpy.models import models as fhirpath_models
from fhirpy import SyncFHIRClient
from google.protobuf import timestamp_pb2

from spil.v1 import capacity_pb2

from conftest import RunningHub
from test_hub import crisis_bed, location

DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
# The hub's canonical base unless configured (`fhir_canonical_base`).
CANONICAL = "https://spil-hub.nl/fhir"
FRESHNESS = f"{CANONICAL}/CodeSystem/freshness"

# The constraints of the FHIR R4 specification on the resources the endpoint
# returns, each evaluated on the resource (context narrowed with .all()).
EVERY_RESOURCE = [
    ("dom-2", "contained.contained.empty()"),
    ("dom-4", "contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()"),
    ("dom-5", "contained.meta.security.empty()"),
    ("ext-1", "descendants().select(extension).all(extension.exists() != value.exists())"),
]
INVARIANTS = {
    "Bundle": [
        ("bdl-1", "total.empty() or (type = 'searchset') or (type = 'history')"),
        ("bdl-2", "entry.search.empty() or (type = 'searchset')"),
        (
            "bdl-3",
            "entry.all(request.exists() = (%resource.type = 'batch' or "
            "%resource.type = 'transaction' or %resource.type = 'history'))",
        ),
        (
            "bdl-4",
            "entry.all(response.exists() = (%resource.type = 'batch-response' or "
            "%resource.type = 'transaction-response' or %resource.type = 'history'))",
        ),
        ("bdl-5", "entry.all(resource.exists() or request.exists() or response.exists())"),
        (
            "bdl-7",
            "(type = 'history') or "
            "entry.where(fullUrl.exists()).select(fullUrl&resource.meta.versionId).isDistinct()",
        ),
        ("bdl-8", "entry.all(fullUrl.contains('/_history/').not())"),
    ],
    "CapabilityStatement": [
        ("cpb-1", "rest.exists() or messaging.exists() or document.exists()"),
        ("cpb-2", "(description.count() + software.count() + implementation.count()) > 0"),
        ("cpb-3", "messaging.endpoint.empty() or kind = 'instance'"),
        ("cpb-7", "document.select(profile&mode).isDistinct()"),
        ("cpb-9", "rest.all(resource.select(type).isDistinct())"),
        ("cpb-14", "(kind != 'instance') or implementation.exists()"),
        ("cpb-15", "(kind != 'capability') or (implementation.exists().not() and software.exists())"),
        (
            "cpb-16",
            "(kind!='requirements') or (implementation.exists().not() and software.exists().not())",
        ),
    ],
    "CodeSystem": [
        ("csd-1", "concept.code.combine(%resource.concept.descendants().concept.code).isDistinct()"),
        ("cnl-0", "name.exists() implies name.matches('[A-Z]([A-Za-z0-9_]){0,254}')"),
    ],
    "Measure": [
        ("mea-0", "name.exists() implies name.matches('[A-Z]([A-Za-z0-9_]){0,254}')"),
        ("mea-1", "group.stratifier.all((code | description | criteria).exists() xor component.exists())"),
    ],
    "MeasureReport": [
        ("mrp-1", "(type != 'data-collection') or group.exists().not()"),
        ("mrp-2", "group.stratifier.stratum.all(value.exists() xor component.exists())"),
    ],
    "Location": [],
    "HealthcareService": [],
    "Task": [
        (
            "inv-1",
            "lastModified.exists().not() or authoredOn.exists().not() or lastModified >= authoredOn",
        ),
    ],
    "OperationOutcome": [],
}


def validate(resource: dict[str, Any]) -> None:
    """Structure (fhir.resources R4B and fhirclient R4) and invariants (fhirpathpy)."""
    kind = resource["resourceType"]
    get_fhir_model_class(kind).model_validate(resource)
    FHIRElementFactory.instantiate(kind, resource)
    for key, expression in EVERY_RESOURCE + INVARIANTS[kind]:
        result = fhirpathpy.evaluate(
            resource, expression, {"resource": resource}, fhirpath_models["r4"]
        )
        assert result == [True], f"{kind}/{resource.get('id')} breaks {key}: {expression} gave {result}"
    for entry in resource.get("entry", []):
        validate(entry["resource"])


class Fhir:
    """Plain HTTPS as an organisation, for the answers a client library hides."""

    def __init__(self, hub: RunningHub, organisation: str) -> None:
        ca, cert, key = hub.credentials(organisation)
        self.base = hub.fhir_base
        self.session = requests.Session()
        # Per request: a session's own `verify` yields to REQUESTS_CA_BUNDLE.
        self.tls = {"verify": str(ca), "cert": (str(cert), str(key))}

    def get(
        self, path: str, expect: int = 200, headers: dict[str, str] | None = None, **params: Any
    ) -> dict[str, Any]:
        answer = self.session.get(
            f"{self.base}/{path}", params=params, headers=headers, timeout=30, **self.tls
        )
        assert answer.status_code == expect, answer.text
        assert answer.headers["content-type"].startswith("application/fhir+json")
        body = answer.json()
        validate(body)
        return body


def fhirpy_client(hub: RunningHub, organisation: str) -> SyncFHIRClient:
    ca, cert, key = hub.credentials(organisation)
    return SyncFHIRClient(
        hub.fhir_base, requests_config={"verify": str(ca), "cert": (str(cert), str(key))}
    )


def publish_observed(hub: RunningHub, as_org, location_id: str, free: int, hours_ago: int) -> str:
    """Publishes a crisis bed as observed `hours_ago`; returns the offering id."""
    kenter = as_org("kenter")
    kenter.call(kenter.capacity.UpsertLocation, location(location_id))
    update = crisis_bed(location_id, free)
    observed = timestamp_pb2.Timestamp()
    observed.FromDatetime(
        datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=hours_ago)
    )
    update.observed_at.CopyFrom(observed)
    published = kenter.call(
        kenter.capacity.PublishCapacity,
        capacity_pb2.PublishCapacityRequest(request_id=str(uuid.uuid4()), updates=[update]),
    )
    return published.offerings[0].id


def groups(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["code"]["coding"][0]["code"]: g["measureScore"] for g in report["group"]}


def test_every_resource_the_endpoint_returns_is_valid_fhir(hub: RunningHub) -> None:
    crisis = Fhir(hub, "crisisdienst-zkh")
    statement = crisis.get("metadata")
    assert statement["fhirVersion"] == "4.0.1"
    served = {r["type"] for r in statement["rest"][0]["resource"]}
    assert served == {"Location", "HealthcareService", "MeasureReport", "Measure", "CodeSystem", "Task"}
    crisis.get("CodeSystem")
    crisis.get("CodeSystem/place-type")
    crisis.get("CodeSystem/placement-refusal-reason")
    crisis.get("Measure/capacity")
    services = crisis.get(
        "HealthcareService", **{"_include": "HealthcareService:location", "_count": 5}
    )
    assert services["type"] == "searchset" and services["entry"]
    first = services["entry"][0]["resource"]["id"]
    crisis.get(f"HealthcareService/{first}")
    # _id narrows the search itself: its total and pages count only those.
    only = crisis.get("HealthcareService", _id=first, _count=1)
    assert only["total"] == 1 and len(only["entry"]) == 1
    assert not any(link["relation"] == "next" for link in only["link"])
    crisis.get(f"MeasureReport/offering-{first}")
    crisis.get("MeasureReport", subject=f"HealthcareService/{first}")
    crisis.get("Location", _count=3)
    region = Fhir(hub, "regio-zuid-kennemerland")
    report = region.get("MeasureReport/region-zuid-kennemerland")
    assert report["group"][0]["stratifier"][0]["stratum"]
    # Refusals are OperationOutcomes too, naming what was wrong.
    refused = crisis.get("HealthcareService", expect=400, age=24)
    assert refused["issue"][0]["expression"] == ["age"]
    refused = crisis.get("HealthcareService", expect=400, **{"service-typ": "crisis-bed"})
    assert refused["issue"][0]["expression"] == ["service-typ"]
    crisis.get("HealthcareService/no-such-offering", expect=404)
    crisis.get("Patient", expect=404)


def test_a_fhir_client_reads_services_with_their_locations_and_a_capacity_report(
    hub: RunningHub,
) -> None:
    client = fhirpy_client(hub, "crisisdienst-zkh")
    # Small pages, so that the client follows Bundle.link next.
    search = (
        client.resources("HealthcareService")
        .search(**{"service-type": "crisis-bed", "age": 15})
        .include("HealthcareService", "location")
        .limit(2)
    )
    bundle = search.fetch_raw()
    assert any(link["relation"] == "next" for link in bundle["link"]), bundle["link"]
    services = search.fetch_all()
    assert len(services) == bundle["total"] > 2
    for service in services:
        assert service["type"][0]["coding"][0]["code"] == "crisis-bed"
    first_page = [e["resource"] for e in bundle["entry"]]
    included = {r["id"] for r in first_page if r["resourceType"] == "Location"}
    for service in (r for r in first_page if r["resourceType"] == "HealthcareService"):
        assert service["location"][0]["reference"].removeprefix("Location/") in included
    location = client.reference("Location", included.pop()).to_resource()
    assert location["resourceType"] == "Location"
    reports = client.resources("MeasureReport").search(
        subject=f"HealthcareService/{services[0]['id']}"
    ).fetch()
    assert len(reports) == 1
    assert reports[0]["measure"] == f"{CANONICAL}/Measure/capacity"


def test_a_location_carries_its_intake_desks_phone(hub: RunningHub) -> None:
    crisis = Fhir(hub, "crisisdienst-zkh")
    location = crisis.get("Location/kenter-crisis-haarlem")
    assert location["telecom"] == [{"system": "phone", "use": "work", "value": "088-555 10 00"}]


def test_stale_capacity_is_absent_never_free(hub: RunningHub, as_org) -> None:
    fresh = publish_observed(hub, as_org, "fhir-kenter-fresh", free=2, hours_ago=0)
    # A crisis bed is fresh for 12 hours: this one was stale when published.
    stale = publish_observed(hub, as_org, "fhir-kenter-stale", free=3, hours_ago=48)
    crisis = Fhir(hub, "crisisdienst-zkh")

    service = crisis.get(f"HealthcareService/{stale}")
    assert {"system": FRESHNESS, "code": "stale", "display": "Stale"} in service["meta"]["tag"]
    report = crisis.get(f"MeasureReport/offering-{stale}")
    assert report["meta"]["tag"][0]["code"] == "stale"
    assert report["meta"]["versionId"].isdigit()
    scores = groups(report)
    for absent in ("free", "occupied"):
        assert "value" not in scores[absent], scores[absent]
        [reason] = scores[absent]["extension"]
        assert reason == {"url": DATA_ABSENT_REASON, "valueCode": "temp-unknown"}
    assert scores["total"]["value"] == 3 and scores["stale"]["value"] == 3

    report = crisis.get(f"MeasureReport/offering-{fresh}")
    scores = groups(report)
    assert report["meta"]["tag"][0]["code"] == "fresh"
    assert scores["free"]["value"] == 2 and scores["stale"]["value"] == 0
    assert scores["occupied"]["value"] + scores["free"]["value"] == scores["total"]["value"]

    # In a region's report the groups add up too: total = occupied + free + stale.
    region = Fhir(hub, "regio-zuid-kennemerland").get("MeasureReport/region-zuid-kennemerland")
    scores = groups(region)
    assert scores["stale"]["value"] >= 3
    assert (
        scores["occupied"]["value"] + scores["free"]["value"] + scores["stale"]["value"]
        == scores["total"]["value"]
    )
    # The search as of just now finds the stale one by when it was published.
    since = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    recent = crisis.get("HealthcareService", _lastUpdated=f"ge{since}", _count=200)
    ids = {e["resource"]["id"] for e in recent["entry"]}
    assert {fresh, stale} <= ids


def test_the_same_roles_as_grpc(hub: RunningHub) -> None:
    region = Fhir(hub, "regio-zuid-kennemerland")
    refused = region.get("MeasureReport/region-haaglanden", expect=403)
    assert refused["issue"][0]["code"] == "forbidden"
    # A region reads figures, not the places a crisis service searches.
    region.get("HealthcareService", expect=403)
    crisis = Fhir(hub, "crisisdienst-zkh")
    crisis.get("MeasureReport/region-zuid-kennemerland", expect=403)


def test_no_client_certificate_no_answer(hub: RunningHub) -> None:
    ca, _, _ = hub.credentials("crisisdienst-zkh")
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(f"{hub.fhir_base}/metadata", verify=str(ca), timeout=30)


def test_canonical_base_and_public_address_are_settings_and_organisations_go_by_name(
    tmp_path,
) -> None:
    canonical = "https://terminologie.example.nl/jeugdzorg"
    public = "https://fhir.example.nl/spil/fhir"
    configured = RunningHub(
        tmp_path,
        settings={"SPIL_FHIR_CANONICAL_BASE": canonical, "SPIL_FHIR_BASE_URL": public},
    )
    configured.start()
    try:
        crisis = Fhir(configured, "crisisdienst-zkh")
        systems = crisis.get("CodeSystem")
        urls = {e["resource"]["url"] for e in systems["entry"]}
        assert urls and all(url.startswith(f"{canonical}/CodeSystem/") for url in urls), urls
        assert crisis.get("Measure/capacity")["url"] == f"{canonical}/Measure/capacity"
        services = crisis.get(
            "HealthcareService", **{"_include": "HealthcareService:location", "_count": 2}
        )
        # Links and full URLs are the public address, not what the pod saw.
        assert all(link["url"].startswith(f"{public}/") for link in services["link"])
        assert all(e["fullUrl"].startswith(f"{public}/") for e in services["entry"])
        assert crisis.get("metadata")["implementation"]["url"] == public
        for entry in services["entry"]:
            resource = entry["resource"]
            organisation = resource.get("providedBy") or resource.get("managingOrganization")
            assert organisation["identifier"]["system"] == f"{canonical}/organisation"
            # The name, not the id.
            assert organisation["display"] != organisation["identifier"]["value"], organisation
            assert organisation["display"].strip()
        first = services["entry"][0]["resource"]["id"]
        report = crisis.get(f"MeasureReport/offering-{first}")
        assert report["reporter"]["display"] == "Spil"
        assert report["measure"] == f"{canonical}/Measure/capacity"
    finally:
        configured.stop()


def test_a_placement_request_reads_as_tasks_for_requester_and_provider(hub: RunningHub, as_org) -> None:
    """One Task per provider asked: requested until answered, rejected with
    the reason from the hub's CodeSystem as statusReason; the requester
    reads every part, a provider only its own; the person acting is named."""
    from spil.v1 import common_pb2, placements_pb2

    offerings = {}
    for provider in ("kenter", "consortium-ijmond"):
        client = as_org(provider)
        location_id = f"fhir-task-{uuid.uuid4().hex[:8]}"
        client.call(client.capacity.UpsertLocation, location(location_id))
        published = client.call(
            client.capacity.PublishCapacity,
            capacity_pb2.PublishCapacityRequest(
                request_id=str(uuid.uuid4()), updates=[crisis_bed(location_id, 2)]
            ),
        )
        offerings[provider] = published.offerings[0].id
    crisis = as_org("crisisdienst-zkh", "Zoë Çelik")
    holds = [crisis.hold_place(offering, "GM0392").id for offering in offerings.values()]
    sent = crisis.request_placement(
        holds,
        case_reference="FHIR-TASK-1",
        age_years=15,
        care_profiles=[common_pb2.CARE_PROFILE_YOUTH_AND_PARENTING],
        urgency=placements_pb2.PLACEMENT_URGENCY_CRISIS,
        note="Vannacht.",
        consent_recorded=True,
    )
    parts = {p.provider_id: p.id for p in sent.provider_requests}
    as_org("consortium-ijmond", "Nachtcoördinator").refuse_placement(
        parts["consortium-ijmond"], placements_pb2.PLACEMENT_REFUSAL_REASON_GROUP_SAFETY
    )

    person = {"X-Spil-Person": "Zoë Çelik".encode().decode("latin-1")}
    requester = Fhir(hub, "crisisdienst-zkh")
    bundle = requester.get("Task", headers=person, _count=200)
    mine = {
        entry["resource"]["owner"]["identifier"]["value"]: entry["resource"]
        for entry in bundle["entry"]
        if entry["resource"]["groupIdentifier"]["value"] == sent.id
    }
    assert set(mine) == {"kenter", "consortium-ijmond"}
    assert mine["kenter"]["status"] == "requested"
    assert mine["kenter"]["priority"] == "stat"
    assert mine["kenter"]["focus"]["reference"] == f"HealthcareService/{offerings['kenter']}"
    refused = mine["consortium-ijmond"]
    assert refused["status"] == "rejected"
    reason = refused["statusReason"]["coding"][0]
    assert reason["code"] == "group-safety"
    assert reason["system"] == f"{CANONICAL}/CodeSystem/placement-refusal-reason"
    codes = {c["code"] for c in requester.get("CodeSystem/placement-refusal-reason")["concept"]}
    assert reason["code"] in codes

    provider = Fhir(hub, "kenter")
    own = provider.get(f"Task/{parts['kenter']}", headers={"X-Spil-Person": "Nachtdienst"})
    assert own["owner"]["identifier"]["value"] == "kenter"
    provider.get(f"Task/{parts['consortium-ijmond']}", expect=404, headers={"X-Spil-Person": "Nachtdienst"})
    nameless = provider.get(f"Task/{parts['kenter']}", expect=400)
    assert nameless["issue"][0]["expression"] == ["x-spil-person"]
    Fhir(hub, "regio-zuid-kennemerland").get("Task", expect=403, headers={"X-Spil-Person": "Analist"})


def test_http_calls_are_counted_by_route_never_by_id(hub: RunningHub) -> None:
    """FHIR and the board go through the same call layer as gRPC: each call
    is counted under its route template, a path no route takes under one
    name, so that no id and no caller's invention becomes a label value."""
    ca, cert, key = hub.credentials("crisisdienst-zkh")
    tls = {"verify": str(ca), "cert": (str(cert), str(key)), "timeout": 30}
    unknown = f"nonexistent-{uuid.uuid4()}"
    base = f"https://localhost:{hub.fhir_port}"
    assert requests.get(f"{base}/fhir/Location/{unknown}", **tls).status_code == 404
    requests.get(f"{base}/board/consultaties/{unknown}", allow_redirects=False, **tls)
    assert requests.get(f"{base}/board/{unknown}", **tls).status_code == 404
    metrics = requests.get(f"http://127.0.0.1:{hub.admin_port}/metrics", timeout=30).text
    assert 'method="/fhir/Location/{id}"' in metrics
    assert 'method="/board/consultaties/{id}"' in metrics
    assert 'method="unrouted"' in metrics
    assert unknown not in metrics
