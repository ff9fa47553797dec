//! The one place where errors become `tonic::Status`. Handlers only use `?`.

use crate::app::{AppError, Reason};
use spil_proto::reason_name;
use spil_proto::v1 as pb;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, PreconditionViolation, StatusExt};

/// The error domain named in `google.rpc.ErrorInfo`.
pub const ERROR_DOMAIN: &str = spil_proto::ERROR_DOMAIN;

/// The contract's value for `reason`: only listed reasons can be sent.
fn listed(reason: Reason) -> pb::ErrorReason {
    match reason {
        Reason::OfferingStale => pb::ErrorReason::OfferingStale,
        Reason::NoFreePlace => pb::ErrorReason::NoFreePlace,
        Reason::HoldExpired => pb::ErrorReason::HoldExpired,
        Reason::HoldReleased => pb::ErrorReason::HoldReleased,
        Reason::HoldConfirmed => pb::ErrorReason::HoldConfirmed,
        Reason::IllegalTransition => pb::ErrorReason::IllegalTransition,
        Reason::ContentErased => pb::ErrorReason::ContentErased,
        Reason::ConsultationEnded => pb::ErrorReason::ConsultationEnded,
        Reason::PlacementWithdrawn => pb::ErrorReason::PlacementWithdrawn,
        Reason::PlacementOverdue => pb::ErrorReason::PlacementOverdue,
        Reason::PlacementAnswered => pb::ErrorReason::PlacementAnswered,
        Reason::HoldUnderRequest => pb::ErrorReason::HoldUnderRequest,
        Reason::OrganisationRateLimited => pb::ErrorReason::OrganisationRateLimited,
        Reason::HubAtCapacity => pb::ErrorReason::HubAtCapacity,
        Reason::WatchLimitReached => pb::ErrorReason::WatchLimitReached,
    }
}

/// The reason of an error that carries none of its own: its code's.
pub fn reason_of_code(code: Code) -> &'static str {
    reason_name(match code {
        // Not an error; never answered with ErrorInfo.
        Code::Ok => pb::ErrorReason::Unspecified,
        Code::Cancelled => pb::ErrorReason::Cancelled,
        Code::Unknown => pb::ErrorReason::Unknown,
        Code::InvalidArgument => pb::ErrorReason::InvalidArgument,
        Code::DeadlineExceeded => pb::ErrorReason::DeadlineExceeded,
        Code::NotFound => pb::ErrorReason::NotFound,
        Code::AlreadyExists => pb::ErrorReason::AlreadyExists,
        Code::PermissionDenied => pb::ErrorReason::PermissionDenied,
        Code::ResourceExhausted => pb::ErrorReason::ResourceExhausted,
        Code::FailedPrecondition => pb::ErrorReason::FailedPrecondition,
        Code::Aborted => pb::ErrorReason::Aborted,
        Code::OutOfRange => pb::ErrorReason::OutOfRange,
        Code::Unimplemented => pb::ErrorReason::Unimplemented,
        Code::Internal => pb::ErrorReason::Internal,
        Code::Unavailable => pb::ErrorReason::Unavailable,
        Code::DataLoss => pb::ErrorReason::DataLoss,
        Code::Unauthenticated => pb::ErrorReason::Unauthenticated,
    })
}

impl From<AppError> for Status {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Invalid(violations) => {
                let summary = violations
                    .iter()
                    .map(|v| format!("{}: {}", v.field, v.description))
                    .collect::<Vec<_>>()
                    .join("; ");
                let details = ErrorDetails::with_bad_request(
                    violations
                        .into_iter()
                        .map(|v| FieldViolation::new(v.field, v.description))
                        .collect::<Vec<_>>(),
                );
                Status::with_error_details(Code::InvalidArgument, summary, details)
            }
            AppError::Unauthenticated(message) => Status::unauthenticated(message),
            AppError::PermissionDenied(message) => Status::permission_denied(message),
            AppError::NotFound(message) => Status::not_found(message),
            AppError::FailedPrecondition {
                reason,
                subject,
                description,
            } => {
                let reason = reason_name(listed(reason));
                let mut details =
                    ErrorDetails::with_precondition_failure(vec![PreconditionViolation::new(
                        reason,
                        subject,
                        description.clone(),
                    )]);
                details.set_error_info(reason, ERROR_DOMAIN, std::collections::HashMap::new());
                Status::with_error_details(Code::FailedPrecondition, description, details)
            }
            AppError::AlreadyExists(message) => Status::already_exists(message),
            AppError::OutOfRange(message) => Status::out_of_range(message),
            AppError::Unavailable(message) => {
                let mut details = ErrorDetails::new();
                details.set_retry_info(Some(std::time::Duration::from_secs(1)));
                Status::with_error_details(Code::Unavailable, message, details)
            }
            AppError::ResourceExhausted {
                reason,
                message,
                retry_after,
            } => {
                let mut details = ErrorDetails::new();
                details.set_error_info(
                    reason_name(listed(reason)),
                    ERROR_DOMAIN,
                    std::collections::HashMap::new(),
                );
                details.set_retry_info(Some(retry_after));
                Status::with_error_details(Code::ResourceExhausted, message, details)
            }
            AppError::Aborted(message) => {
                let mut details = ErrorDetails::new();
                details.set_retry_info(Some(std::time::Duration::from_millis(50)));
                Status::with_error_details(Code::Aborted, message, details)
            }
            error @ AppError::ShuttingDown { resume_after } => {
                let mut details = ErrorDetails::new();
                details.set_error_info(
                    reason_name(pb::ErrorReason::HubShuttingDown),
                    ERROR_DOMAIN,
                    std::collections::HashMap::from([(
                        "resume_revision".to_owned(),
                        resume_after.0.to_string(),
                    )]),
                );
                details.set_retry_info(Some(std::time::Duration::from_secs(1)));
                Status::with_error_details(Code::Unavailable, error.to_string(), details)
            }
            // The cause stays in the log; the caller gets an id to quote.
            internal @ AppError::Internal(_) => Status::internal(internal.public_message()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every reason, in the order of [`listed`].
    fn every_reason() -> Vec<Reason> {
        vec![
            Reason::OfferingStale,
            Reason::NoFreePlace,
            Reason::HoldExpired,
            Reason::HoldReleased,
            Reason::HoldConfirmed,
            Reason::IllegalTransition,
            Reason::ContentErased,
            Reason::ConsultationEnded,
            Reason::PlacementWithdrawn,
            Reason::PlacementOverdue,
            Reason::PlacementAnswered,
            Reason::HoldUnderRequest,
            Reason::OrganisationRateLimited,
            Reason::HubAtCapacity,
            Reason::WatchLimitReached,
        ]
    }

    #[test]
    fn the_edges_spell_every_reason_as_the_contract_does() {
        for reason in every_reason() {
            assert_eq!(
                crate::edge::calls::reason_name(reason),
                reason_name(listed(reason)),
                "{reason:?}"
            );
        }
    }
}
