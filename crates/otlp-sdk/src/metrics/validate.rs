//! What the specification allows as an instrument's name and unit ("Instrument name syntax",
//! "Instrument unit"): checked when an instrument is made, so a bad one is reported by name
//! and the instrument still works, as a no-op, instead of panicking or exporting bad data.

use std::fmt;

/// Longest instrument name the specification allows.
pub(crate) const MAX_NAME_LEN: usize = 255;
/// Longest unit the specification allows.
pub(crate) const MAX_UNIT_LEN: usize = 63;

/// Why an instrument's name or unit was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// The name is empty.
    EmptyName,
    /// The name is longer than [`MAX_NAME_LEN`] bytes.
    NameTooLong(String),
    /// The name does not start with an ASCII letter.
    NameStart(String),
    /// The name holds a character other than ASCII letters, digits, `_`, `.`, `-` and `/`.
    NameCharacter(String, char),
    /// The unit is longer than [`MAX_UNIT_LEN`] bytes or not ASCII.
    Unit(String),
    /// A histogram's boundaries cannot be used: the instrument's name and why.
    Boundaries(String, String),
    /// A view selecting the instrument cannot apply to it: why.
    View(String),
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::EmptyName => f.write_str("an instrument name is empty"),
            Invalid::NameTooLong(name) => write!(
                f,
                "instrument name {:?}... is {} bytes, more than {MAX_NAME_LEN}",
                name.chars().take(32).collect::<String>(),
                name.len()
            ),
            Invalid::NameStart(name) => {
                write!(f, "instrument name {name:?} does not start with a letter")
            }
            Invalid::NameCharacter(name, c) => write!(
                f,
                "instrument name {name:?} holds {c:?}: only ASCII letters, digits, '_', '.', '-' \
                 and '/' are allowed"
            ),
            Invalid::Boundaries(name, why) => write!(f, "instrument {name:?}: {why}"),
            Invalid::View(message) => f.write_str(message),
            Invalid::Unit(unit) => write!(
                f,
                "instrument unit {unit:?} is not ASCII of at most {MAX_UNIT_LEN} characters"
            ),
        }
    }
}

impl std::error::Error for Invalid {}

/// Checks an instrument name.
pub(crate) fn name(name: &str) -> Result<(), Invalid> {
    let Some(first) = name.chars().next() else {
        return Err(Invalid::EmptyName);
    };
    if name.len() > MAX_NAME_LEN {
        return Err(Invalid::NameTooLong(name.to_owned()));
    }
    if !first.is_ascii_alphabetic() {
        return Err(Invalid::NameStart(name.to_owned()));
    }
    match name.chars().find(|&c| !name_char(c)) {
        Some(c) => Err(Invalid::NameCharacter(name.to_owned(), c)),
        None => Ok(()),
    }
}

/// Whether `c` may appear in an instrument name.
fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/')
}

/// `name` made a valid instrument name, for bridges from systems that allow any name: each
/// character not allowed becomes `_`; a name not starting with an ASCII letter (an empty one
/// too) gets the prefix `metric_`; the result is cut at 255 bytes. A valid name is returned
/// as is, without allocating.
pub fn valid_instrument_name(name: &str) -> std::borrow::Cow<'_, str> {
    const PREFIX: &str = "metric_";
    let starts_well = name.starts_with(|c: char| c.is_ascii_alphabetic());
    if starts_well && name.len() <= MAX_NAME_LEN && name.chars().all(name_char) {
        return std::borrow::Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + PREFIX.len());
    if !starts_well {
        out.push_str(PREFIX);
    }
    out.extend(name.chars().map(|c| if name_char(c) { c } else { '_' }));
    // Only ASCII is left: cutting at any byte is at a character boundary.
    out.truncate(MAX_NAME_LEN);
    std::borrow::Cow::Owned(out)
}

/// Checks an instrument unit (empty is allowed: no unit).
pub(crate) fn unit(unit: &str) -> Result<(), Invalid> {
    if unit.len() > MAX_UNIT_LEN || !unit.is_ascii() {
        return Err(Invalid::Unit(unit.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_specification() {
        for ok in [
            "a",
            "http.server.request.duration",
            "A_b-c/d.e",
            "x9",
            &"n".repeat(255),
        ] {
            assert_eq!(name(ok), Ok(()), "{ok}");
        }
        assert_eq!(name(""), Err(Invalid::EmptyName));
        assert_eq!(name("9lives"), Err(Invalid::NameStart("9lives".into())));
        assert_eq!(name("_x"), Err(Invalid::NameStart("_x".into())));
        assert_eq!(name("é"), Err(Invalid::NameStart("é".into())));
        assert_eq!(
            name("requests total"),
            Err(Invalid::NameCharacter("requests total".into(), ' '))
        );
        assert_eq!(
            name("temp°c"),
            Err(Invalid::NameCharacter("temp°c".into(), '°'))
        );
        let long = "n".repeat(256);
        assert_eq!(name(&long), Err(Invalid::NameTooLong(long.clone())));
        let message = name(&long).unwrap_err().to_string();
        // Shortened on a character boundary, whatever the characters.
        assert!(
            name(&"é".repeat(200))
                .unwrap_err()
                .to_string()
                .contains("400 bytes")
        );
        assert!(message.contains("256 bytes, more than 255"), "{message}");
        assert!(
            name("a b").unwrap_err().to_string().contains("holds ' '"),
            "the message names the character"
        );
    }

    #[test]
    fn units_are_short_ascii() {
        for ok in ["", "ms", "By", "{request}", "1", &"u".repeat(63)] {
            assert_eq!(unit(ok), Ok(()), "{ok}");
        }
        assert_eq!(unit("µs"), Err(Invalid::Unit("µs".into())));
        assert_eq!(unit(&"u".repeat(64)), Err(Invalid::Unit("u".repeat(64))));
    }
}
