//! Turning the model's Markdown into rustdoc-safe doc comments.
//!
//! rustdoc reads doc comments as Markdown and lints them: a bare `[word]` is taken for an
//! intra-doc link, `<key>` for an unclosed HTML tag, a bare URL is flagged, and an untagged code
//! block is compiled as a doctest. So, outside code spans and code blocks, stray brackets and `<`
//! are escaped, bare URLs become autolinks, links relative to the semantic-conventions repository
//! become absolute, and code blocks are tagged `text`.

/// Renders `text` as doc-comment lines (without the `///` prefix). `repo_base` is the URL that
/// links starting with `/` are relative to.
pub fn doc_lines(text: &str, repo_base: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fence: Option<String> = None;
    for raw in text.lines() {
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if let Some(marker) = &fence {
            if trimmed.starts_with(marker.as_str()) {
                fence = None;
            }
            out.push(line.to_owned());
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            let marker: String = trimmed
                .chars()
                .take_while(|c| *c == '`' || *c == '~')
                .collect();
            let lang = trimmed[marker.len()..].trim();
            let indent = &line[..line.len() - trimmed.len()];
            let lang = if lang.is_empty() || lang == "rust" {
                "text"
            } else {
                lang
            };
            out.push(format!("{indent}{marker}{lang}"));
            fence = Some(marker);
            continue;
        }
        out.push(inline(line, repo_base));
    }
    if fence.is_some() {
        out.push("```".to_owned());
    }
    // An indented line after a blank one would be an indented code block, hence a doctest:
    // keep list continuations, flatten anything else.
    let mut prev_blank = true;
    let mut in_list = false;
    for line in &mut out {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.is_empty() {
            prev_blank = true;
            continue;
        }
        let is_item = trimmed.starts_with("- ")
            || trimmed.starts_with("* ")
            || trimmed
                .split_once(". ")
                .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if indent == 0 {
            in_list = is_item;
        }
        if indent >= 4 && prev_blank && !in_list && !trimmed.starts_with("```") {
            *line = trimmed.to_owned();
        }
        prev_blank = false;
    }
    out
}

/// Escapes one line outside code blocks.
fn inline(line: &str, repo_base: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut rest = line;
    while !rest.is_empty() {
        if rest.starts_with('`') {
            let ticks = rest.chars().take_while(|c| *c == '`').count();
            let delim = &rest[..ticks];
            if let Some(end) = rest[ticks..].find(delim) {
                let span = &rest[..ticks + end + ticks];
                out.push_str(span);
                rest = &rest[span.len()..];
            } else {
                for _ in 0..ticks {
                    out.push_str("\\`");
                }
                rest = &rest[ticks..];
            }
            continue;
        }
        if rest.starts_with('[')
            && let Some((text, url, len)) = link(rest)
        {
            match fix_url(url, repo_base) {
                Some(u) => {
                    out.push('[');
                    out.push_str(&plain(text));
                    out.push_str("](");
                    out.push_str(&u);
                    out.push(')');
                }
                None => out.push_str(&plain(text)),
            }
            rest = &rest[len..];
            continue;
        }
        if rest.starts_with("http://") || rest.starts_with("https://") {
            let end = rest
                .find(|c: char| c.is_whitespace() || "<>\"'`)]".contains(c))
                .unwrap_or(rest.len());
            let url = rest[..end].trim_end_matches(['.', ',', ';', ':']);
            out.push('<');
            out.push_str(url);
            out.push('>');
            rest = &rest[url.len()..];
            continue;
        }
        if rest.starts_with('<')
            && (rest[1..].starts_with("http://") || rest[1..].starts_with("https://"))
            && let Some(end) = rest.find('>')
        {
            out.push_str(&rest[..=end]);
            rest = &rest[end + 1..];
            continue;
        }
        let c = rest.chars().next().unwrap_or_default();
        out.push_str(&escape_char(c));
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn escape_char(c: char) -> String {
    match c {
        '[' | ']' | '<' => format!("\\{c}"),
        c => c.to_string(),
    }
}

/// Escapes link text (no code spans or links inside it, in this model).
fn plain(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '[' | ']' | '<' => format!("\\{c}"),
            c => c.to_string(),
        })
        .collect()
}

/// Parses `[text](url)` at the start of `s`: text, url and the length consumed.
fn link(s: &str) -> Option<(&str, &str, usize)> {
    let close = s.find(']')?;
    let text = &s[1..close];
    if text.contains('[') {
        return None;
    }
    let after = &s[close + 1..];
    let url_part = after.strip_prefix('(')?;
    let end = url_part.find(')')?;
    let url = &url_part[..end];
    if url.contains(char::is_whitespace) {
        return None;
    }
    Some((text, url, close + 1 + 1 + end + 1))
}

/// Makes a link target absolute; `None` drops the link and keeps its text.
fn fix_url(url: &str, repo_base: &str) -> Option<String> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Some(url.to_owned())
    } else if url.starts_with('/') {
        Some(format!("{repo_base}{url}"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_outside_code_only() {
        let base = "https://x.test";
        assert_eq!(
            inline("a [b] `<c>` <key> see https://e.test/p.", base),
            "a \\[b\\] `<c>` \\<key> see <https://e.test/p>."
        );
        assert_eq!(
            inline("[doc](/docs/a.md#b) and [rel](../x.md)", base),
            "[doc](https://x.test/docs/a.md#b) and rel"
        );
        assert_eq!(
            doc_lines("```\nfn x\n```", base),
            vec!["```text", "fn x", "```"]
        );
    }
}
