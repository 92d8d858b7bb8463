//! OTLP/JSON: the protobuf JSON mapping with OTLP's exceptions (hex trace and span ids, integer
//! enums, 64-bit integers as decimal strings).

mod read;
mod write;

pub use read::JsonReader;
pub use write::JsonWriter;
