"""Placement requests through the package against a real hub: a crisis
service asks two providers at once, the first acceptance wins and the other
hears it was withdrawn; a refusal carries its reason; a case nobody takes
goes to the region's expertise team."""

from __future__ import annotations

import uuid

import pytest

from spil import SpilError
from spil.v1 import capacity_pb2, common_pb2, placements_pb2

from test_hub import publish

PERSON = "Dienstdoende crisismedewerker"


def two_holds(as_org) -> tuple[list[str], dict[str, str]]:
    """A hold at Kenter and one at Consortium IJmond; their offerings by provider."""
    offerings = {
        "kenter": publish(as_org("kenter"), f"py-place-{uuid.uuid4().hex[:8]}", 2).offerings[0].id,
        "consortium-ijmond": publish(
            as_org("consortium-ijmond"), f"py-place-{uuid.uuid4().hex[:8]}", 2
        )
        .offerings[0]
        .id,
    }
    crisis = as_org("crisisdienst-zkh", PERSON)
    holds = [crisis.hold_place(offering, "GM0392").id for offering in offerings.values()]
    return holds, offerings


def ask(as_org, holds: list[str], case: str) -> placements_pb2.PlacementRequest:
    return as_org("crisisdienst-zkh", PERSON).request_placement(
        holds,
        case_reference=case,
        age_years=15,
        care_profiles=[common_pb2.CARE_PROFILE_YOUTH_AND_PARENTING],
        urgency=placements_pb2.PLACEMENT_URGENCY_CRISIS,
        note="Vannacht; geen medicatie.",
        consent_recorded=True,
    )


def own_part(request: placements_pb2.PlacementRequest, provider: str) -> str:
    return next(p.id for p in request.provider_requests if p.provider_id == provider)


def test_two_providers_asked_the_first_yes_wins(as_org) -> None:
    holds, _ = two_holds(as_org)
    sent = ask(as_org, holds, "PY-CASE-1")
    assert len(sent.provider_requests) == 2

    ijmond = as_org("consortium-ijmond", "Nachtcoördinator")
    inbox = [r for r in ijmond.placement_requests() if r.id == sent.id]
    assert len(inbox) == 1 and len(inbox[0].provider_requests) == 1, "only its own part"
    accepted = ijmond.accept_placement(own_part(sent, "consortium-ijmond"))
    assert accepted.provider_requests[0].state == placements_pb2.PROVIDER_REQUEST_STATE_ACCEPTED

    kenter = as_org("kenter", "Nachtcoördinator")
    with pytest.raises(SpilError) as late:
        kenter.accept_placement(own_part(sent, "kenter"))
    assert late.value.reason == "PLACEMENT_WITHDRAWN"

    crisis = as_org("crisisdienst-zkh", PERSON)
    seen = crisis.call(
        crisis.placements.GetPlacementRequest,
        placements_pb2.GetPlacementRequestRequest(placement_request_id=sent.id),
    ).placement_request
    states = {p.provider_id: p.state for p in seen.provider_requests}
    assert states == {
        "consortium-ijmond": placements_pb2.PROVIDER_REQUEST_STATE_ACCEPTED,
        "kenter": placements_pb2.PROVIDER_REQUEST_STATE_WITHDRAWN,
    }
    listed = {h.id: h.state for h in crisis.call(crisis.capacity.ListHolds, capacity_pb2.ListHoldsRequest()).holds}
    assert sorted(listed[h] for h in holds) == [
        capacity_pb2.HOLD_STATE_CONFIRMED,
        capacity_pb2.HOLD_STATE_RELEASED,
    ]


def test_refusals_name_their_reason_and_a_bsn_is_refused_on_the_field(as_org) -> None:
    holds, _ = two_holds(as_org)
    sent = ask(as_org, holds, "PY-CASE-2")
    kenter = as_org("kenter", "Nachtcoördinator")
    with pytest.raises(SpilError) as bsn:
        kenter.refuse_placement(
            own_part(sent, "kenter"),
            placements_pb2.PLACEMENT_REFUSAL_REASON_OTHER,
            note="Cliënt 111222333 is bij ons bekend",
        )
    assert bsn.value.field == "refusal_note"
    refused = kenter.refuse_placement(
        own_part(sent, "kenter"), placements_pb2.PLACEMENT_REFUSAL_REASON_GROUP_SAFETY
    )
    part = refused.provider_requests[0]
    assert part.state == placements_pb2.PROVIDER_REQUEST_STATE_REFUSED
    assert part.refusal_reason == placements_pb2.PLACEMENT_REFUSAL_REASON_GROUP_SAFETY

    crisis = as_org("crisisdienst-zkh", PERSON)
    escalated = crisis.call(
        crisis.placements.EscalatePlacementCase,
        placements_pb2.EscalatePlacementCaseRequest(placement_request_id=sent.id),
    )
    assert escalated.expertise_team_id == "ret-zkh-ijmond"
    assert {p.state for p in escalated.placement_request.provider_requests} == {
        placements_pb2.PROVIDER_REQUEST_STATE_REFUSED,
        placements_pb2.PROVIDER_REQUEST_STATE_WITHDRAWN,
    }


def test_both_sides_follow_a_request_through_the_watch(as_org) -> None:
    """The provider sees the request arrive with only its own part; after it
    accepts, the requester, resuming from the revision it saw, sees the answer."""
    start = publish(as_org("kenter"), f"py-watch-{uuid.uuid4().hex[:8]}", 2).revision
    holds, _ = two_holds(as_org)
    sent = ask(as_org, holds, "PY-CASE-W")
    kenter = as_org("kenter", "Nachtcoördinator")
    arrived = next(
        change
        for change in kenter.watch_placement_requests(start_revision=start)
        if change.placement_request.id == sent.id
    )
    assert [p.provider_id for p in arrived.placement_request.provider_requests] == ["kenter"]
    assert arrived.placement_request.note == "Vannacht; geen medicatie."
    kenter.accept_placement(own_part(sent, "kenter"))

    crisis = as_org("crisisdienst-zkh", PERSON)
    answered = next(
        change
        for change in crisis.watch_placement_requests(start_revision=arrived.revision)
        if change.placement_request.id == sent.id
    )
    assert sorted(p.state for p in answered.placement_request.provider_requests) == [
        placements_pb2.PROVIDER_REQUEST_STATE_ACCEPTED,
        placements_pb2.PROVIDER_REQUEST_STATE_WITHDRAWN,
    ]
