//! Password redaction for connection URLs, so they can go into errors and logs.

/// Query parameters that carry a password (`redis+unix:///sock?pass=...` in the redis driver).
const SECRET_PARAMS: [&str; 2] = ["pass", "password"];

/// What a redacted secret is replaced with.
const MASK: &str = "***";

/// Returns `url` with any password replaced by `***`, for error messages and logs.
///
/// Handles the password in the userinfo (`redis://user:secret@host`, `redis://:secret@host`)
/// and in `pass` / `password` query parameters (`redis+unix:///run/redis.sock?pass=secret`).
/// The user name, host, port, path and other parameters are kept.
///
/// It errs towards hiding: the userinfo ends at the *last* `@`, so a password with a raw `@`,
/// `/` or `?` is hidden whole (along with anything it swallows), a query password runs to the
/// next `&key=value` parameter, and the two passes are independent so that neither hides a
/// secret from the other. Input without either form comes back unchanged.
///
/// # Examples
///
/// ```
/// use fastllm_connpool::redact_url;
///
/// assert_eq!(redact_url("redis://:hunter2@10.0.0.5:6379/0"), "redis://:***@10.0.0.5:6379/0");
/// assert_eq!(redact_url("rediss://app:s3cr3t@cache:6380"), "rediss://app:***@cache:6380");
/// assert_eq!(
///     redact_url("redis+unix:///run/redis.sock?db=1&pass=s3cr3t"),
///     "redis+unix:///run/redis.sock?db=1&pass=***"
/// );
/// assert_eq!(redact_url("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
/// ```
#[must_use]
pub fn redact_url(url: &str) -> String {
    mask_query_secrets(&mask_userinfo_password(url))
}

/// `scheme://user:secret@rest` -> `scheme://user:***@rest`, splitting at the last `@`.
fn mask_userinfo_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let (scheme, rest) = url.split_at(scheme_end + 3);
    let Some(at) = rest.rfind('@') else {
        return url.to_owned();
    };
    let (userinfo, after) = rest.split_at(at);
    // A user name alone (no ':') is not a secret.
    let Some(colon) = userinfo.find(':') else {
        return url.to_owned();
    };
    format!("{scheme}{}{MASK}{after}", &userinfo[..=colon])
}

/// Masks the values of password parameters after the first `?`. A value runs to the next
/// `&` that starts a `key=value` parameter, so a raw `&` inside a password does not expose
/// the rest of it.
fn mask_query_secrets(url: &str) -> String {
    let Some(query_start) = url.find('?') else {
        return url.to_owned();
    };
    let (before, query) = url.split_at(query_start + 1);
    let mut out = String::with_capacity(url.len());
    out.push_str(before);
    let mut first = true;
    let mut in_secret = false;
    for pair in query.split('&') {
        let key = pair.split_once('=').map(|(key, _)| key);
        if in_secret && key.is_none() {
            continue; // still the secret value, already masked
        }
        in_secret =
            key.is_some_and(|key| SECRET_PARAMS.iter().any(|s| key.eq_ignore_ascii_case(s)));
        if !first {
            out.push('&');
        }
        first = false;
        match key {
            Some(key) if in_secret => {
                out.push_str(key);
                out.push('=');
                out.push_str(MASK);
            }
            _ => out.push_str(pair),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn userinfo_password_is_masked() {
        assert_eq!(
            redact_url("redis://user:pw@localhost:6379/2"),
            "redis://user:***@localhost:6379/2"
        );
        assert_eq!(
            redact_url("redis://:pw@localhost"),
            "redis://:***@localhost"
        );
    }

    #[test]
    fn password_with_special_characters_is_masked_whole() {
        assert_eq!(
            redact_url("redis://u:p@ss:w0rd@host:1/0"),
            "redis://u:***@host:1/0"
        );
        assert_eq!(redact_url("redis://u:a%40b@host"), "redis://u:***@host");
    }

    #[test]
    fn at_sign_in_query_password_does_not_hide_it_from_the_query_pass() {
        assert_eq!(
            redact_url("redis+unix:///s?db=0&pass=@&protocol=resp3"),
            "redis+unix:///s?db=0&pass=***&protocol=resp3"
        );
        assert_eq!(
            redact_url("redis+unix:///s?pass=x:y@z"),
            "redis+unix:///s?pass=***"
        );
        assert_eq!(
            redact_url("redis://u:pa/ss?x@host/0"),
            "redis://u:***@host/0"
        );
    }

    #[test]
    fn username_alone_is_kept() {
        assert_eq!(redact_url("redis://alice@host"), "redis://alice@host");
    }

    #[test]
    fn query_passwords_are_masked() {
        assert_eq!(
            redact_url("redis+unix:///tmp/r.sock?user=a&pass=b&db=3"),
            "redis+unix:///tmp/r.sock?user=a&pass=***&db=3"
        );
        assert_eq!(
            redact_url("redis://h/?PASSWORD=x#frag"),
            "redis://h/?PASSWORD=***"
        );
        assert_eq!(
            redact_url("redis+unix:///s?pass=a&b&db=2"),
            "redis+unix:///s?pass=***&db=2"
        );
        assert_eq!(
            redact_url("redis://h/?protocol=resp3"),
            "redis://h/?protocol=resp3"
        );
    }

    #[test]
    fn no_url_no_change() {
        assert_eq!(redact_url(""), "");
        assert_eq!(redact_url("not a url"), "not a url");
        assert_eq!(redact_url("redis://"), "redis://");
    }
}
