"""The typed layer over the generated stubs: a channel from certificate
files with the organisation's identity, the acting person sent as UTF-8,
iterators over paged lists, watches that resume from the last revision
across reconnects, and errors raised as `SpilError` carrying the gRPC code,
the offending fields and the `ErrorInfo` reason."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from spil.v1 import (
    audit_pb2_grpc,
    capacity_pb2,
    capacity_pb2_grpc,
    consultations_pb2,
    consultations_pb2_grpc,
    directory_pb2,
    directory_pb2_grpc,
    insights_pb2_grpc,
    placements_pb2,
    placements_pb2_grpc,
)

Response = TypeVar("Response")

#: Metadata that carries the acting person's name as UTF-8 bytes.
PERSON_HEADER = "x-spil-person-bin"
#: The request id the hub echoes and names in every error.
REQUEST_ID_HEADER = "x-request-id"


@dataclass(frozen=True)
class FieldViolation:
    """One bad field of a request, as `google.rpc.BadRequest` names it."""

    field: str
    description: str


@dataclass
class SpilError(Exception):
    """A call the hub refused or could not answer."""

    code: grpc.StatusCode
    message: str
    #: `ErrorInfo.reason`: which rule or limit refused the call.
    reason: str | None = None
    #: `ErrorInfo.metadata`, e.g. `resume_revision` or `request_id`.
    metadata: dict[str, str] = field(default_factory=dict)
    violations: list[FieldViolation] = field(default_factory=list)
    #: Seconds to wait before retrying (`RetryInfo`), when the hub says.
    retry_after: float | None = None
    request_id: str | None = None

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"

    @property
    def field(self) -> str | None:
        """The first offending field, for an INVALID_ARGUMENT."""
        return self.violations[0].field if self.violations else None

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> SpilError:
        call: Any = error
        error_ = cls(code=call.code(), message=call.details() or "")
        for key, value in (call.trailing_metadata() or ()) + (call.initial_metadata() or ()):
            if key == REQUEST_ID_HEADER and isinstance(value, str):
                error_.request_id = value
        status = rpc_status.from_call(call)
        for detail in status.details if status else ():
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                error_.reason = info.reason
                error_.metadata = dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                error_.violations = [
                    FieldViolation(v.field, v.description) for v in bad.field_violations
                ]
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                retry = error_details_pb2.RetryInfo()
                detail.Unpack(retry)
                error_.retry_after = retry.retry_delay.ToTimedelta().total_seconds()
        return error_


class Hub:
    """A connection to the hub as one organisation (its client certificate),
    optionally acting through one person (recorded in the audit trail)."""

    def __init__(
        self,
        target: str,
        *,
        ca_pem: bytes,
        cert_pem: bytes,
        key_pem: bytes,
        person: str | None = None,
        timeout: float = 10.0,
        compression: grpc.Compression | None = None,
    ) -> None:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=ca_pem, private_key=key_pem, certificate_chain=cert_pem
        )
        # The hub accepts gzip and deflate requests and compresses its
        # answers to any client that accepts them (grpcio always does).
        self.channel = grpc.secure_channel(target, credentials, compression=compression)
        self.person = person
        self.timeout = timeout
        self.capacity = capacity_pb2_grpc.CapacityRegistryStub(self.channel)
        self.consultations = consultations_pb2_grpc.ConsultationsStub(self.channel)
        self.directory = directory_pb2_grpc.DirectoryStub(self.channel)
        self.insights = insights_pb2_grpc.InsightsStub(self.channel)
        self.placements = placements_pb2_grpc.PlacementsStub(self.channel)
        self.audit = audit_pb2_grpc.AuditStub(self.channel)

    @classmethod
    def from_files(
        cls,
        target: str,
        *,
        ca: str | Path,
        cert: str | Path,
        key: str | Path,
        person: str | None = None,
        timeout: float = 10.0,
        compression: grpc.Compression | None = None,
    ) -> Hub:
        """Reads the hub's CA and the organisation's certificate and key (PEM)."""
        return cls(
            target,
            ca_pem=Path(ca).read_bytes(),
            cert_pem=Path(cert).read_bytes(),
            key_pem=Path(key).read_bytes(),
            person=person,
            timeout=timeout,
            compression=compression,
        )

    def acting_as(self, person: str) -> Hub:
        """The same connection, acting through `person`."""
        other = object.__new__(Hub)
        other.__dict__.update(self.__dict__)
        other.person = person
        return other

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> Hub:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _metadata(self, request_id: str | None = None) -> list[tuple[str, str | bytes]]:
        metadata: list[tuple[str, str | bytes]] = []
        if self.person is not None:
            metadata.append((PERSON_HEADER, self.person.encode("utf-8")))
        if request_id is not None:
            metadata.append((REQUEST_ID_HEADER, request_id))
        return metadata

    def call(
        self,
        method: Callable[..., Response],
        request: Any,
        *,
        timeout: float | None = None,
        request_id: str | None = None,
    ) -> Response:
        """Calls any unary method of the stubs; a refusal raises `SpilError`."""
        try:
            return method(
                request,
                metadata=self._metadata(request_id),
                timeout=self.timeout if timeout is None else timeout,
            )
        except grpc.RpcError as error:
            raise SpilError.from_rpc_error(error) from None

    def pages(self, method: Callable[..., Any], request: Any, items: str) -> Iterator[Any]:
        """Every item of a paged list (`page_token` / `next_page_token`),
        fetching pages as the iteration needs them."""
        request = type(request).FromString(request.SerializeToString())
        while True:
            page = self.call(method, request)
            yield from getattr(page, items)
            if not page.next_page_token:
                return
            request.page_token = page.next_page_token

    # The calls a crisis system needs.

    def who_am_i(self) -> directory_pb2.WhoAmIResponse:
        return self.call(self.directory.WhoAmI, directory_pb2.WhoAmIRequest())

    def search_places(
        self, request: capacity_pb2.SearchPlacesRequest
    ) -> Iterator[capacity_pb2.SearchResult]:
        """Every matching place, best first, page by page."""
        return self.pages(self.capacity.SearchPlaces, request, "results")

    def hold_place(
        self,
        offering_id: str,
        child_municipality_code: str,
        *,
        request_id: str | None = None,
    ) -> capacity_pb2.Hold:
        """Holds one place; retrying with the same `request_id` is safe."""
        request = capacity_pb2.HoldPlaceRequest(
            request_id=request_id or str(uuid.uuid4()),
            offering_id=offering_id,
            child_municipality_code=child_municipality_code,
        )
        return self.call(self.capacity.HoldPlace, request).hold

    def confirm_hold(self, hold_id: str) -> capacity_pb2.Hold:
        request = capacity_pb2.ConfirmHoldRequest(hold_id=hold_id)
        return self.call(self.capacity.ConfirmHold, request).hold

    def release_hold(self, hold_id: str) -> capacity_pb2.Hold:
        request = capacity_pb2.ReleaseHoldRequest(hold_id=hold_id)
        return self.call(self.capacity.ReleaseHold, request).hold

    # Placement requests: the crisis service asks, the provider answers.

    def request_placement(
        self,
        hold_ids: list[str],
        *,
        case_reference: str,
        age_years: int,
        care_profiles: list[int],
        urgency: int,
        security_level: int = 1,
        note: str = "",
        consent_recorded: bool,
        request_id: str | None = None,
    ) -> placements_pb2.PlacementRequest:
        """Asks the providers of one to three held places to take the child;
        retrying with the same `request_id` is safe."""
        request = placements_pb2.RequestPlacementRequest(
            request_id=request_id or str(uuid.uuid4()),
            hold_ids=hold_ids,
            case_reference=case_reference,
            age_years=age_years,
            care_profiles=care_profiles,
            security_level=security_level,
            urgency=urgency,
            note=note,
            consent_recorded=consent_recorded,
        )
        return self.call(self.placements.RequestPlacement, request).placement_request

    def accept_placement(self, provider_request_id: str) -> placements_pb2.PlacementRequest:
        """The provider takes the child: its hold becomes the placement."""
        request = placements_pb2.AnswerPlacementRequestRequest(
            provider_request_id=provider_request_id, accept=True
        )
        return self.call(self.placements.AnswerPlacementRequest, request).placement_request

    def refuse_placement(
        self,
        provider_request_id: str,
        reason: int,
        *,
        note: str = "",
        referral_offering_id: str = "",
    ) -> placements_pb2.PlacementRequest:
        """The provider refuses with one of the grounded reasons."""
        request = placements_pb2.AnswerPlacementRequestRequest(
            provider_request_id=provider_request_id,
            accept=False,
            refusal_reason=reason,
            refusal_note=note,
            referral_offering_id=referral_offering_id,
        )
        return self.call(self.placements.AnswerPlacementRequest, request).placement_request

    def placement_requests(self) -> Iterator[placements_pb2.PlacementRequest]:
        """The requests the caller sent or was asked, newest first."""
        return self.pages(
            self.placements.ListPlacementRequests,
            placements_pb2.ListPlacementRequestsRequest(),
            "placement_requests",
        )

    # Watches that survive reconnects.

    def watch_capacity(
        self,
        *,
        start_revision: int = 0,
        include_snapshot: bool = False,
        filter: capacity_pb2.WatchFilter | None = None,
        retry_delay: float = 0.5,
        max_retries: int | None = None,
    ) -> Iterator[capacity_pb2.WatchCapacityResponse]:
        """Capacity changes from `start_revision` (0: from now), resuming
        after the last revision seen when the stream is cut (a hub stopping
        says where to resume; any replica will do). The messages that only
        mark where a stream starts are not yielded."""

        def open_stream(after: int, first: bool) -> Iterable[Any]:
            request = capacity_pb2.WatchCapacityRequest(
                start_revision=after, include_snapshot=include_snapshot and first
            )
            if filter is not None:
                request.filter.CopyFrom(filter)
            return self.capacity.WatchCapacity(request, metadata=self._metadata())

        return self._resuming(open_stream, start_revision, retry_delay, max_retries)

    def watch_consultations(
        self,
        *,
        start_revision: int = 0,
        retry_delay: float = 0.5,
        max_retries: int | None = None,
    ) -> Iterator[consultations_pb2.WatchConsultationsResponse]:
        """Events on the organisation's consultations, resuming as `watch_capacity` does."""

        def open_stream(after: int, _first: bool) -> Iterable[Any]:
            request = consultations_pb2.WatchConsultationsRequest(start_revision=after)
            return self.consultations.WatchConsultations(request, metadata=self._metadata())

        return self._resuming(open_stream, start_revision, retry_delay, max_retries)

    def watch_placement_requests(
        self,
        *,
        start_revision: int = 0,
        retry_delay: float = 0.5,
        max_retries: int | None = None,
    ) -> Iterator[placements_pb2.WatchPlacementRequestsResponse]:
        """The placement requests the organisation sent or was asked, each as
        it is after a change (a provider sees them arrive and end, the
        requester sees the answers), resuming as `watch_capacity` does."""

        def open_stream(after: int, _first: bool) -> Iterable[Any]:
            request = placements_pb2.WatchPlacementRequestsRequest(start_revision=after)
            return self.placements.WatchPlacementRequests(request, metadata=self._metadata())

        return self._resuming(open_stream, start_revision, retry_delay, max_retries)

    def _resuming(
        self,
        open_stream: Callable[[int, bool], Iterable[Any]],
        start_revision: int,
        retry_delay: float,
        max_retries: int | None,
    ) -> Iterator[Any]:
        last = start_revision
        first = True
        retries = 0
        while True:
            try:
                for message in open_stream(last, first):
                    first = False
                    retries = 0
                    last = max(last, message.revision)
                    if not message.stream_start:
                        yield message
                return
            except grpc.RpcError as cut:
                error = SpilError.from_rpc_error(cut)
                if error.code != grpc.StatusCode.UNAVAILABLE or (
                    max_retries is not None and retries >= max_retries
                ):
                    raise error from None
                resume = error.metadata.get("resume_revision")
                if resume is not None:
                    last = max(last, int(resume))
                retries += 1
                time.sleep(error.retry_after or retry_delay)
