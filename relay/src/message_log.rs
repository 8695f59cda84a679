//! One line per message the relay received, as text or JSON, on stderr
//! (journald keeps it). No recipient addresses and nothing secret: the
//! sending mailbox, counts, the outcome and the id to look it up by.

use std::io::Write;

use serde::Serialize;

use crate::config::LogFormat;

#[derive(Serialize)]
pub struct MessageRecord<'a> {
    pub client: String,
    pub principal: &'a str,
    pub sender: &'a str,
    pub recipients: usize,
    pub bytes: usize,
    pub result: &'a str,
    pub reply: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
}

pub struct MessageLog {
    format: LogFormat,
}

impl MessageLog {
    pub fn new(format: LogFormat) -> MessageLog {
        MessageLog { format }
    }

    pub fn write(&self, record: &MessageRecord<'_>) {
        let line = self.line(record);
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }

    fn line(&self, record: &MessageRecord<'_>) -> String {
        match self.format {
            LogFormat::Json => {
                let mut value = serde_json::to_value(record).unwrap_or_default();
                if let Some(map) = value.as_object_mut() {
                    map.insert("event".into(), "message".into());
                    map.insert(
                        "time".into(),
                        time::OffsetDateTime::now_utc()
                            .format(&time::format_description::well_known::Rfc3339)
                            .unwrap_or_default()
                            .into(),
                    );
                }
                value.to_string()
            }
            LogFormat::Text => format!(
                "message client={} principal=\"{}\" sender={} recipients={} bytes={} result={} id={} reply=\"{}\"",
                record.client,
                record.principal,
                record.sender,
                record.recipients,
                record.bytes,
                record.result,
                record.id.unwrap_or("-"),
                record.reply
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> MessageRecord<'static> {
        MessageRecord {
            client: "10.0.0.7".into(),
            principal: "user scanner",
            sender: "scanner@contoso.com",
            recipients: 2,
            bytes: 1234,
            result: "accepted",
            reply: "250 2.0.0 queued as abc".into(),
            id: Some("abc"),
        }
    }

    #[test]
    fn json_lines_are_one_object_per_message() {
        let line = MessageLog::new(LogFormat::Json).line(&record());
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["event"], "message");
        assert_eq!(v["sender"], "scanner@contoso.com");
        assert_eq!(v["recipients"], 2);
        assert_eq!(v["id"], "abc");
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn text_lines_hold_the_same_facts() {
        let line = MessageLog::new(LogFormat::Text).line(&record());
        assert!(line.starts_with("message client=10.0.0.7 principal=\"user scanner\""));
        assert!(line.contains("result=accepted id=abc"));
    }
}
