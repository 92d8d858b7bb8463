//! The types of the [`crate::registry`] tables.

/// How settled a convention is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stability {
    /// `stable`: always available.
    Stable,
    /// `release_candidate`: needs the `experimental` feature.
    ReleaseCandidate,
    /// `development` (and the older `experimental`/`alpha`): needs the `experimental` feature.
    Development,
}

/// The value type of an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttributeType {
    /// A string.
    String,
    /// A 64-bit integer.
    Int,
    /// A double.
    Double,
    /// A boolean.
    Boolean,
    /// Any value, including maps.
    Any,
    /// An array of strings.
    StringArray,
    /// An array of integers.
    IntArray,
    /// An array of doubles.
    DoubleArray,
    /// An array of booleans.
    BooleanArray,
    /// A string from a list of well-known values (the enum's module holds them).
    StringEnum,
    /// An integer from a list of well-known values.
    IntEnum,
}

/// One registry attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttributeInfo {
    /// The key, or for a template the key's prefix (`http.request.header`).
    pub key: &'static str,
    /// The value type.
    pub ty: AttributeType,
    /// Whether the key is a template (`<key>.<suffix>`).
    pub template: bool,
    /// Stability.
    pub stability: Stability,
    /// The deprecation note, if deprecated.
    pub deprecated: Option<&'static str>,
    /// The replacement's key, if the attribute was renamed.
    pub renamed_to: Option<&'static str>,
}

/// The value of an enum member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnumValue {
    /// A string value.
    Str(&'static str),
    /// An integer value.
    Int(i64),
}

/// One member of an enum attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnumMemberInfo {
    /// The attribute's key.
    pub attribute: &'static str,
    /// The member's id in the model.
    pub id: &'static str,
    /// Its value.
    pub value: EnumValue,
    /// Stability.
    pub stability: Stability,
    /// Whether it is deprecated.
    pub deprecated: bool,
}

/// A metric instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Instrument {
    /// Monotonic sum.
    Counter,
    /// Non-monotonic sum.
    UpDownCounter,
    /// Distribution.
    Histogram,
    /// Last value.
    Gauge,
}

/// One metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricInfo {
    /// The metric name.
    pub name: &'static str,
    /// Its instrument.
    pub instrument: Instrument,
    /// Its UCUM unit.
    pub unit: &'static str,
    /// Stability.
    pub stability: Stability,
    /// The deprecation note, if deprecated.
    pub deprecated: Option<&'static str>,
    /// The replacement's name, if the metric was renamed.
    pub renamed_to: Option<&'static str>,
}

/// One event, span or entity definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupInfo {
    /// Event name, span type or entity type.
    pub name: &'static str,
    /// Stability.
    pub stability: Stability,
    /// Whether it is deprecated.
    pub deprecated: bool,
}
