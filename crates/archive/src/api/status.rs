//! Failures as the Kubernetes API reports them: a `Status` object that
//! kubectl prints as it prints the API server's own.

use serde_json::{Value, json};

#[derive(Debug, PartialEq)]
pub struct Failure {
    pub code: u16,
    pub message: String,
}

impl Failure {
    pub fn bad_request(message: impl Into<String>) -> Failure {
        Failure {
            code: 400,
            message: message.into(),
        }
    }
    pub fn unauthorized(message: impl Into<String>) -> Failure {
        Failure {
            code: 401,
            message: message.into(),
        }
    }
    pub fn forbidden(message: impl Into<String>) -> Failure {
        Failure {
            code: 403,
            message: message.into(),
        }
    }
    pub fn not_found(message: impl Into<String>) -> Failure {
        Failure {
            code: 404,
            message: message.into(),
        }
    }
    pub fn method_not_allowed(message: impl Into<String>) -> Failure {
        Failure {
            code: 405,
            message: message.into(),
        }
    }
    pub fn unavailable(message: impl Into<String>) -> Failure {
        Failure {
            code: 503,
            message: message.into(),
        }
    }

    pub fn to_status(&self) -> Value {
        let reason = match self.code {
            400 => "BadRequest",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "NotFound",
            405 => "MethodNotAllowed",
            _ => "ServiceUnavailable",
        };
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": self.message, "reason": reason, "code": self.code,
        })
    }
}
