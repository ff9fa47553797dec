//! What must never pass the hub: Dutch citizen service numbers (BSN) in
//! free text, and identifying values in a case reference.

use super::Invalid;

/// Whether nine digits pass the BSN 11-test (elfproef): 9·d1 + 8·d2 + … +
/// 2·d8 − d9 is divisible by 11, and the number is not all zeros.
pub fn passes_eleven_test(digits: &[u8; 9]) -> bool {
    let weighted: i32 = digits[..8]
        .iter()
        .zip((2..=9).rev())
        .map(|(d, w)| i32::from(*d) * w)
        .sum::<i32>()
        - i32::from(digits[8]);
    digits.iter().any(|d| *d != 0) && weighted % 11 == 0
}

/// The value of a Unicode decimal digit (general category Nd: ASCII,
/// full-width, Arabic-Indic, Devanagari, …), or `None` for anything else.
/// Unicode lays every Nd range out as whole runs of 0–9 starting at zero,
/// so a digit's value is its distance from the start of its run, mod 10.
fn decimal_digit(c: char) -> Option<u8> {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    let is_digit = |c: char| c.general_category() == GeneralCategory::DecimalNumber;
    if c.is_ascii_digit() {
        return Some(c as u8 - b'0');
    }
    if !is_digit(c) {
        return None;
    }
    let mut start = c as u32;
    while let Some(before) = start.checked_sub(1).and_then(char::from_u32) {
        if !is_digit(before) {
            break;
        }
        start -= 1;
    }
    Some(((c as u32 - start) % 10) as u8)
}

/// Groups of digits in `text` joined by runs of separators: anything that
/// is neither a letter nor a digit (spaces of every kind, line breaks,
/// tabs, dots, dashes, slashes, commas, …, repeated and mixed). A letter
/// ends the chain. "111 - 222\n333" is one chain of three groups.
fn digit_chains(text: &str) -> Vec<Vec<Vec<u8>>> {
    let mut chains: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut chain: Vec<Vec<u8>> = Vec::new();
    let mut group: Vec<u8> = Vec::new();
    for c in text.chars() {
        if let Some(d) = decimal_digit(c) {
            group.push(d);
        } else if !c.is_alphanumeric() {
            if !group.is_empty() {
                chain.push(std::mem::take(&mut group));
            }
        } else {
            if !group.is_empty() {
                chain.push(std::mem::take(&mut group));
            }
            if !chain.is_empty() {
                chains.push(std::mem::take(&mut chain));
            }
        }
    }
    if !group.is_empty() {
        chain.push(group);
    }
    if !chain.is_empty() {
        chains.push(chain);
    }
    chains
}

/// Whether `text` contains a number that is a valid BSN: nine digits, with or
/// without separators, that pass the 11-test. Longer digit runs (phone
/// numbers, IBANs) are not split to find one.
pub fn contains_bsn(text: &str) -> bool {
    digit_chains(text).iter().any(|chain| {
        (0..chain.len()).any(|start| {
            let mut digits = Vec::new();
            chain[start..].iter().any(|group| {
                digits.extend_from_slice(group);
                digits.len() == 9
                    && <[u8; 9]>::try_from(digits.as_slice()).is_ok_and(|d| passes_eleven_test(&d))
            })
        })
    })
}

/// Free text that has been checked for a BSN: question, notes, messages,
/// decline reasons. 1 to 10,000 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeText(String);

impl FreeText {
    pub const MAX_CHARS: usize = 10_000;

    /// The error never repeats the number it found.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(Invalid::new("must not be empty"));
        }
        if text.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::new(format!(
                "must be at most {} characters",
                Self::MAX_CHARS
            )));
        }
        if contains_bsn(text) {
            return Err(Invalid::new(
                "contains what looks like a citizen service number (BSN); BSNs may not pass through the hub",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A pseudonymous case reference chosen by the filer: 3 to 64 letters,
/// digits, '-', '_' or '/', and nothing that looks like a BSN, a date of
/// birth or an e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CaseReference(String);

impl CaseReference {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.contains('@') {
            return Err(Invalid::new("must not be an e-mail address"));
        }
        if !(3..=64).contains(&raw.len())
            || !raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/'))
        {
            return Err(Invalid::new(
                "must be 3 to 64 letters, digits, '-', '_' or '/'",
            ));
        }
        let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
        if digits.len() == 9 || contains_bsn(raw) {
            return Err(Invalid::new("must not be a citizen service number (BSN)"));
        }
        if looks_like_date(raw) {
            return Err(Invalid::new("must not be a date of birth"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// dd-mm-yyyy, yyyy-mm-dd, dd/mm/yyyy and ddmmyyyy, with plausible values.
fn looks_like_date(raw: &str) -> bool {
    let groups: Vec<&str> = raw
        .split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .collect();
    let plausible = |day: u32, month: u32, year: u32| {
        (1..=31).contains(&day) && (1..=12).contains(&month) && (1900..=2100).contains(&year)
    };
    let number = |g: &str| g.parse::<u32>().unwrap_or(0);
    groups.windows(3).any(|w| {
        let (a, b, c) = (number(w[0]), number(w[1]), number(w[2]));
        (w[2].len() == 4 && plausible(a, b, c)) || (w[0].len() == 4 && plausible(c, b, a))
    }) || groups.iter().any(|g| {
        g.len() == 8 && {
            let (d, m, y) = (number(&g[0..2]), number(&g[2..4]), number(&g[4..8]));
            let (y2, m2, d2) = (number(&g[0..4]), number(&g[4..6]), number(&g[6..8]));
            plausible(d, m, y) || plausible(d2, m2, y2)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 111222333 and 123456782 pass the 11-test; 123456789 does not.
    #[test]
    fn the_eleven_test_tells_valid_from_invalid_numbers() {
        assert!(passes_eleven_test(&[1, 1, 1, 2, 2, 2, 3, 3, 3]));
        assert!(passes_eleven_test(&[1, 2, 3, 4, 5, 6, 7, 8, 2]));
        assert!(!passes_eleven_test(&[1, 2, 3, 4, 5, 6, 7, 8, 9]));
        assert!(!passes_eleven_test(&[0; 9]));
    }

    #[test]
    fn a_bsn_is_found_with_or_without_separators() {
        for text in [
            "bsn 123456782",
            "BSN: 1234.56.782 van de jeugdige",
            "123 456 782",
            "12-34-56-782",
            "geboren 2009, 111222333",
            "(111222333)",
            "111 - 222 - 333",
            "111 222  333",
            "111\n222\n333",
            "111\t222\t333",
            "111\r\n222 / 333",
            "111_222,333",
            "111\u{a0}222\u{2009}333",
            "１１１２２２３３３",
            "\u{661}\u{661}\u{661}\u{662}\u{662}\u{662}\u{663}\u{663}\u{663}",
        ] {
            assert!(contains_bsn(text), "{text}");
        }
    }

    #[test]
    fn nine_digits_failing_the_eleven_test_and_longer_numbers_pass() {
        for text in [
            "dossier 123456789",
            "bel 0612345678",
            "IBAN NL91ABNA0417164300",
            "12 kinderen, 3 groepen, 2024",
            "postcode 2011 AB",
        ] {
            assert!(!contains_bsn(text), "{text}");
        }
    }

    /// Nine digits of a valid BSN from eight random ones, or `None` when no
    /// check digit makes them pass.
    fn valid_bsn(first: [u8; 8]) -> Option<[u8; 9]> {
        let weighted: u32 = first
            .iter()
            .zip((2..=9).rev())
            .map(|(d, w)| u32::from(*d) * w)
            .sum();
        let check = (weighted % 11) as u8;
        let mut digits = [0; 9];
        digits[..8].copy_from_slice(&first);
        digits[8] = check;
        (check < 10 && passes_eleven_test(&digits)).then_some(digits)
    }

    /// Digit zeros of a few scripts a BSN might be typed or pasted in.
    const ZEROS: [char; 5] = ['0', '\u{ff10}', '\u{660}', '\u{966}', '\u{1d7ce}'];
    const SEPARATORS: [char; 14] = [
        ' ', '\t', '\n', '\r', '-', '.', '/', ',', '_', '\u{a0}', '\u{2009}', '\u{202f}',
        '\u{2013}', '\u{3000}',
    ];

    proptest::proptest! {
        #[test]
        fn a_valid_bsn_in_any_layout_is_found(
            first in proptest::array::uniform8(0u8..10),
            scripts in proptest::array::uniform9(0usize..ZEROS.len()),
            gaps in proptest::collection::vec(proptest::collection::vec(0usize..SEPARATORS.len(), 0..4), 8),
            before in "[a-zA-Zéë ]{0,20}",
            after in "[a-zA-Zéë ]{0,20}",
        ) {
            let Some(digits) = valid_bsn(first) else { return Ok(()) };
            let mut text = format!("{before} ");
            for (i, d) in digits.iter().enumerate() {
                text.push(char::from_u32(ZEROS[scripts[i]] as u32 + u32::from(*d)).unwrap());
                if let Some(gap) = gaps.get(i) {
                    text.extend(gap.iter().map(|s| SEPARATORS[*s]));
                }
            }
            text.push(' ');
            text.push_str(&after);
            proptest::prop_assert!(contains_bsn(&text), "{:?}", text);
            let error = FreeText::parse(&text).unwrap_err();
            proptest::prop_assert!(!error.0.chars().any(|c| decimal_digit(c).is_some()));
        }
    }

    #[test]
    fn free_text_with_a_bsn_is_refused_without_repeating_it() {
        let error = FreeText::parse("het BSN is 123456782").unwrap_err();
        assert!(!error.0.contains("123456782"));
        assert_eq!(
            FreeText::parse(" vraag over plaatsing ").unwrap().as_str(),
            "vraag over plaatsing"
        );
        assert!(FreeText::parse("   ").is_err());
    }

    #[test]
    fn a_case_reference_is_no_bsn_date_of_birth_or_e_mail() {
        assert!(CaseReference::parse("RET-2026-0042").is_ok());
        assert!(CaseReference::parse("123456782").is_err());
        assert!(CaseReference::parse("123456789").is_err());
        assert!(CaseReference::parse("14-03-2011").is_err());
        assert!(CaseReference::parse("2011-03-14").is_err());
        assert!(CaseReference::parse("14032011").is_err());
        assert!(CaseReference::parse("jan@example.nl").is_err());
        assert!(CaseReference::parse("a b").is_err());
    }
}
