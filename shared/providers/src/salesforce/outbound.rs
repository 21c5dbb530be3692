//! Reads a Salesforce outbound message (SOAP): the organisation, the
//! notifications' ids, and the object they carry.

use quick_xml::Reader;
use quick_xml::events::Event;

/// What Portage keeps from an outbound message.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct OutboundMessage {
    /// `OrganizationId`.
    pub organization: Option<String>,
    /// Each `Notification/Id`.
    pub notification_ids: Vec<String>,
    /// The first object's type (`Account`, from `xsi:type="sf:Account"`).
    pub object_type: Option<String>,
    /// The first object's `Id`.
    pub object_id: Option<String>,
}

/// The element's name without its namespace prefix.
fn local(name: &[u8]) -> &[u8] {
    name.rsplit(|&b| b == b':').next().unwrap_or(name)
}

/// Parses the message; `None` when it is not well-formed XML or has no
/// `notifications` element.
pub(super) fn parse(body: &[u8]) -> Option<OutboundMessage> {
    let mut reader = Reader::from_reader(body);
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut message = OutboundMessage::default();
    let mut seen_notifications = false;
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).ok()? {
            Event::Start(start) => {
                let name = local(start.name().as_ref()).to_vec();
                if name == b"notifications" {
                    seen_notifications = true;
                }
                if name == b"sObject" && message.object_type.is_none() {
                    message.object_type = start
                        .attributes()
                        .flatten()
                        .find(|a| local(a.key.as_ref()) == b"type")
                        .and_then(|a| String::from_utf8(a.value.to_vec()).ok())
                        .map(|t| t.rsplit(':').next().unwrap_or_default().to_owned());
                }
                path.push(name);
                if path.len() > 64 {
                    return None;
                }
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(text) => {
                let value = text.decode().ok()?.trim().to_owned();
                let names: Vec<&[u8]> = path.iter().rev().take(2).map(Vec::as_slice).collect();
                match names.as_slice() {
                    [b"OrganizationId", ..] => message.organization = Some(value),
                    [b"Id", b"Notification"] => message.notification_ids.push(value),
                    [b"Id", b"sObject"] if message.object_id.is_none() => message.object_id = Some(value),
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    seen_notifications.then_some(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_organisation_notifications_and_object() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>00D5g000004ZkDeEAK</OrganizationId><Notification><Id>04l5g00000Ck8jLAAR</Id><sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>0065g00000XkQ2zAAF</sf:Id></sObject></Notification></notifications></soapenv:Body></soapenv:Envelope>"#;
        let message = parse(body).unwrap();
        assert_eq!(message.organization.as_deref(), Some("00D5g000004ZkDeEAK"));
        assert_eq!(message.notification_ids, ["04l5g00000Ck8jLAAR"]);
        assert_eq!(
            (message.object_type.as_deref(), message.object_id.as_deref()),
            (Some("Opportunity"), Some("0065g00000XkQ2zAAF"))
        );
        assert_eq!(parse(b"<a><b>"), None);
        assert_eq!(parse(b"{}"), None);
    }
}
