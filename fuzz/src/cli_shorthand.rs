//! The body of the `cli_shorthand` fuzz target: the CLI's parser of structure parameters (the
//! AWS CLI shorthand, or JSON). It lives in the `payhsm` binary, which has no library, so the
//! fuzz crate compiles its file in (`lib.rs`). No input may panic; shorthand gives an object.

/// Feeds `data` (as text, invalid UTF-8 replaced) to the parser.
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let t = text.trim_start();
    if let Ok(value) = crate::shorthand::parse(&text)
        && !(t.starts_with('{') || t.starts_with('[') || t.starts_with('"'))
    {
        assert!(value.is_object());
    }
}
