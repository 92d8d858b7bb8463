//! What the root tables (SPANS, LOGS) share: the `id` column, the `resource` and `scope`
//! struct columns that group rows, and the `schema_url` of the rows' scope.
//!
//! `resource.id` and `scope.id` number the request's resources and scopes (those with rows)
//! in order and are delta encoded, as is `id` (0, 1, 1, ...): the decoder starts a new
//! resource (scope) wherever `resource.id` (`scope.id`) changes. Their strings
//! (`resource.schema_url`, `scope.name`, `scope.version`) are the table stream's first
//! dictionary columns ([`STR_COLUMNS`]): the same few values on every row.

use crate::attrs::ids;
use crate::build::u32s;
use crate::children::ByParent;
use crate::columns::{Column, Columns, Typed, column, read, struct_column};
use crate::dict::{Full, StrColumn};
use crate::{ArrowPayloadType, Error, Result};
use arrow_array::types::UInt32Type;
use arrow_array::{ArrayRef, PrimitiveArray, StringArray, StructArray, UInt16Array};
use arrow_schema::{DataType, Field, Fields};
use otlp_proto::Str;
use otlp_proto::common::{InstrumentationScope, KeyValue};
use otlp_proto::resource::Resource;
use std::sync::Arc;

/// Numbers resources and scopes as the encoder meets them.
#[derive(Default)]
pub(crate) struct Numbering {
    resources: u32,
    scopes: u32,
    rows: u32,
}

fn too_many(what: &str) -> Error {
    Error::TooLarge(format!("more than 65,536 {what} in one batch"))
}

impl Numbering {
    pub(crate) fn resource(&mut self) -> Result<u16> {
        let id = u16::try_from(self.resources).map_err(|_| too_many("resources"))?;
        self.resources += 1;
        Ok(id)
    }

    pub(crate) fn scope(&mut self) -> Result<u16> {
        let id = u16::try_from(self.scopes).map_err(|_| too_many("scopes"))?;
        self.scopes += 1;
        Ok(id)
    }

    /// The next root row's id.
    pub(crate) fn row(&mut self, what: &str) -> Result<u16> {
        let id = u16::try_from(self.rows).map_err(|_| too_many(what))?;
        self.rows += 1;
        Ok(id)
    }
}

/// Where a root row belongs.
#[derive(Clone, Copy)]
pub(crate) struct Place<'a> {
    pub(crate) resource_id: u16,
    pub(crate) resource: Option<&'a Resource>,
    pub(crate) resource_schema_url: &'a str,
    pub(crate) scope_id: u16,
    pub(crate) scope: Option<&'a InstrumentationScope>,
}

/// Tells of each row whether it is in the resource and scope of the row before it: rows come
/// grouped by both, so a row that continues its group repeats the group's strings (see
/// [`StrColumn::append_run`]).
#[derive(Default)]
pub(crate) struct Runs(Option<(u16, u16)>);

impl Runs {
    /// Whether `place` is the previous row's.
    pub(crate) fn continues(&mut self, place: &Place<'_>) -> bool {
        let at = Some((place.resource_id, place.scope_id));
        std::mem::replace(&mut self.0, at) == at
    }
}

/// One row of a root table (a span, log record or metric) and where it belongs.
pub(crate) struct Row<'a, T> {
    pub(crate) place: Place<'a>,
    /// The schema URL of the row's scope.
    pub(crate) scope_schema_url: &'a str,
    pub(crate) item: &'a T,
}

/// How many string columns of the table's stream the grouping uses: `resource.schema_url`,
/// `scope.name`, `scope.version` (the first of [`Table::STR_COLUMNS`](crate::stream::Table)).
/// Dictionary-encoded, a repeated value costs a key; plain, each row adds an offset.
pub(crate) const STR_COLUMNS: usize = 3;

pub(crate) fn resource_fields(dictionary: bool) -> Fields {
    Fields::from(vec![
        Field::new("id", DataType::UInt16, true),
        Field::new("schema_url", StrColumn::data_type(dictionary), true),
        Field::new("dropped_attributes_count", DataType::UInt32, true),
    ])
}

pub(crate) fn scope_fields(dictionary: bool) -> Fields {
    Fields::from(vec![
        Field::new("id", DataType::UInt16, true),
        Field::new("name", StrColumn::data_type(dictionary), true),
        Field::new("version", StrColumn::data_type(dictionary), true),
        Field::new("dropped_attributes_count", DataType::UInt32, true),
    ])
}

/// The `id` field (then `resource`, `scope`) of a root table.
pub(crate) fn fields(dictionary: bool) -> [Field; 3] {
    [
        Field::new("id", DataType::UInt16, true),
        Field::new(
            "resource",
            DataType::Struct(resource_fields(dictionary)),
            true,
        ),
        Field::new("scope", DataType::Struct(scope_fields(dictionary)), true),
    ]
}

/// Appends the grouping's strings of rows at `places` to `strs` (see [`STR_COLUMNS`]).
pub(crate) fn append<'a>(
    places: impl Iterator<Item = Place<'a>>,
    strs: &mut [StrColumn],
    max_bytes: usize,
) -> std::result::Result<(), Full> {
    let [schema_urls, names, versions] = strs else {
        return Err(Full);
    };
    let mut runs = Runs::default();
    for p in places {
        let run = runs.continues(&p);
        schema_urls.append_run(p.resource_schema_url, run, max_bytes)?;
        names.append_run(p.scope.map_or("", |s| &s.name), run, max_bytes)?;
        versions.append_run(p.scope.map_or("", |s| &s.version), run, max_bytes)?;
    }
    Ok(())
}

/// `values` delta-encoded (wrapping at 16 bits).
fn delta_u16(values: impl Iterator<Item = u16>) -> ArrayRef {
    let mut prev = 0u16;
    Arc::new(UInt16Array::from_iter_values(values.map(|v| {
        let d = v.wrapping_sub(prev);
        prev = v;
        d
    })))
}

/// The `id`, `resource` and `scope` columns of rows at `places` (rows numbered 0, 1, ...),
/// their strings finished from `strs` (after [`append`]).
pub(crate) fn columns(places: &[Place<'_>], strs: &mut [StrColumn]) -> Result<[ArrayRef; 3]> {
    let [schema_urls, names, versions] = strs else {
        return Err(Error::TooLarge(
            "the grouping needs three string columns".into(),
        ));
    };
    let dictionary = schema_urls.is_dictionary();
    let p = || places.iter();
    let resource = StructArray::try_new(
        resource_fields(dictionary),
        vec![
            delta_u16(p().map(|r| r.resource_id)),
            schema_urls.finish(),
            u32s(p().map(|r| r.resource.map_or(0, |x| x.dropped_attributes_count))),
        ],
        None,
    )?;
    let scope = StructArray::try_new(
        scope_fields(dictionary),
        vec![
            delta_u16(p().map(|r| r.scope_id)),
            names.finish(),
            versions.finish(),
            u32s(p().map(|r| r.scope.map_or(0, |s| s.dropped_attributes_count))),
        ],
        None,
    )?;
    let ids = Arc::new(UInt16Array::from_iter_values(
        (0..places.len()).map(|i| u16::from(i > 0)),
    ));
    Ok([ids, Arc::new(resource), Arc::new(scope)])
}

/// The column `name` of an optional struct column of a root table.
pub(crate) fn child<'a, A: Typed>(
    s: Option<&'a StructArray>,
    kind: ArrowPayloadType,
    name: &'static str,
) -> Result<Option<Column<'a, A>>> {
    s.map_or(Ok(None), |s| column::<A>(s as &dyn Columns, kind, name))
}

/// A resource or scope that starts at a row.
pub(crate) enum Start {
    /// A new resource (and its schema URL); a new scope follows.
    Resource(Option<Resource>, Str),
    /// A new scope, and the schema URL of its rows.
    Scope(Option<InstrumentationScope>, Str),
}

/// Reads the grouping of a decoded root table.
pub(crate) struct Grouping<'a> {
    kind: ArrowPayloadType,
    /// Each row's own id (for its children), decoded.
    pub(crate) ids: Option<Vec<Option<u32>>>,
    resource_ids: Option<Vec<Option<u32>>>,
    scope_ids: Option<Vec<Option<u32>>>,
    r_schema: Option<Column<'a, StringArray>>,
    r_dropped: Option<Column<'a, PrimitiveArray<UInt32Type>>>,
    s_name: Option<Column<'a, StringArray>>,
    s_version: Option<Column<'a, StringArray>>,
    s_dropped: Option<Column<'a, PrimitiveArray<UInt32Type>>>,
    schema_url: Option<Column<'a, StringArray>>,
    resource_attrs: ByParent<KeyValue>,
    scope_attrs: ByParent<KeyValue>,
    current: Option<(Option<u32>, Option<u32>)>,
}

fn at(v: &Option<Vec<Option<u32>>>, i: usize) -> Option<u32> {
    v.as_ref().and_then(|v| v.get(i).copied().flatten())
}

impl<'a> Grouping<'a> {
    pub(crate) fn new(
        b: &'a dyn Columns,
        kind: ArrowPayloadType,
        resource_attrs: ByParent<KeyValue>,
        scope_attrs: ByParent<KeyValue>,
    ) -> Result<Self> {
        let resource = struct_column(b, kind, "resource")?;
        let scope = struct_column(b, kind, "scope")?;
        let struct_ids = |s: Option<&StructArray>| -> Result<Option<Vec<Option<u32>>>> {
            Ok(match s {
                Some(s) => ids(s as &dyn Columns, kind, "id")?.map(|i| i.undelta()),
                None => None,
            })
        };
        Ok(Grouping {
            kind,
            ids: ids(b, kind, "id")?.map(|i| i.undelta()),
            resource_ids: struct_ids(resource)?,
            scope_ids: struct_ids(scope)?,
            r_schema: child(resource, kind, "schema_url")?,
            r_dropped: child(resource, kind, "dropped_attributes_count")?,
            s_name: child(scope, kind, "name")?,
            s_version: child(scope, kind, "version")?,
            s_dropped: child(scope, kind, "dropped_attributes_count")?,
            schema_url: column(b, kind, "schema_url")?,
            resource_attrs,
            scope_attrs,
            current: None,
        })
    }

    /// What starts at row `i` (rows visited in order): a resource then a scope, a scope, or
    /// nothing (`None`, the row continues the current scope).
    pub(crate) fn starts(&mut self, i: usize) -> Vec<Start> {
        let (rid, sid) = (at(&self.resource_ids, i), at(&self.scope_ids, i));
        let mut out = Vec::new();
        let new_resource = self.current.is_none_or(|(r, _)| r != rid);
        if new_resource {
            let res = Resource {
                attributes: self.resource_attrs.get(rid).to_vec(),
                dropped_attributes_count: read(&self.r_dropped, i),
                entity_refs: Vec::new(),
            };
            out.push(Start::Resource(
                (res != Resource::default()).then_some(res),
                Str::copy_from(read(&self.r_schema, i)),
            ));
        }
        if new_resource || self.current.is_some_and(|(_, s)| s != sid) {
            let sc = InstrumentationScope {
                name: Str::copy_from(read(&self.s_name, i)),
                version: Str::copy_from(read(&self.s_version, i)),
                attributes: self.scope_attrs.get(sid).to_vec(),
                dropped_attributes_count: read(&self.s_dropped, i),
            };
            out.push(Start::Scope(
                (sc != InstrumentationScope::default()).then_some(sc),
                Str::copy_from(read(&self.schema_url, i)),
            ));
        }
        self.current = Some((rid, sid));
        out
    }

    /// Row `i`'s own id.
    pub(crate) fn id(&self, i: usize) -> Option<u32> {
        at(&self.ids, i)
    }

    /// An error for a row found outside any scope (cannot happen: the first row starts one).
    pub(crate) fn orphan(&self) -> Error {
        Error::Value {
            table: self.kind,
            problem: "a row outside any resource or scope".into(),
        }
    }
}
