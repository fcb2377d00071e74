//! How an operation's result is written into the journal and read back.
//! JSON through serde by default ([`Json`]); a [`Serdes`] of your own
//! records any text (a format of your own, a compressed or encrypted
//! form), as AWS's SDKs' custom serdes do.

use crate::Error;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Writes values of `T` as the text the journal keeps, and reads them back
/// on replay. `deserialize(serialize(v))` must give `v` back: replay
/// returns what `deserialize` makes of the record, and the first run
/// returns the same, so both see one value.
pub trait Serdes<T> {
    fn serialize(&self, value: &T) -> Result<String, Error>;
    fn deserialize(&self, text: &str) -> Result<T, Error>;
}

/// JSON, through serde: what every operation records unless told otherwise.
#[derive(Clone, Copy, Debug, Default)]
pub struct Json;

impl Json {
    /// `value` as JSON text.
    pub fn to_text<T: Serialize + ?Sized>(value: &T) -> Result<String, Error> {
        serde_json::to_string(value).map_err(|error| {
            Error::new(
                "SerializationError",
                format!("the result cannot be serialized: {error}"),
            )
        })
    }

    /// JSON text read as a `T`.
    pub fn from_text<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
        serde_json::from_str(text).map_err(|error| {
            Error::new(
                "SerializationError",
                format!("the recorded result does not fit the type asked for: {error}"),
            )
        })
    }
}

impl<T: Serialize + DeserializeOwned> Serdes<T> for Json {
    fn serialize(&self, value: &T) -> Result<String, Error> {
        Json::to_text(value)
    }

    fn deserialize(&self, text: &str) -> Result<T, Error> {
        Json::from_text(text)
    }
}
