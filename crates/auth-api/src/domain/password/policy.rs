//! Which passwords are refused at signup: the common ones and their obvious variations.

use std::collections::HashSet;
use std::sync::LazyLock;

/// The most common passwords (and common base words), one per line, lower-case.
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

/// Whether `password` is (case-insensitively) a common password, a common base word followed by
/// a short run of digits or symbols (`Password1234!`), or a common word repeated.
pub fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    if COMMON.contains(lower.as_str()) {
        return true;
    }
    let base = lower
        .trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation() || c == ' ');
    let suffix_len = lower.len() - base.len();
    if !base.is_empty() && suffix_len <= 6 && COMMON.contains(base) {
        return true;
    }
    // A word repeated (`monkeymonkey`, `abcabcabcabc`).
    let chars: Vec<char> = lower.chars().collect();
    (1..=chars.len() / 2)
        .any(|n| chars.len().is_multiple_of(n) && chars.chunks(n).all(|c| c == &chars[..n]))
}

#[cfg(test)]
mod tests {
    use super::is_common;

    #[test]
    fn common_passwords_are_refused_case_insensitively() {
        assert!(is_common("Password1234"));
        assert!(is_common("QWERTYUIOPAS"));
        assert!(is_common("monkeymonkey"));
        assert!(is_common("iloveyou2024!"));
        assert!(is_common("abcabcabcabc"));
    }

    #[test]
    fn uncommon_passwords_pass() {
        assert!(!is_common("correct horse battery"));
        assert!(!is_common("glacier-mosaic-71-tundra"));
        assert!(!is_common("monkey83749201xq"));
    }
}
