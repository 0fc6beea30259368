//! IMGAPI's error answers: status, `code` and `message` as sdc-imgapi 4.13.1
//! (`lib/errors.js`) and restify 4.3.1 (`lib/errors/`, `lib/router.js`) build
//! them. The body is `{"code", "message"}`, plus `"errors"` for the two
//! validation errors.

use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// Boxed: errors are passed around in `Result`s and stay small.
    pub errors: Option<Box<Value>>,
    /// Extra response headers (405's `Allow`).
    pub headers: Vec<(String, String)>,
}

impl ApiError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> ApiError {
        ApiError { status, code: code.to_string(), message: message.into(), errors: None, headers: Vec::new() }
    }

    pub fn body(&self) -> Value {
        let mut body = json!({ "code": self.code, "message": self.message });
        if let Some(errors) = &self.errors {
            body["errors"] = (**errors).clone();
        }
        body
    }

    fn with_errors(status: u16, code: &str, message: impl Into<String>, errors: Value) -> ApiError {
        ApiError { errors: Some(Box::new(errors)), ..ApiError::new(status, code, message) }
    }

    /// One `{field, code}` entry of a validation error's `errors`.
    pub fn field(field: &str, code: &str) -> Value {
        json!({ "field": field, "code": code })
    }

    // ---- IMGAPI's own (lib/errors.js)

    pub fn validation_failed(message: impl Into<String>, errors: Vec<Value>) -> ApiError {
        ApiError::with_errors(422, "ValidationFailed", message, Value::Array(errors))
    }

    pub fn invalid_parameter(message: impl Into<String>, errors: Vec<Value>) -> ApiError {
        ApiError::with_errors(422, "InvalidParameter", message, Value::Array(errors))
    }

    pub fn image_files_immutable(uuid: &str) -> ApiError {
        ApiError::new(422, "ImageFilesImmutable", format!("cannot modify files on activated image {uuid}"))
    }

    pub fn image_already_activated(uuid: &str) -> ApiError {
        ApiError::new(422, "ImageAlreadyActivated", format!("image \"{uuid}\" is already activated"))
    }

    pub fn no_activation_no_file(uuid: &str) -> ApiError {
        ApiError::new(422, "NoActivationNoFile", format!("image \"{uuid}\" cannot be activated: it has no file"))
    }

    pub fn operator_only() -> ApiError {
        ApiError::new(403, "OperatorOnly", "this endpoint may only be called by an operator")
    }

    pub fn image_uuid_already_exists(uuid: &str) -> ApiError {
        ApiError::new(409, "ImageUuidAlreadyExists", format!("image uuid \"{uuid}\" already exists"))
    }

    pub fn upload(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "Upload", message)
    }

    pub fn download(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "Download", message)
    }

    pub fn not_image_owner(account: &str, uuid: &str) -> ApiError {
        ApiError::new(422, "NotImageOwner", format!("account {account} is not the owner of image {uuid}"))
    }

    pub fn origin_does_not_exist(origin: &str) -> ApiError {
        ApiError::new(422, "OriginDoesNotExist", format!("origin image \"{origin}\" does not exist"))
    }

    pub fn image_has_dependent_images(uuid: &str, deps: &[String]) -> ApiError {
        let summary = if deps.len() < 10 {
            deps.join(", ")
        } else {
            format!("{}, and {} more...", deps[..5].join(", "), deps.len() - 5)
        };
        ApiError::new(
            422,
            "ImageHasDependentImages",
            format!("image \"{uuid}\" has {} dependent incremental image(s): {summary}", deps.len()),
        )
    }

    /// The real server's code for functionality it lacks; here, for endpoints
    /// the test server does not implement.
    pub fn not_available(endpoint: &str) -> ApiError {
        ApiError::new(501, "NotAvailable", format!("{endpoint} is not implemented by imgapi-testserver"))
    }

    // ---- restify's

    pub fn resource_not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, "ResourceNotFound", message)
    }

    /// restify's HttpError for 401: code `UnauthorizedError`.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(401, "UnauthorizedError", message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "InternalError", message)
    }

    pub fn invalid_content(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "InvalidContent", message)
    }

    pub fn invalid_version(range: &str, method: &str, path: &str) -> ApiError {
        ApiError::new(400, "InvalidVersion", format!("{range} is not supported by {method} {path}"))
    }

    /// restify's HttpError for 405, with the route's methods in `Allow`.
    pub fn method_not_allowed(method: &str, allow: &[&str]) -> ApiError {
        let mut e = ApiError::new(405, "MethodNotAllowedError", format!("{method} is not allowed"));
        e.headers.push(("Allow".to_string(), allow.join(", ")));
        e
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequestError", message)
    }
}
