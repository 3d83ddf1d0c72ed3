//! The states and kinds stored as text: Rust enums in the API, lowercase words in the database.

use std::fmt;
use std::str::FromStr;

/// A stored word that names no variant of the enum it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}`; expected one of: {expected}")]
pub struct ParseStateError {
    pub kind: &'static str,
    pub value: String,
    pub expected: &'static str,
}

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident, $kind:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The word stored in the database and shown to people.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ParseStateError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(ParseStateError {
                        kind: $kind,
                        value: s.to_string(),
                        expected: concat!($($text, " "),+).trim_ascii_end(),
                    }),
                }
            }
        }
    };
}

text_enum!(
    /// Where a build is. `Failed` is the project's fault (its build or tests), `Errored` is Slipway's or the
    /// infrastructure's, `Skipped` never ran because a parent did not succeed, `Canceled` was stopped by a person.
    BuildState, "build state" {
        Queued = "queued",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        Errored = "errored",
        Skipped = "skipped",
        Canceled = "canceled",
    }
);

text_enum!(
    /// The stages of a build, declared in pipeline order (so `Ord` is pipeline order).
    StageKind, "stage kind" {
        Checkout = "checkout",
        Prebuild = "prebuild",
        Lint = "lint",
        Build = "build",
        Push = "push",
        Test = "test",
        Scan = "scan",
        Deliver = "deliver",
    }
);

text_enum!(
    /// Where a stage is.
    StageState, "stage state" {
        Pending = "pending",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        Errored = "errored",
        Skipped = "skipped",
    }
);

text_enum!(
    /// What QA says about a digest: built, then passed or failed its tests, then rc, released, or revoked.
    QaState, "QA state" {
        Built = "built",
        Passed = "passed",
        Failed = "failed",
        Rc = "rc",
        Released = "released",
        Revoked = "revoked",
    }
);

text_enum!(
    /// A queue row: `queued` waits (for a worker, and for its parents), `running` is leased, `done` ran to an
    /// end, `failed` was given up (the build errored, or its lease lapsed too often).
    JobState, "job state" {
        Queued = "queued",
        Running = "running",
        Done = "done",
        Failed = "failed",
    }
);

text_enum!(
    /// The result of one test.
    TestResult, "test result" {
        Passed = "passed",
        Failed = "failed",
        Errored = "errored",
        Skipped = "skipped",
    }
);

text_enum!(
    /// How much a finding matters.
    Severity, "severity" {
        Info = "info",
        Warning = "warning",
        Error = "error",
    }
);

impl BuildState {
    /// Whether the build has ended (nothing will change its state again).
    pub fn is_finished(self) -> bool {
        !matches!(self, BuildState::Queued | BuildState::Running)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T>(all: &[T])
    where
        T: Copy + fmt::Display + FromStr<Err = ParseStateError> + PartialEq + fmt::Debug,
    {
        for value in all {
            assert_eq!(value.to_string().parse::<T>(), Ok(*value));
        }
    }

    #[test]
    fn every_variant_round_trips_through_its_word() {
        round_trips(BuildState::ALL);
        round_trips(StageKind::ALL);
        round_trips(StageState::ALL);
        round_trips(QaState::ALL);
        round_trips(JobState::ALL);
        round_trips(TestResult::ALL);
        round_trips(Severity::ALL);
    }

    #[test]
    fn unknown_words_are_refused_with_the_choices() {
        let cases: &[(&str, &str)] = &[
            (
                "Queued",
                "unknown build state `Queued`; expected one of: queued running succeeded failed errored skipped canceled",
            ),
            ("", "unknown build state ``; expected one of: queued running succeeded failed errored skipped canceled"),
            (
                "done ",
                "unknown build state `done `; expected one of: queued running succeeded failed errored skipped canceled",
            ),
        ];
        for (input, message) in cases {
            let err = input.parse::<BuildState>().expect_err(input);
            assert_eq!(err.to_string(), *message);
        }
        assert_eq!("rc".parse::<QaState>(), Ok(QaState::Rc));
        assert!("RC".parse::<QaState>().is_err());
    }

    #[test]
    fn stage_kinds_sort_in_pipeline_order() {
        let mut kinds = vec![StageKind::Deliver, StageKind::Checkout, StageKind::Test, StageKind::Build];
        kinds.sort();
        assert_eq!(kinds, [StageKind::Checkout, StageKind::Build, StageKind::Test, StageKind::Deliver]);
    }

    #[test]
    fn serde_uses_the_stored_words() {
        let json = serde_json::to_string(&[BuildState::Errored, BuildState::Succeeded]).unwrap_or_default();
        assert_eq!(json, r#"["errored","succeeded"]"#);
        let kinds: Vec<StageKind> = serde_json::from_str(r#"["prebuild","deliver"]"#).unwrap_or_default();
        assert_eq!(kinds, [StageKind::Prebuild, StageKind::Deliver]);
    }

    #[test]
    fn only_queued_and_running_builds_are_unfinished() {
        let unfinished: Vec<_> = BuildState::ALL.iter().filter(|s| !s.is_finished()).collect();
        assert_eq!(unfinished, [&BuildState::Queued, &BuildState::Running]);
    }
}
