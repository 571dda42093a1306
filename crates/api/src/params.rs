use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// A parameter a Task accepts.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParamSpec {
    /// The param's name: letters, digits, '_' and '-', starting with a
    /// letter or '_'. Steps see it as `$(params.<name>)` and as the
    /// environment variable `PARAM_<NAME>` (upper case, '-' becomes '_').
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-zA-Z_][a-zA-Z0-9_-]*$"))]
    pub name: String,

    /// `string` (the default) or `array` (a list of strings).
    #[serde(default, rename = "type")]
    pub type_: ParamType,

    /// What the param means, for people starting the Task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,

    /// The value used when a run does not set the param; a param without a
    /// default is required. A default of the wrong type fails the run with
    /// reason InvalidParams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<ParamValue>,
}

/// The type of a param.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    /// One string.
    #[default]
    String,
    /// A list of strings.
    Array,
}

impl ParamType {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Array => "array",
        }
    }
}

/// A param's value: a string, or a list of strings for an array param.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(untagged)]
pub enum ParamValue {
    String(String),
    Array(Vec<String>),
    /// Anything else. The schema cannot rule it out (see `JsonSchema`
    /// below), so it is kept, to fail the run with a clear message rather
    /// than make the whole TaskRun unreadable.
    Other(serde_json::Value),
}

impl ParamValue {
    /// The value's type, None for `Other`.
    pub fn type_(&self) -> Option<ParamType> {
        match self {
            ParamValue::String(_) => Some(ParamType::String),
            ParamValue::Array(_) => Some(ParamType::Array),
            ParamValue::Other(_) => None,
        }
    }
}

impl JsonSchema for ParamValue {
    fn schema_name() -> Cow<'static, str> {
        "ParamValue".into()
    }

    fn inline_schema() -> bool {
        true
    }

    // A string or a list of strings: a structural schema cannot say "one of
    // two types", and CEL rules cannot see an untyped field, so the value is
    // left open and checked when the run starts (reason InvalidParams).
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"x-kubernetes-preserve-unknown-fields": true})
    }
}

/// A param value given by a TaskRun.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct Param {
    /// The name of a param the Task declares.
    #[schemars(length(min = 1, max = 63))]
    pub name: String,
    /// A string, or a list of strings for an array param.
    pub value: ParamValue,
}

/// A result a Task produces: a step writes it to `$(results.<name>.path)`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct ResultSpec {
    /// The result's name: letters, digits, '_' and '-', starting with a
    /// letter or '_'.
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-zA-Z_][a-zA-Z0-9_-]*$"))]
    pub name: String,
    /// What the result holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A result's value, as a run reports it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct TaskRunResult {
    pub name: String,
    /// What the steps wrote to the result's file, byte for byte.
    pub value: String,
}
