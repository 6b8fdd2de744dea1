//! The domain of ../shared/DOMAIN.md: sites, hazard categories and grades, roles and who
//! may do what, the hazard lifecycle and the checklist templates. No I/O here.

mod builtin_templates;
pub mod deadline;
pub mod hazard;
pub mod lifecycle;
pub mod role;
pub mod site;
pub mod templates;

pub use hazard::{HazardCategory, HazardGrade, RiskGrade, SafetyArea};
pub use lifecycle::{EventKind, HazardStatus};
pub use role::{Action, Role};
pub use site::SiteKind;
pub use templates::{ItemDef, TemplateDef};

/// The language of a label. zh-CN is primary; English for visitors and reviewers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl std::str::FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "zh" | "zh-cn" | "zh_cn" => Ok(Lang::Zh),
            "en" | "en-us" | "en-gb" => Ok(Lang::En),
            other => Err(format!("unknown language '{other}' (use zh or en)")),
        }
    }
}

/// Defines an enum that is stored and sent as a stable lowercase code, with zh-CN and
/// English labels. The code is the contract with documents and the wire; never rename one.
macro_rules! code_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $code:literal, $zh:literal, $en:literal;)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "&'static str")]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable code used in documents and on the wire.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            pub fn label(self, lang: $crate::model::Lang) -> &'static str {
                match (self, lang) {
                    $(($name::$variant, $crate::model::Lang::Zh) => $zh,
                      ($name::$variant, $crate::model::Lang::En) => $en,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::error::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($code => Ok($name::$variant),)+
                    _ => Err($crate::error::Error::invalid(
                        stringify!($name),
                        format!(
                            "unknown value '{}'; expected one of: {}",
                            s.chars().take(40).collect::<String>(),
                            [$($code),+].join(", ")
                        ),
                    )),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::error::Error;
            fn try_from(s: String) -> Result<Self, Self::Error> { s.parse() }
        }

        impl From<$name> for &'static str {
            fn from(v: $name) -> &'static str { v.code() }
        }

        $crate::ids::string_in_document!($name);
    };
}
pub(crate) use code_enum;
