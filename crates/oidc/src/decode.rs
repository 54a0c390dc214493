//! Parsing a JWS compact token into header and claims, without verifying it: `decode_unverified`,
//! `UnverifiedToken`, and the `DecodeError` that names what is wrong with a malformed token.
//!
//! NOTE: the compact form is parsed by hand (split on `.`, base64url, JSON) rather than through a JWT library,
//! because every way a token can be malformed must surface as its own error (the emulator maps each to an AWS
//! error, `keyless token decode` explains each to a user), and the libraries collapse them.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{Audience, Claims};

/// One of the three parts of a compact JWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    /// The first part, the JOSE header.
    Header,
    /// The second part, the claims.
    Payload,
    /// The third part, the signature.
    Signature,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Header => "header",
            Self::Payload => "payload",
            Self::Signature => "signature",
        })
    }
}

/// Why a string is not a well-formed JWT (the token's producer, or the user who passed the wrong string).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input is empty (or only whitespace).
    #[error("the token is empty: expected a JWT (three base64url parts separated by dots)")]
    Empty,
    /// Not exactly three `.`-separated parts.
    #[error("this is not a JWT: expected 3 dot-separated parts, found {found}")]
    WrongPartCount {
        /// How many parts the input had.
        found: usize,
    },
    /// A part is not unpadded base64url.
    #[error("this is not a JWT: its {part} is not base64url (RFC 7515, no padding): {detail}")]
    Base64 {
        /// Which part.
        part: Part,
        /// What the decoder found, e.g. "invalid character at offset 12".
        detail: String,
    },
    /// The header or payload decodes but is not JSON.
    #[error("this is not a JWT: its {part} is not JSON: {detail}")]
    NotJson {
        /// Header or payload.
        part: Part,
        /// The JSON parser's message, with line and column.
        detail: String,
    },
    /// The header or payload is JSON but not an object.
    #[error("this is not a JWT: its {part} is JSON {found}, not an object")]
    NotObject {
        /// Header or payload.
        part: Part,
        /// The JSON type found: `array`, `string`, ...
        found: &'static str,
    },
    /// The header has no `alg`.
    #[error("the JWT header has no `alg`: every signed JWT names its algorithm")]
    MissingAlgorithm,
    /// A header field has the wrong JSON type (`alg`, `kid` and `typ` must be strings).
    #[error("the JWT header's `{field}` is {found}, expected a string")]
    HeaderFieldType {
        /// `alg`, `kid` or `typ`.
        field: &'static str,
        /// The JSON type found.
        found: &'static str,
    },
}

/// The JOSE header of a token.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Header {
    /// `alg`, verbatim (may be `none`, `HS256`, anything: verification decides).
    pub alg: String,
    /// `kid`, the key ID in the issuer's JWKS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// `typ`, usually `JWT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// Every other header field, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A token's header and claims as they are written, not verified. The signature is not kept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decoded {
    /// The JOSE header.
    pub header: Header,
    /// Every claim, verbatim, in token order.
    pub claims: Map<String, Value>,
}

impl Decoded {
    /// `iss`, when it is a string.
    pub fn issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }

    /// `sub`, when it is a string.
    pub fn subject(&self) -> Option<&str> {
        self.claims.get("sub").and_then(Value::as_str)
    }

    /// `aud`: `None` when absent, `Some(Err(()))` when it is neither a string nor an array of strings.
    #[allow(clippy::result_unit_err)]
    pub fn audience(&self) -> Option<Result<Audience, ()>> {
        self.claims
            .get("aud")
            .map(|value| serde_json::from_value(value.clone()).map_err(|_| ()))
    }

    /// An integer NumericDate claim (`exp`, `iat`, `nbf`), `None` when absent or not an integer.
    pub fn timestamp(&self, claim: &str) -> Option<i64> {
        self.claims.get(claim).and_then(Value::as_i64)
    }

    /// The claims read as a Bitbucket Pipelines token; fails when a claim Bitbucket always sets is missing or
    /// has the wrong type.
    pub fn bitbucket_claims(&self) -> Result<Claims, serde_json::Error> {
        serde_json::from_value(Value::Object(self.claims.clone()))
    }
}

/// A parsed token whose signature has not been checked yet. Lets a verifier look at `iss` and `aud` first (AWS
/// resolves the provider from `iss` before fetching keys) without parsing twice. `Debug` hides the signature.
pub struct UnverifiedToken<'a> {
    pub(crate) decoded: Decoded,
    pub(crate) signing_input: &'a str,
    pub(crate) signature: Vec<u8>,
}

impl<'a> UnverifiedToken<'a> {
    /// Parses the compact form: three base64url parts, a JSON-object header with a string `alg`, a JSON-object
    /// payload.
    pub fn parse(token: &'a str) -> Result<Self, DecodeError> {
        if token.trim().is_empty() {
            return Err(DecodeError::Empty);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(DecodeError::WrongPartCount {
                found: token.split('.').count(),
            });
        };
        // The signing input is the first two parts with the dot between them, exactly as received.
        let signing_input = &token[..header.len() + 1 + payload.len()];
        let header_bytes = b64(Part::Header, header)?;
        let payload_bytes = b64(Part::Payload, payload)?;
        let signature = b64(Part::Signature, signature)?;
        let header = parse_header(json_object(Part::Header, &header_bytes)?)?;
        let claims = json_object(Part::Payload, &payload_bytes)?;
        Ok(Self {
            decoded: Decoded { header, claims },
            signing_input,
            signature,
        })
    }

    /// The header and claims.
    pub fn decoded(&self) -> &Decoded {
        &self.decoded
    }

    /// Drops the signature, keeping header and claims.
    pub fn into_decoded(self) -> Decoded {
        self.decoded
    }
}

impl fmt::Debug for UnverifiedToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnverifiedToken")
            .field("decoded", &self.decoded)
            .finish_non_exhaustive()
    }
}

/// Why a token as received on the wire was refused before decoding: whitespace where AWS accepts none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WhitespaceError {
    /// The token starts with whitespace.
    #[error(
        "the token starts with whitespace (byte 0x{byte:02x}); a JWT is three base64url parts and nothing else"
    )]
    Leading {
        /// The first byte.
        byte: u8,
    },
    /// Whitespace inside the token, e.g. a token file written twice (`echo $TOKEN >> file` run two times).
    #[error(
        "the token holds whitespace (byte 0x{byte:02x}) at offset {offset}: a JWT is one line; was the token \
         file written more than once?"
    )]
    Inner {
        /// The byte.
        byte: u8,
        /// Its offset.
        offset: usize,
    },
}

/// The bytes a token-file recipe adds around a token and that AWS's STS is observed to accept: trailing SP,
/// HT, CR and LF (`echo $BITBUCKET_STEP_OIDC_TOKEN > file` ends the file with a newline, and the SDKs send the
/// file's bytes unchanged). Leading or inner whitespace is refused. See docs/emulator.md ("Token whitespace").
///
/// ```
/// use keyless_oidc::{WhitespaceError, strip_wire_whitespace};
/// assert_eq!(strip_wire_whitespace("a.b.c\r\n"), Ok("a.b.c"));
/// assert!(matches!(strip_wire_whitespace("a.b.c\na.b.c\n"), Err(WhitespaceError::Inner { offset: 5, .. })));
/// assert!(matches!(strip_wire_whitespace(" a.b.c"), Err(WhitespaceError::Leading { .. })));
/// ```
pub fn strip_wire_whitespace(token: &str) -> Result<&str, WhitespaceError> {
    let stripped = token.trim_end_matches([' ', '\t', '\r', '\n']);
    if let Some(&byte) = stripped.as_bytes().first()
        && byte.is_ascii_whitespace()
    {
        return Err(WhitespaceError::Leading { byte });
    }
    match stripped.bytes().position(|b| b.is_ascii_whitespace()) {
        Some(offset) => Err(WhitespaceError::Inner {
            byte: stripped.as_bytes()[offset],
            offset,
        }),
        None => Ok(stripped),
    }
}

/// Decodes a token's header and claims without checking its signature, for display (`keyless token decode`) and
/// diagnosis. Never trust the result for an access decision; use [`crate::verify`].
///
/// ```
/// let error = keyless_oidc::decode_unverified("not-a-jwt").unwrap_err();
/// assert_eq!(error.to_string(), "this is not a JWT: expected 3 dot-separated parts, found 1");
/// ```
pub fn decode_unverified(token: &str) -> Result<Decoded, DecodeError> {
    UnverifiedToken::parse(token).map(UnverifiedToken::into_decoded)
}

/// Assembles a compact JWS from a header, a payload and raw signature bytes. For building test tokens (including
/// deliberately broken ones); real signing goes through [`crate::SigningKey`].
pub fn encode_compact(header: &Value, payload: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

fn b64(part: Part, text: &str) -> Result<Vec<u8>, DecodeError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|error| DecodeError::Base64 {
            part,
            detail: describe_base64(&error),
        })
}

fn describe_base64(error: &base64::DecodeError) -> String {
    match error {
        base64::DecodeError::InvalidByte(offset, byte) if *byte == b'=' => {
            format!("padding `=` at offset {offset} (JWTs use unpadded base64url)")
        }
        base64::DecodeError::InvalidByte(offset, byte) if byte.is_ascii_graphic() => {
            format!(
                "invalid character `{}` at offset {offset}",
                char::from(*byte)
            )
        }
        base64::DecodeError::InvalidByte(offset, byte) => {
            format!("invalid byte 0x{byte:02x} at offset {offset}")
        }
        base64::DecodeError::InvalidLength(length) => {
            format!("impossible length {length} (truncated?)")
        }
        base64::DecodeError::InvalidLastSymbol(offset, _) => {
            format!("invalid last character at offset {offset} (truncated?)")
        }
        base64::DecodeError::InvalidPadding => "invalid padding".to_owned(),
    }
}

fn json_object(part: Part, bytes: &[u8]) -> Result<Map<String, Value>, DecodeError> {
    // NOTE: serde_json's messages name the position and the expectation but never echo the input, so they are safe
    // to show even when the payload is someone's secret.
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(DecodeError::NotObject {
            part,
            found: json_type(&other),
        }),
        Err(error) => Err(DecodeError::NotJson {
            part,
            detail: error.to_string(),
        }),
    }
}

fn parse_header(mut map: Map<String, Value>) -> Result<Header, DecodeError> {
    let alg = match map.remove("alg") {
        None => return Err(DecodeError::MissingAlgorithm),
        Some(Value::String(alg)) => alg,
        Some(other) => {
            return Err(DecodeError::HeaderFieldType {
                field: "alg",
                found: json_type(&other),
            });
        }
    };
    let mut optional = |field: &'static str| match map.remove(field) {
        None => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(other) => Err(DecodeError::HeaderFieldType {
            field,
            found: json_type(&other),
        }),
    };
    let kid = optional("kid")?;
    let typ = optional("typ")?;
    Ok(Header {
        alg,
        kid,
        typ,
        extra: map,
    })
}

/// The JSON type of a value, as named in error messages.
pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    fn token(header: &str, payload: &str, signature: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    #[test]
    fn decodes_header_and_claims_and_drops_the_signature() {
        let text = token(
            r#"{"alg":"RS256","kid":"k1","typ":"JWT","x5t":"t"}"#,
            r#"{"sub":"s","exp":5}"#,
            b"sig",
        );
        let decoded = decode_unverified(&text).unwrap();
        assert_eq!(decoded.header.alg, "RS256");
        assert_eq!(decoded.header.kid.as_deref(), Some("k1"));
        assert_eq!(decoded.header.typ.as_deref(), Some("JWT"));
        assert_eq!(decoded.header.extra.get("x5t"), Some(&json!("t")));
        assert_eq!(decoded.subject(), Some("s"));
        assert_eq!(decoded.timestamp("exp"), Some(5));
        let shown = serde_json::to_string(&decoded).unwrap() + &format!("{decoded:?}");
        assert!(!shown.contains(&URL_SAFE_NO_PAD.encode(b"sig")));
        let unverified = UnverifiedToken::parse(&text).unwrap();
        assert_eq!(unverified.signing_input, &text[..text.rfind('.').unwrap()]);
        assert!(!format!("{unverified:?}").contains("115, 105, 103"));
    }

    #[test]
    fn part_count_is_named() {
        assert_eq!(
            decode_unverified("abc").unwrap_err(),
            DecodeError::WrongPartCount { found: 1 }
        );
        assert_eq!(
            decode_unverified("a.b").unwrap_err(),
            DecodeError::WrongPartCount { found: 2 }
        );
        assert_eq!(
            decode_unverified("a.b.c.d.e").unwrap_err(),
            DecodeError::WrongPartCount { found: 5 }
        );
        assert_eq!(decode_unverified("  \n").unwrap_err(), DecodeError::Empty);
        assert_eq!(
            decode_unverified("abc").unwrap_err().to_string(),
            "this is not a JWT: expected 3 dot-separated parts, found 1"
        );
    }

    #[test]
    fn base64_errors_name_the_part() {
        let good = token(r#"{"alg":"RS256"}"#, r#"{}"#, b"s");
        let parts: Vec<&str> = good.split('.').collect();
        let bad_header = format!("{}!.{}.{}", parts[0], parts[1], parts[2]);
        assert!(matches!(
            decode_unverified(&bad_header).unwrap_err(),
            DecodeError::Base64 {
                part: Part::Header,
                ..
            }
        ));
        let padded = format!("{}.{}=.{}", parts[0], parts[1], parts[2]);
        let error = decode_unverified(&padded).unwrap_err();
        assert!(
            matches!(&error, DecodeError::Base64 { part: Part::Payload, detail } if detail.contains("padding")),
            "{error}"
        );
        let bad_sig = format!("{}.{}.a+b", parts[0], parts[1]);
        assert!(matches!(
            decode_unverified(&bad_sig).unwrap_err(),
            DecodeError::Base64 {
                part: Part::Signature,
                ..
            }
        ));
        // One base64 character alone cannot encode a byte: what a truncated token looks like.
        let truncated = format!("{}.{}.{}", parts[0], &parts[1][..1], parts[2]);
        assert!(matches!(
            decode_unverified(&truncated).unwrap_err(),
            DecodeError::Base64 {
                part: Part::Payload,
                ..
            }
        ));
    }

    #[test]
    fn json_errors_name_the_part_and_type() {
        let error = decode_unverified(&token("{", "{}", b"")).unwrap_err();
        assert!(
            matches!(
                error,
                DecodeError::NotJson {
                    part: Part::Header,
                    ..
                }
            ),
            "{error}"
        );
        let error = decode_unverified(&token(r#"{"alg":"RS256"}"#, "hello", b"")).unwrap_err();
        assert!(
            matches!(
                error,
                DecodeError::NotJson {
                    part: Part::Payload,
                    ..
                }
            ),
            "{error}"
        );
        assert!(!error.to_string().contains("hello"));
        let error = decode_unverified(&token(r#"{"alg":"RS256"}"#, "[1]", b"")).unwrap_err();
        assert_eq!(
            error,
            DecodeError::NotObject {
                part: Part::Payload,
                found: "an array"
            }
        );
        let error = decode_unverified(&token(r#""x""#, "{}", b"")).unwrap_err();
        assert_eq!(
            error,
            DecodeError::NotObject {
                part: Part::Header,
                found: "a string"
            }
        );
    }

    #[test]
    fn header_fields_are_typed() {
        assert_eq!(
            decode_unverified(&token("{}", "{}", b"")).unwrap_err(),
            DecodeError::MissingAlgorithm
        );
        assert_eq!(
            decode_unverified(&token(r#"{"alg":1}"#, "{}", b"")).unwrap_err(),
            DecodeError::HeaderFieldType {
                field: "alg",
                found: "a number"
            }
        );
        assert_eq!(
            decode_unverified(&token(r#"{"alg":"RS256","kid":null}"#, "{}", b"")).unwrap_err(),
            DecodeError::HeaderFieldType {
                field: "kid",
                found: "null"
            }
        );
    }

    #[test]
    fn audience_accessor_distinguishes_absent_and_malformed() {
        let decoded =
            decode_unverified(&token(r#"{"alg":"none"}"#, r#"{"aud":["a","b"]}"#, b"")).unwrap();
        assert_eq!(
            decoded.audience(),
            Some(Ok(Audience::Many(vec!["a".into(), "b".into()])))
        );
        let decoded = decode_unverified(&token(r#"{"alg":"none"}"#, r#"{"aud":7}"#, b"")).unwrap();
        assert_eq!(decoded.audience(), Some(Err(())));
        let decoded = decode_unverified(&token(r#"{"alg":"none"}"#, r#"{}"#, b"")).unwrap();
        assert_eq!(decoded.audience(), None);
    }

    #[test]
    fn encode_compact_round_trips() {
        let text = encode_compact(&json!({"alg": "none"}), &json!({"a": 1}), b"");
        assert!(text.ends_with('.'));
        assert_eq!(
            decode_unverified(&text).unwrap().claims.get("a"),
            Some(&json!(1))
        );
    }
}
