use super::*;

fn ok() -> Message {
    Message::new("erp@contoso.test")
        .to("a@example.com")
        .subject("Invoice 42")
        .text("Hi")
}

fn field_of(m: Message) -> String {
    m.validate().unwrap_err().field().unwrap().to_owned()
}

#[test]
fn a_plain_message_passes() {
    ok().validate().unwrap();
    Message::new("7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c37")
        .bcc("a@example.com")
        .validate()
        .unwrap();
}

#[test]
fn each_rule_names_its_field() {
    assert_eq!(field_of(Message::new("erp@contoso.test")), "to");
    assert_eq!(field_of(ok().cc("x").to("b@example.com")), "cc[0].address");
    assert_eq!(
        field_of(Message {
            sender: "me".into(),
            ..ok()
        }),
        "sender"
    );
    assert_eq!(
        field_of(ok().reply_to(("Bad\nName", "r@example.com"))),
        "reply_to[0].name"
    );
    assert_eq!(field_of(ok().subject("a\r\nBcc: x@y.z")), "subject");
    assert_eq!(field_of(ok().header("Subject", "x")), "headers[0].name");
    assert_eq!(field_of(ok().header("x-a b", "x")), "headers[0].name");
    assert_eq!(field_of(ok().header("x-ok", "a\nb")), "headers[0].value");
    let six = (0..6).fold(ok(), |m, i| m.header(format!("x-h{i}"), "v"));
    assert_eq!(field_of(six), "headers");
    assert_eq!(
        field_of(ok().attach(Attachment::from_bytes("", "x"))),
        "attachments[0].name"
    );
    assert_eq!(
        field_of(ok().attach(Attachment::from_bytes("a.png", "x").with_content_type("png"))),
        "attachments[0].content_type"
    );
    let mut inline = Attachment::from_bytes("a.png", "x");
    inline.inline = true;
    assert_eq!(field_of(ok().attach(inline)), "attachments[0].content_id");
    assert_eq!(
        field_of(ok().attach(Attachment::from_bytes("a.png", "x").inline("<logo>"))),
        "attachments[0].content_id"
    );
    let many = (0..501).fold(Message::new("erp@contoso.test"), |m, i| {
        m.bcc(format!("r{i}@example.com"))
    });
    assert_eq!(field_of(many), "to");
}

#[test]
fn me_as_sender_gets_a_hint() {
    let e = Message {
        sender: "me".into(),
        ..ok()
    }
    .validate()
    .unwrap_err();
    assert!(e.hint().unwrap().contains("no 'me'"));
}

#[test]
fn content_type_is_guessed_from_the_extension() {
    assert_eq!(
        Attachment::from_bytes("Invoice.PDF", "x").effective_content_type(),
        "application/pdf"
    );
    assert_eq!(
        Attachment::from_bytes("blob", "x").effective_content_type(),
        "application/octet-stream"
    );
    let given = Attachment::from_bytes("a.bin", "x").with_content_type("image/png");
    assert_eq!(given.effective_content_type(), "image/png");
}

#[test]
fn from_path_reads_a_regular_file_later_and_a_device_now() {
    let dir = std::env::temp_dir().join(format!("gm-attach-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("report.csv");
    std::fs::write(&path, "a,b\n").unwrap();
    let lazy = Attachment::from_path(&path).unwrap();
    assert!(lazy.content.as_bytes().is_none());
    std::fs::write(&path, "a,b\n1,2\n").unwrap();
    let e = lazy.content.read_all().unwrap_err();
    assert!(e.message().contains("changed size"), "{e}");
    let device = Attachment::from_path("/dev/null").unwrap();
    assert_eq!(device.content.as_bytes().map(|b| b.len()), Some(0));
    assert_eq!(
        Attachment::from_path(&dir).unwrap_err().field(),
        Some("attachments")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn from_path_names_the_file_and_reports_a_missing_one() {
    let e = Attachment::from_path("/nonexistent/invoice.pdf").unwrap_err();
    assert_eq!(e.field(), Some("attachments"));
    assert!(e.message().contains("invoice.pdf"));
}
