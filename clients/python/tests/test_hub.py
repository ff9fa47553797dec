"""The package against a real hub: each role's work, paged reads, a watch
that survives the hub's restart, and refusals as exceptions naming the field."""

from __future__ import annotations

import queue
import threading
import uuid

import grpc
import pytest

from spil import Hub, SpilError
from spil.v1 import capacity_pb2, common_pb2, consultations_pb2, insights_pb2

from conftest import RunningHub


def location(location_id: str) -> capacity_pb2.UpsertLocationRequest:
    return capacity_pb2.UpsertLocationRequest(
        location=capacity_pb2.Location(
            id=location_id, name=f"Locatie {location_id}", municipality_code="GM0392"
        )
    )


def crisis_bed(location_id: str, free: int) -> capacity_pb2.OfferingUpdate:
    return capacity_pb2.OfferingUpdate(
        key=capacity_pb2.OfferingKey(
            location_id=location_id,
            place_type=common_pb2.PLACE_TYPE_CRISIS_BED,
            care_profiles=[common_pb2.CARE_PROFILE_YOUTH_AND_PARENTING],
            age_band=common_pb2.AgeBand(min_age=12, max_age=17),
            gender_policy=common_pb2.GENDER_POLICY_ANY,
            security_level=common_pb2.SECURITY_LEVEL_OPEN,
        ),
        intake=common_pb2.INTAKE_AROUND_THE_CLOCK,
        total_places=free,
        free_places=free,
    )


def publish(provider: Hub, location_id: str, free: int) -> capacity_pb2.PublishCapacityResponse:
    provider.call(provider.capacity.UpsertLocation, location(location_id))
    return provider.call(
        provider.capacity.PublishCapacity,
        capacity_pb2.PublishCapacityRequest(
            request_id=str(uuid.uuid4()), updates=[crisis_bed(location_id, free)]
        ),
    )


def test_a_crisis_service_searches_holds_and_confirms(as_org) -> None:
    offering = publish(as_org("kenter"), "py-kenter-crisis", 2).offerings[0].id
    crisis = as_org("crisisdienst-zkh")
    assert crisis.who_am_i().organisation.id == "crisisdienst-zkh"

    found = list(
        crisis.search_places(
            capacity_pb2.SearchPlacesRequest(
                place_types=[common_pb2.PLACE_TYPE_CRISIS_BED],
                child_age=15,
                child_municipality_code="GM0392",
                page_size=2,
            )
        )
    )
    assert offering in [result.offering.id for result in found]
    assert len(found) > 2, "more than one page was read"

    hold = crisis.hold_place(offering, "GM0392", request_id="py-hold-1")
    assert hold.state == capacity_pb2.HOLD_STATE_ACTIVE
    # Retrying with the same request id gives the same hold, not a second one.
    assert crisis.hold_place(offering, "GM0392", request_id="py-hold-1").id == hold.id
    confirmed = crisis.confirm_hold(hold.id)
    assert confirmed.state == capacity_pb2.HOLD_STATE_CONFIRMED


def test_a_provider_publishes_and_its_watch_resumes_across_a_restart(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    hub = RunningHub(tmp_path_factory.mktemp("restarted"))
    hub.start()
    kenter = hub.connect("kenter")
    try:
        first = publish(kenter, "py-kenter-watched", 3)
        arrivals: queue.Queue[object] = queue.Queue()

        def watch() -> None:
            try:
                watcher = hub.connect("kenter")
                for message in watcher.watch_capacity(
                    start_revision=first.revision - 1, retry_delay=0.2
                ):
                    arrivals.put(message)
            except Exception as error:  # the test reads it from the queue
                arrivals.put(error)

        threading.Thread(target=watch, daemon=True).start()
        seen = arrivals.get(timeout=30)
        assert isinstance(seen, capacity_pb2.WatchCapacityResponse), seen
        assert seen.revision == first.revision

        # The hub stops (the watch is ended with where to resume) and comes back.
        hub.stop()
        hub.start()
        kenter.close()
        kenter = hub.connect("kenter")
        second = publish(kenter, "py-kenter-watched", 1)
        # Every revision arrives once and in order, those made while the
        # watch was cut included, up to the publication after the restart.
        previous = first.revision
        while previous < second.revision:
            seen = arrivals.get(timeout=30)
            assert isinstance(seen, capacity_pb2.WatchCapacityResponse), seen
            assert seen.revision == previous + 1, (previous, seen.revision)
            previous = seen.revision
        assert seen.offerings[0].key.location_id == "py-kenter-watched"
        assert seen.offerings[0].published_free_places == 1
    finally:
        kenter.close()
        hub.stop()


def test_a_ret_accepts_and_advises_what_a_crisis_service_filed(as_org) -> None:
    # Names travel as UTF-8 and come back in the audit trail unchanged.
    crisis = as_org("crisisdienst-zkh", person="Zoë Çelik")
    ret = as_org("ret-zkh-ijmond", person="Đorđe Nguyễn")
    filed = crisis.call(
        crisis.consultations.FileConsultation,
        consultations_pb2.FileConsultationRequest(
            request_id=str(uuid.uuid4()),
            addressee_id="ret-zkh-ijmond",
            case_reference="PY-CASE-1",
            age_years=15,
            municipality_code="GM0392",
            problem_domains=[consultations_pb2.PROBLEM_DOMAIN_MENTAL_HEALTH],
            question_type=consultations_pb2.QUESTION_TYPE_ADVICE,
            urgency=consultations_pb2.URGENCY_ROUTINE,
            question="Welke behandelrichting past bij een derde crisisopname?",
            consent_recorded=True,
        ),
    ).consultation
    inbox = ret.pages(
        ret.consultations.ListConsultations,
        consultations_pb2.ListConsultationsRequest(
            box=consultations_pb2.CONSULTATION_ROLE_INBOX, page_size=1
        ),
        "consultations",
    )
    assert filed.id in [c.id for c in inbox]
    for method, request in [
        (ret.consultations.AcceptConsultation, consultations_pb2.AcceptConsultationRequest),
        (ret.consultations.StartWork, consultations_pb2.StartWorkRequest),
    ]:
        ret.call(method, request(consultation_id=filed.id, request_id=str(uuid.uuid4())))
    ret.call(
        ret.consultations.GiveAdvice,
        consultations_pb2.GiveAdviceRequest(
            consultation_id=filed.id,
            advice="Traumabehandeling in een klinische setting.",
            request_id=str(uuid.uuid4()),
        ),
    )
    detail = crisis.call(
        crisis.consultations.GetConsultation,
        consultations_pb2.GetConsultationRequest(consultation_id=filed.id),
    )
    assert detail.consultation.state == consultations_pb2.CONSULTATION_STATE_ADVICE_GIVEN
    people = {change.person for change in detail.history}
    assert {"Zoë Çelik", "Đorđe Nguyễn"} <= people, people


def test_a_region_reads_its_figures(as_org) -> None:
    region = as_org("regio-zuid-kennemerland")
    overview = region.call(
        region.insights.CapacityOverview,
        insights_pb2.CapacityOverviewRequest(region_id="zuid-kennemerland"),
    )
    assert overview.ByteSize() > 0
    with pytest.raises(SpilError) as refused:
        region.call(
            region.insights.CapacityOverview,
            insights_pb2.CapacityOverviewRequest(region_id="haaglanden"),
        )
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED


def test_bad_input_raises_an_exception_naming_the_field(as_org) -> None:
    crisis = as_org("crisisdienst-zkh")
    with pytest.raises(SpilError) as refused:
        list(crisis.search_places(capacity_pb2.SearchPlacesRequest(child_age=24)))
    error = refused.value
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.field == "child_age"
    assert error.reason == "INVALID_ARGUMENT"
    assert error.request_id and error.metadata["request_id"] == error.request_id
