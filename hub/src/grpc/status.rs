//! The one place where errors become `tonic::Status`. Handlers only use `?`.

use crate::app::AppError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, PreconditionViolation, StatusExt};

/// The error domain named in `google.rpc.ErrorInfo`.
const DOMAIN: &str = crate::access::ERROR_DOMAIN;

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
                let mut details =
                    ErrorDetails::with_precondition_failure(vec![PreconditionViolation::new(
                        reason,
                        subject,
                        description.clone(),
                    )]);
                details.set_error_info(reason, DOMAIN, std::collections::HashMap::new());
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
                details.set_error_info(reason, DOMAIN, std::collections::HashMap::new());
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
                    "HUB_SHUTTING_DOWN",
                    DOMAIN,
                    std::collections::HashMap::from([(
                        "resume_revision".to_owned(),
                        resume_after.0.to_string(),
                    )]),
                );
                details.set_retry_info(Some(std::time::Duration::from_secs(1)));
                Status::with_error_details(Code::Unavailable, error.to_string(), details)
            }
            AppError::Internal(source) => {
                // The cause stays in the log; the caller gets an id to quote.
                let error_id = uuid::Uuid::new_v4();
                tracing::error!(%error_id, cause = %source.redacted(), "internal error");
                Status::internal(format!("internal error {error_id}"))
            }
        }
    }
}
