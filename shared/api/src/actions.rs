//! The action catalogue as the API serves it, with each action's input
//! schema compiled once, and the check of a command's input against it.

use std::collections::HashMap;

use jsonschema::Validator;
use portage_core::actions::{Action, Catalog};
use serde_json::{Value, json};

/// One place in the input that does not match the action's schema.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InputProblem {
    /// JSON Pointer to the value (`/email`; empty for the whole input).
    pub path: String,
    /// What is wrong, without echoing the value.
    pub message: String,
}

/// The catalogue with compiled schemas.
pub struct ActionCatalog {
    catalog: Catalog,
    validators: HashMap<(&'static str, &'static str), Validator>,
}

/// An action whose schema does not compile: a defect of this build.
#[derive(Debug, thiserror::Error)]
#[error("the input schema of {provider} {action} is not valid: {message}")]
pub struct SchemaError {
    provider: &'static str,
    action: &'static str,
    message: String,
}

impl ActionCatalog {
    /// Compiles every action's input schema (formats checked too).
    pub fn new(catalog: Catalog) -> Result<Self, SchemaError> {
        let mut validators = HashMap::new();
        for action in catalog.list(None) {
            let problem = |message: String| SchemaError { provider: action.provider, action: action.name, message };
            let schema: Value = serde_json::from_str(action.input_schema).map_err(|e| problem(e.to_string()))?;
            let validator = jsonschema::options()
                .should_validate_formats(true)
                .build(&schema)
                .map_err(|e| problem(e.to_string()))?;
            validators.insert((action.provider, action.name), validator);
        }
        Ok(Self { catalog, validators })
    }

    /// One action.
    pub fn get(&self, provider: &str, name: &str) -> Option<&Action> {
        self.catalog.get(provider, name)
    }

    /// Where `input` fails `action`'s schema; empty when it matches.
    pub fn problems(&self, action: &Action, input: &Value) -> Vec<InputProblem> {
        let Some(validator) = self.validators.get(&(action.provider, action.name)) else { return Vec::new() };
        validator
            .iter_errors(input)
            .map(|e| InputProblem { path: e.instance_path().to_string(), message: e.masked().to_string() })
            .collect()
    }

    /// The catalogue's entries (one provider's, or all), as `GET /v1/actions` lists them.
    pub fn view(&self, provider: Option<&str>) -> Vec<Value> {
        self.catalog
            .list(provider)
            .map(|a| {
                json!({
                    "provider": a.provider,
                    "action": a.name,
                    "description": a.description,
                    "input_schema": serde_json::from_str::<Value>(a.input_schema).unwrap_or(Value::Null),
                    "effect": a.effect,
                })
            })
            .collect()
    }
}
