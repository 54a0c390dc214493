//! AWS Query protocol input: parameters merged from the URL query string and an
//! `application/x-www-form-urlencoded` body, plus the `Name.member.N[.Field]` list encoding.
//!
//! `form_urlencoded` does the percent-decoding; what it cannot do (merging the two sources, list members,
//! rejecting bodies that are not forms) lives here. This module is the fuzz target `query`.

use std::collections::BTreeMap;

/// Why a request's parameters could not be read. Always the caller's fault (a 4xx).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The body has a content type the Query protocol does not use.
    #[error(
        "unsupported Content-Type `{0}`: the AWS Query protocol sends parameters as \
         application/x-www-form-urlencoded"
    )]
    UnsupportedContentType(String),
    /// A parameter appears twice with different values.
    #[error("parameter `{0}` is given more than once with different values")]
    Conflicting(String),
    /// A list index is not a positive integer.
    #[error("parameter `{0}` has an invalid list index: list members are numbered from 1")]
    BadIndex(String),
}

/// The parameters of one Query-protocol request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryParams {
    values: BTreeMap<String, String>,
}

/// Parses the raw query string (without `?`) and the body. A body is read as a form when the content type is
/// absent or `application/x-www-form-urlencoded` (any parameters); an empty body is always fine.
pub fn parse(
    query: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<QueryParams, QueryError> {
    let mut params = QueryParams::default();
    if let Some(query) = query {
        params.extend(form_urlencoded::parse(query.as_bytes()))?;
    }
    if !body.is_empty() {
        if let Some(content_type) = content_type {
            let essence = content_type
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            if essence != "application/x-www-form-urlencoded" {
                return Err(QueryError::UnsupportedContentType(truncate(
                    content_type,
                    100,
                )));
            }
        }
        params.extend(form_urlencoded::parse(body))?;
    }
    Ok(params)
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

impl QueryParams {
    fn extend<'a>(
        &mut self,
        pairs: impl Iterator<Item = (std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>)>,
    ) -> Result<(), QueryError> {
        for (key, value) in pairs {
            if key.is_empty() {
                continue;
            }
            match self.values.get(key.as_ref()) {
                // A repeated parameter with the same value is harmless (some clients repeat Version).
                Some(existing) if existing == value.as_ref() => {}
                Some(_) => return Err(QueryError::Conflicting(truncate(&key, 100))),
                None => {
                    self.values.insert(key.into_owned(), value.into_owned());
                }
            }
        }
        Ok(())
    }

    /// One scalar parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// All parameters, sorted by name.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// All parameter names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// A list of scalars: `Name.member.1`, `Name.member.2`, ... ordered by index.
    pub fn list(&self, name: &str) -> Result<Option<Vec<String>>, QueryError> {
        let prefix = format!("{name}.member.");
        let mut items: Vec<(u32, String)> = Vec::new();
        for (key, value) in self.values.range(prefix.clone()..) {
            let Some(rest) = key.strip_prefix(&prefix) else {
                break;
            };
            let index =
                parse_index(rest).ok_or_else(|| QueryError::BadIndex(truncate(key, 100)))?;
            items.push((index, value.clone()));
        }
        if items.is_empty() {
            // `Name=` with an empty value is how the Query protocol spells an explicitly empty list.
            return Ok(self.get(name).filter(|v| v.is_empty()).map(|_| Vec::new()));
        }
        items.sort_by_key(|(index, _)| *index);
        Ok(Some(items.into_iter().map(|(_, value)| value).collect()))
    }

    /// A list of structures: `Name.member.N.Field`, grouped by N and ordered by index. Each entry maps the
    /// field names to values.
    pub fn structs(&self, name: &str) -> Result<Option<Vec<BTreeMap<String, String>>>, QueryError> {
        let prefix = format!("{name}.member.");
        let mut items: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
        for (key, value) in self.values.range(prefix.clone()..) {
            let Some(rest) = key.strip_prefix(&prefix) else {
                break;
            };
            let (index, field) = rest
                .split_once('.')
                .ok_or_else(|| QueryError::BadIndex(truncate(key, 100)))?;
            let index =
                parse_index(index).ok_or_else(|| QueryError::BadIndex(truncate(key, 100)))?;
            items
                .entry(index)
                .or_default()
                .insert(field.to_owned(), value.clone());
        }
        if items.is_empty() {
            return Ok(self.get(name).filter(|v| v.is_empty()).map(|_| Vec::new()));
        }
        Ok(Some(items.into_values().collect()))
    }
}

fn parse_index(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 9 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|n| *n >= 1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn merges_query_string_and_form_body() {
        let params = parse(
            Some("Action=GetRole&Version=2010-05-08"),
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            b"RoleName=deploy%2Bprod&Version=2010-05-08",
        )
        .unwrap();
        assert_eq!(params.get("Action"), Some("GetRole"));
        assert_eq!(params.get("RoleName"), Some("deploy+prod"));
        assert_eq!(params.names().count(), 3);
    }

    #[test]
    fn plus_in_a_form_is_a_space() {
        let params = parse(None, None, b"Description=a+b").unwrap();
        assert_eq!(params.get("Description"), Some("a b"));
    }

    #[test]
    fn conflicting_duplicates_are_rejected() {
        let error = parse(Some("Action=GetRole"), None, b"Action=DeleteRole").unwrap_err();
        assert_eq!(error, QueryError::Conflicting("Action".into()));
    }

    #[test]
    fn non_form_bodies_are_rejected() {
        let error = parse(None, Some("application/json"), b"{}").unwrap_err();
        assert!(matches!(error, QueryError::UnsupportedContentType(_)));
        // An empty body with any content type is fine (GET requests).
        assert!(parse(Some("Action=X"), Some("application/json"), b"").is_ok());
    }

    #[test]
    fn lists_are_ordered_by_numeric_index() {
        let params = parse(
            None,
            None,
            b"L.member.10=j&L.member.2=b&L.member.1=a&Other.member.1=x",
        )
        .unwrap();
        assert_eq!(
            params.list("L").unwrap(),
            Some(vec!["a".into(), "b".into(), "j".into()])
        );
        assert_eq!(params.list("Missing").unwrap(), None);
        let params = parse(None, None, b"L=").unwrap();
        assert_eq!(params.list("L").unwrap(), Some(vec![]));
    }

    #[test]
    fn bad_list_indexes_are_errors() {
        for body in [
            &b"L.member.0=a"[..],
            b"L.member.x=a",
            b"L.member.=a",
            b"L.member.99999999999=a",
        ] {
            let params = parse(None, None, body).unwrap();
            assert!(params.list("L").is_err(), "{body:?}");
        }
    }

    #[test]
    fn struct_lists_group_fields() {
        let params = parse(
            None,
            None,
            b"Tags.member.2.Key=b&Tags.member.1.Key=a&Tags.member.1.Value=1&Tags.member.2.Value=2",
        )
        .unwrap();
        let tags = params.structs("Tags").unwrap().unwrap();
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[0]["Key"], "a");
        assert_eq!(tags[1]["Value"], "2");
        let params = parse(None, None, b"Tags.member.1=a").unwrap();
        assert!(params.structs("Tags").is_err());
    }
}
