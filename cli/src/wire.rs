//! Proto enums on the command line: `--place-type crisis-bed` is parsed by
//! the generated `from_str_name`, so the CLI never mirrors an enum by hand
//! and a value added to the contract is accepted at once.

use clap::builder::{PossibleValue, TypedValueParser};
use spil_client::pb;
use std::marker::PhantomData;

/// A generated proto enum, written on the command line in kebab case
/// without its prefix (`PLACE_TYPE_CRISIS_BED` is `crisis-bed`).
pub trait WireEnum: Copy + Send + Sync + 'static + TryFrom<i32> {
    const PREFIX: &'static str;
    fn from_wire_name(name: &str) -> Option<Self>;
    fn wire_name(self) -> &'static str;
}

macro_rules! wire_enums {
    ($($ty:ty => $prefix:literal),+ $(,)?) => {$(
        impl WireEnum for $ty {
            const PREFIX: &'static str = $prefix;
            fn from_wire_name(name: &str) -> Option<Self> {
                <$ty>::from_str_name(name)
            }
            fn wire_name(self) -> &'static str {
                self.as_str_name()
            }
        }
    )+};
}

wire_enums! {
    pb::PlaceType => "PLACE_TYPE_",
    pb::CareProfile => "CARE_PROFILE_",
    pb::ChildGender => "CHILD_GENDER_",
    pb::GenderPolicy => "GENDER_POLICY_",
    pb::SecurityLevel => "SECURITY_LEVEL_",
    pb::HoldState => "HOLD_STATE_",
    pb::ConsultationState => "CONSULTATION_STATE_",
    pb::Urgency => "URGENCY_",
    pb::QuestionType => "QUESTION_TYPE_",
    pb::ProblemDomain => "PROBLEM_DOMAIN_",
    pb::DeclineReason => "DECLINE_REASON_",
    pb::Bucket => "BUCKET_",
    pb::PlacementUrgency => "PLACEMENT_URGENCY_",
    pb::PlacementRefusalReason => "PLACEMENT_REFUSAL_REASON_",
    pb::ProviderRequestState => "PROVIDER_REQUEST_STATE_",
}

/// `crisis-bed` for `PLACE_TYPE_CRISIS_BED`.
pub fn kebab<E: WireEnum>(value: E) -> String {
    value
        .wire_name()
        .trim_start_matches(E::PREFIX)
        .to_lowercase()
        .replace('_', "-")
}

/// Every value but the unspecified one, in wire order.
fn values<E: WireEnum>() -> impl Iterator<Item = E> {
    (1..256).filter_map(|n| E::try_from(n).ok())
}

/// clap's parser for a proto enum; its help lists the values.
#[derive(Clone, Copy)]
pub struct Wire<E>(PhantomData<E>);

/// The parser for `E`, for `#[arg(value_parser = wire::<pb::PlaceType>())]`.
pub fn wire<E: WireEnum>() -> Wire<E> {
    Wire(PhantomData)
}

impl<E: WireEnum> TypedValueParser for Wire<E> {
    type Value = E;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<E, clap::Error> {
        let text = value.to_string_lossy();
        let name = format!("{}{}", E::PREFIX, text.to_uppercase().replace('-', "_"));
        match E::from_wire_name(&name).filter(|_| !name.ends_with("_UNSPECIFIED")) {
            Some(parsed) => Ok(parsed),
            None => {
                let mut error =
                    clap::Error::new(clap::error::ErrorKind::InvalidValue).with_cmd(cmd);
                use clap::error::{ContextKind, ContextValue};
                if let Some(arg) = arg {
                    error.insert(
                        ContextKind::InvalidArg,
                        ContextValue::String(arg.to_string()),
                    );
                }
                error.insert(
                    ContextKind::InvalidValue,
                    ContextValue::String(text.into_owned()),
                );
                error.insert(
                    ContextKind::ValidValue,
                    ContextValue::Strings(values::<E>().map(kebab).collect()),
                );
                Err(error)
            }
        }
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            values::<E>().map(|v| PossibleValue::new(kebab(v))),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_contract() {
        assert_eq!(kebab(pb::PlaceType::CrisisBed), "crisis-bed");
        assert_eq!(
            kebab(pb::CareProfile::YouthAndParenting),
            "youth-and-parenting"
        );
        let cmd = clap::Command::new("t");
        let parsed = wire::<pb::PlaceType>()
            .parse_ref(&cmd, None, std::ffi::OsStr::new("secure-residential"))
            .unwrap();
        assert_eq!(parsed, pb::PlaceType::SecureResidential);
        assert!(
            wire::<pb::PlaceType>()
                .parse_ref(&cmd, None, std::ffi::OsStr::new("unspecified"))
                .is_err()
        );
        assert!(values::<pb::PlaceType>().count() >= 8);
    }
}
