//! A lenient reader of `WWW-Authenticate` values (RFC 9110 §11.6.1) as real L402 servers write them:
//! several challenges in one comma-joined value, parameters with or without commas between them, and values
//! double-quoted, single-quoted or bare.

/// One challenge: its scheme and its parameters in order (names lowercased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthChallenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl AuthChallenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Upper bounds that keep a hostile header from costing more than reading it once.
const MAX_CHALLENGES: usize = 32;
const MAX_PARAMS: usize = 64;

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Reads every challenge in `value`. Parameters before the first scheme, and anything that is not a
/// `name=value` pair, are skipped.
pub fn parse(value: &str) -> Vec<AuthChallenge> {
    let chars: Vec<char> = value.chars().collect();
    let mut i = 0;
    let mut out: Vec<AuthChallenge> = Vec::new();
    while i < chars.len() {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ',') {
            i += 1;
        }
        let start = i;
        // A single quote is a tchar, but here it opens a value, never a name.
        while i < chars.len() && is_tchar(chars[i]) && chars[i] != '\'' {
            i += 1;
        }
        if i == start {
            i += 1; // not a token: skip one character and carry on
            continue;
        }
        let token: String = chars[start..i].iter().collect();
        let mut j = i;
        while j < chars.len() && chars[j] == ' ' {
            j += 1;
        }
        if j < chars.len() && chars[j] == '=' {
            // name=value
            i = j + 1;
            while i < chars.len() && chars[i] == ' ' {
                i += 1;
            }
            let (val, next) = read_value(&chars, i);
            i = next;
            if let Some(current) = out.last_mut()
                && current.params.len() < MAX_PARAMS
            {
                current.params.push((token.to_ascii_lowercase(), val));
            }
        } else {
            if out.len() == MAX_CHALLENGES {
                break;
            }
            out.push(AuthChallenge { scheme: token, params: Vec::new() });
            i = j;
        }
    }
    out
}

fn read_value(chars: &[char], mut i: usize) -> (String, usize) {
    let mut val = String::new();
    match chars.get(i) {
        Some(&q @ ('"' | '\'')) => {
            i += 1;
            while i < chars.len() && chars[i] != q {
                if chars[i] == '\\' && q == '"' && i + 1 < chars.len() {
                    i += 1;
                }
                val.push(chars[i]);
                i += 1;
            }
            (val, i + 1)
        }
        _ => {
            while i < chars.len() && chars[i] != ',' && !chars[i].is_whitespace() {
                val.push(chars[i]);
                i += 1;
            }
            (val, i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_quoted_single_quoted_and_bare_values() {
        let got = parse(r#"L402 macaroon="a/b+c==", invoice='lnbc1', x=bare"#);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].scheme, "L402");
        assert_eq!(got[0].param("macaroon"), Some("a/b+c=="));
        assert_eq!(got[0].param("invoice"), Some("lnbc1"));
        assert_eq!(got[0].param("x"), Some("bare"));
    }

    #[test]
    fn splits_comma_joined_challenges_and_params_without_commas() {
        let got = parse(r#"LSAT macaroon="m1", invoice="i1", L402 version="0" token="t.2" invoice="i2""#);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].scheme, "LSAT");
        assert_eq!(got[1].param("version"), Some("0"));
        assert_eq!(got[1].param("token"), Some("t.2"));
        assert_eq!(got[1].param("invoice"), Some("i2"));
    }

    #[test]
    fn escapes_and_bounds() {
        let got = parse(r#"Basic realm="a \"b\"""#);
        assert_eq!(got[0].param("realm"), Some(r#"a "b""#));
        let many = format!("L402 {}", (0..5000).map(|n| format!("p{n}=v")).collect::<Vec<_>>().join(", "));
        assert_eq!(parse(&many)[0].params.len(), MAX_PARAMS);
        assert!(parse("=,,==\"").is_empty());
    }
}
