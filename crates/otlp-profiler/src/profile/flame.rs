//! [`Profile::flamegraph_svg`]: a profile type as an SVG flame graph, drawn by `inferno`
//! from folded stacks.

use super::Profile;
use crate::config::ProfileType;
use crate::error::{Error, Kind};
use std::collections::BTreeMap;

impl Profile {
    /// The folded stacks of `kind`'s main sample type (see
    /// [`top_functions`](Profile::top_functions)): `root;...;leaf value` lines, sorted.
    pub fn folded_stacks(&self, kind: ProfileType) -> Vec<String> {
        let Some(p) = self.main_profile(kind) else {
            return Vec::new();
        };
        let mut folded: BTreeMap<String, i64> = BTreeMap::new();
        for s in &p.samples {
            let mut names = self.stack_names(s.stack_index);
            if names.is_empty() {
                continue;
            }
            names.reverse();
            // `;` separates frames in the folded format; keep names from splitting.
            let line = names
                .iter()
                .map(|n| n.replace(';', ":"))
                .collect::<Vec<_>>()
                .join(";");
            let value = s.values.iter().fold(0i64, |a, v| a.saturating_add(*v));
            *folded.entry(line).or_default() += value;
        }
        folded
            .into_iter()
            .filter(|(_, v)| *v > 0)
            .map(|(stack, v)| format!("{stack} {v}"))
            .collect()
    }

    /// `kind`'s main sample type as an SVG flame graph (roots at the bottom).
    ///
    /// Fails when there is nothing to draw (no samples with a positive value).
    pub fn flamegraph_svg(&self, kind: ProfileType) -> Result<Vec<u8>, Error> {
        let lines = self.folded_stacks(kind);
        if lines.is_empty() {
            return Err(Error::new(
                Kind::Output,
                format!("the {} profile has no samples to draw", kind.name()),
            ));
        }
        let (name, unit) = kind.sample_types().last().copied().unwrap_or(("", ""));
        let mut options = inferno::flamegraph::Options::default();
        options.title = format!("{} profile", kind.name());
        options.count_name = format!("{name} ({unit})");
        let mut svg = Vec::new();
        inferno::flamegraph::from_lines(&mut options, lines.iter().map(String::as_str), &mut svg)
            .map_err(|e| Error::new(Kind::Output, "drawing the flame graph failed").with_source(e))?;
        Ok(svg)
    }
}
