//! Credential names: how the fleet config and the credential store refer to a secret.

/// Checks a credential name: one or more of `a-z`, `0-9` and `-`.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the credential name is empty".to_owned());
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        Some(c) => Err(format!(
            "{c:?} is not allowed in a credential name (lowercase letters, digits and '-')"
        )),
        None => Ok(()),
    }
}
