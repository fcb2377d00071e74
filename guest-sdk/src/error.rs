use crate::bindings::types::ErrorObject;
use std::fmt;

/// A workflow's or step's error: a type and a message, as AWS's SDKs shape
/// errors, rebuilt identically on replay. Any `std::error::Error` converts into
/// it with `?` (its type name becomes the error type).
///
/// It also carries suspension: an error from a [`crate::Context`] call may mean
/// "this workflow must wait". Pass such errors on with `?`.
#[derive(Clone, PartialEq, Eq)]
pub struct Error(Repr);

#[derive(Clone, PartialEq, Eq)]
enum Repr {
    Failure {
        error_type: String,
        message: String,
        data: Option<String>,
    },
    Pending,
}

impl Error {
    pub fn new(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Error(Repr::Failure {
            error_type: error_type.into(),
            message: message.into(),
            data: None,
        })
    }

    /// Attaches data (serialized as JSON) for whoever handles the error.
    pub fn with_data(mut self, data: &impl serde::Serialize) -> Self {
        if let Repr::Failure { data: slot, .. } = &mut self.0 {
            *slot = serde_json::to_string(data).ok();
        }
        self
    }

    /// The error's type; `"Pending"` for a suspension.
    pub fn error_type(&self) -> &str {
        match &self.0 {
            Repr::Failure { error_type, .. } => error_type,
            Repr::Pending => "Pending",
        }
    }

    pub fn message(&self) -> &str {
        match &self.0 {
            Repr::Failure { message, .. } => message,
            Repr::Pending => "the workflow is waiting on a durable operation",
        }
    }

    /// The error's data as JSON text, if any.
    pub fn data(&self) -> Option<&str> {
        match &self.0 {
            Repr::Failure { data, .. } => data.as_deref(),
            Repr::Pending => None,
        }
    }

    /// Whether this is a suspension rather than a failure.
    pub fn is_pending(&self) -> bool {
        matches!(self.0, Repr::Pending)
    }

    pub(crate) fn pending() -> Self {
        Error(Repr::Pending)
    }

    pub(crate) fn from_object(object: ErrorObject) -> Self {
        Error(Repr::Failure {
            error_type: object.error_type,
            message: object.error_message,
            data: object.error_data,
        })
    }

    pub(crate) fn into_object(self) -> ErrorObject {
        let (error_type, error_message, error_data) = match self.0 {
            Repr::Failure {
                error_type,
                message,
                data,
            } => (error_type, message, data),
            Repr::Pending => ("Pending".into(), Error::pending().message().into(), None),
        };
        ErrorObject {
            error_type,
            error_message,
            error_data,
            stack_trace: Vec::new(),
        }
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for Error {
    fn from(error: E) -> Self {
        let full = std::any::type_name::<E>();
        let short = full
            .split('<')
            .next()
            .unwrap_or(full)
            .rsplit("::")
            .next()
            .unwrap_or(full);
        Error::new(short, error.to_string())
    }
}

/// An error's recorded form, as AWS's APIs spell it.
#[derive(serde::Serialize, serde::Deserialize)]
struct ErrorShape {
    #[serde(rename = "ErrorType")]
    error_type: String,
    #[serde(rename = "ErrorMessage")]
    error_message: String,
    #[serde(rename = "ErrorData", default, skip_serializing_if = "Option::is_none")]
    error_data: Option<String>,
}

impl serde::Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ErrorShape {
            error_type: self.error_type().to_owned(),
            error_message: self.message().to_owned(),
            error_data: self.data().map(str::to_owned),
        }
        .serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Error {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let shape = ErrorShape::deserialize(deserializer)?;
        Ok(Error(Repr::Failure {
            error_type: shape.error_type,
            message: shape.error_message,
            data: shape.error_data,
        }))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type(), self.message())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
