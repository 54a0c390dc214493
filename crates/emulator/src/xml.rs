//! AWS Query-protocol XML responses (success and error), written with quick-xml so every value is escaped.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

/// The API whose namespace a response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// AWS Security Token Service, API version 2011-06-15.
    Sts,
    /// AWS Identity and Access Management, API version 2010-05-08.
    Iam,
}

impl Service {
    /// The XML namespace of the service's responses.
    pub fn namespace(self) -> &'static str {
        match self {
            Self::Sts => "https://sts.amazonaws.com/doc/2011-06-15/",
            Self::Iam => "https://iam.amazonaws.com/doc/2010-05-08/",
        }
    }

    /// The SigV4 signing name.
    pub fn signing_name(self) -> &'static str {
        match self {
            Self::Sts => "sts",
            Self::Iam => "iam",
        }
    }
}

/// A streaming XML builder over an in-memory buffer. Writing into a `Vec` cannot fail, so the builder's
/// methods do not return errors.
pub struct Xml {
    writer: Writer<Vec<u8>>,
}

impl Default for Xml {
    fn default() -> Self {
        Self::new()
    }
}

impl Xml {
    /// An empty fragment.
    pub fn new() -> Self {
        Self {
            writer: Writer::new(Vec::with_capacity(512)),
        }
    }

    fn event(&mut self, event: Event<'_>) {
        // Writing to a Vec<u8> is infallible; the Result exists for io::Write sinks in general.
        let _ = self.writer.write_event(event);
    }

    /// Opens `<name>`.
    pub fn open(&mut self, name: &str) -> &mut Self {
        self.event(Event::Start(BytesStart::new(name)));
        self
    }

    /// Opens `<name xmlns="...">`.
    pub fn open_ns(&mut self, name: &str, namespace: &str) -> &mut Self {
        let mut start = BytesStart::new(name);
        start.push_attribute(("xmlns", namespace));
        self.event(Event::Start(start));
        self
    }

    /// Closes `</name>`.
    pub fn close(&mut self, name: &str) -> &mut Self {
        self.event(Event::End(BytesEnd::new(name)));
        self
    }

    /// `<name>text</name>` with the text escaped. A character XML 1.0 cannot carry (requests holding one are
    /// refused before any handler runs, `validate::xml_safe`) becomes U+FFFD, so no path can write a document
    /// that is not well-formed.
    pub fn leaf(&mut self, name: &str, text: &str) -> &mut Self {
        self.open(name);
        if text.chars().all(crate::validate::is_xml_char) {
            self.event(Event::Text(BytesText::new(text)));
        } else {
            let clean: String = text
                .chars()
                .map(|c| {
                    if crate::validate::is_xml_char(c) {
                        c
                    } else {
                        '\u{FFFD}'
                    }
                })
                .collect();
            self.event(Event::Text(BytesText::new(&clean)));
        }
        self.close(name)
    }

    /// `<name>text</name>` when there is a value.
    pub fn opt_leaf(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(text) = text {
            self.leaf(name, text);
        }
        self
    }

    /// Appends another fragment verbatim.
    pub fn append(&mut self, other: Xml) -> &mut Self {
        self.writer.get_mut().extend_from_slice(&other.into_bytes());
        self
    }

    /// The bytes written so far.
    pub fn into_bytes(self) -> Vec<u8> {
        self.writer.into_inner()
    }
}

/// A success document: `<{Action}Response xmlns><{Action}Result>…</{Action}Result><ResponseMetadata>…`.
/// Actions without output (DeleteRole, …) have no Result element, exactly like IAM.
pub fn success(service: Service, action: &str, result: Option<Xml>, request_id: &str) -> Vec<u8> {
    let mut xml = Xml::new();
    xml.event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    let response = format!("{action}Response");
    xml.open_ns(&response, service.namespace());
    if let Some(result) = result {
        let element = format!("{action}Result");
        xml.open(&element).append(result).close(&element);
    }
    xml.open("ResponseMetadata")
        .leaf("RequestId", request_id)
        .close("ResponseMetadata");
    xml.close(&response);
    xml.into_bytes()
}

/// An error document in AWS's Query shape; `RequestId` is a sibling of `Error`, not inside metadata.
pub fn error(
    service: Service,
    sender: bool,
    code: &str,
    message: &str,
    request_id: &str,
) -> Vec<u8> {
    let mut xml = Xml::new();
    xml.event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    xml.open_ns("ErrorResponse", service.namespace());
    xml.open("Error")
        .leaf("Type", if sender { "Sender" } else { "Receiver" })
        .leaf("Code", code)
        .leaf("Message", message)
        .close("Error");
    xml.leaf("RequestId", request_id);
    xml.close("ErrorResponse");
    xml.into_bytes()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn error_shape_matches_aws() {
        let body = error(
            Service::Sts,
            true,
            "InvalidIdentityToken",
            "a < b & \"c\"",
            "rid",
        );
        let text = String::from_utf8(body).unwrap();
        assert_eq!(
            text,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
             <Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>a &lt; b &amp; &quot;c&quot;</Message>\
             </Error><RequestId>rid</RequestId></ErrorResponse>"
        );
    }

    #[test]
    fn success_without_result_has_only_metadata() {
        let text = String::from_utf8(success(Service::Iam, "DeleteRole", None, "r1")).unwrap();
        assert!(text.ends_with(
            "<DeleteRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><ResponseMetadata>\
             <RequestId>r1</RequestId></ResponseMetadata></DeleteRoleResponse>"
        ));
    }
}
