//! `graphmailer send`.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use graphmailer::blocking::wait;
use graphmailer::{Address, Attachment, Error, Importance, Message, until_stopped};

use crate::config_arg::ConfigArg;
use crate::output;
use crate::signals;
use crate::upload_bar;

#[derive(clap::Args)]
pub struct SendArgs {
    /// The mailbox to send as (the app must be allowed to send as it). With
    /// --mime it may be left out: the message's From address is used.
    #[arg(long = "from", value_name = "ADDR", required_unless_present = "mime")]
    from: Option<String>,
    /// Send a whole RFC 5322 message (headers, blank line, body, MIME parts)
    /// from a file, or from stdin with `-`, as is: its To, Cc and Bcc are the
    /// recipients. At most 3 MB; the options that build a message do not apply.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = [
            "to", "cc", "bcc", "reply_to", "subject", "text", "html", "body_file",
            "attach", "header", "importance", "no_save",
        ]
    )]
    mime: Option<PathBuf>,
    /// A recipient: `a@example.com` or `Name <a@example.com>`. Repeat for more.
    #[arg(long, value_name = "ADDR")]
    to: Vec<String>,
    /// A Cc recipient. Repeat for more.
    #[arg(long, value_name = "ADDR")]
    cc: Vec<String>,
    /// A Bcc recipient. Repeat for more.
    #[arg(long, value_name = "ADDR")]
    bcc: Vec<String>,
    /// A Reply-To address. Repeat for more.
    #[arg(long = "reply-to", value_name = "ADDR")]
    reply_to: Vec<String>,
    /// The subject.
    #[arg(long, default_value = "")]
    subject: String,
    /// A plain-text body.
    #[arg(long, group = "body")]
    text: Option<String>,
    /// An HTML body.
    #[arg(long, group = "body")]
    html: Option<String>,
    /// Read the body from a file, or from stdin with `-`.
    #[arg(long = "body-file", value_name = "FILE", group = "body")]
    body_file: Option<PathBuf>,
    /// Whether --body-file holds text or html.
    #[arg(long = "body-type", value_parser = ["text", "html"], default_value = "text")]
    body_type: String,
    /// Attach a file. Repeat for more.
    #[arg(long, value_name = "FILE")]
    attach: Vec<PathBuf>,
    /// A custom header, `x-name: value`. Repeat for more (at most 5).
    #[arg(long, value_name = "'x-name: value'")]
    header: Vec<String>,
    /// low, normal or high.
    #[arg(long)]
    importance: Option<String>,
    /// Do not keep a copy in the sender's Sent Items.
    #[arg(long = "no-save")]
    no_save: bool,
    #[command(flatten)]
    config: ConfigArg,
    /// Print one JSON object on stdout instead of sentences.
    #[arg(long)]
    json: bool,
}

pub fn run(args: SendArgs) -> ExitCode {
    let json = args.json;
    match send(args) {
        Ok(receipt) => {
            if json {
                println!("{}", output::receipt_json(&receipt));
            } else {
                println!(
                    "Graph accepted the mail (request id {}, {} attempt{}).",
                    receipt.request_id.as_deref().unwrap_or("none"),
                    receipt.attempts,
                    if receipt.attempts == 1 { "" } else { "s" }
                );
            }
            ExitCode::SUCCESS
        }
        Err(error) => output::fail(&error, json),
    }
}

/// Sends until SIGTERM or Ctrl-C, which stop the send; the error then says
/// whether the mail may have gone (`until_stopped`).
fn send(args: SendArgs) -> Result<graphmailer::SendReceipt, Error> {
    let config = args.config.load()?;
    if let Some(path) = &args.mime {
        let mailer = graphmailer::blocking::Mailer::new(config)?
            .as_async()
            .clone();
        let message = if path.as_os_str() == "-" {
            mailer.read_mime(std::io::stdin().lock())?
        } else {
            mailer.read_mime_file(path)?
        };
        let sender = args.from;
        return wait(until_stopped(
            async move { mailer.send_mime(sender.as_deref(), &message).await },
            signals::stopped(),
        ))?;
    }
    let (options, bar) = upload_bar::send_options(args.json);
    let message = build_message(args)?;
    let mailer = graphmailer::blocking::Mailer::new(config)?
        .as_async()
        .clone();
    let sent = wait(until_stopped(
        async move { mailer.send_with(&message, &options).await },
        signals::stopped(),
    ))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    sent
}

fn addresses(list: &[String], field: &str) -> Result<Vec<Address>, Error> {
    list.iter()
        .map(|a| {
            a.parse::<Address>().map_err(|_| {
                Error::invalid(
                    &format!("--{field}"),
                    format!("'{a}' is neither a@example.com nor 'Name <a@example.com>'"),
                )
            })
        })
        .collect()
}

fn build_message(args: SendArgs) -> Result<Message, Error> {
    let mut message = Message::new(args.from.unwrap_or_default()).subject(args.subject);
    message.to = addresses(&args.to, "to")?;
    message.cc = addresses(&args.cc, "cc")?;
    message.bcc = addresses(&args.bcc, "bcc")?;
    message.reply_to = addresses(&args.reply_to, "reply-to")?;
    message = match (args.text, args.html, args.body_file) {
        (Some(text), _, _) => message.text(text),
        (_, Some(html), _) => message.html(html),
        (_, _, Some(path)) => {
            let body = read_body(&path)?;
            if args.body_type == "html" {
                message.html(body)
            } else {
                message.text(body)
            }
        }
        _ => message,
    };
    for path in &args.attach {
        message = message.attach(Attachment::from_path(path)?);
    }
    for header in &args.header {
        let (name, value) = header.split_once(':').ok_or_else(|| {
            Error::invalid("--header", format!("'{header}' is not 'x-name: value'"))
        })?;
        message = message.header(name.trim(), value.trim());
    }
    if let Some(importance) = &args.importance {
        message = message.importance(importance.parse::<Importance>()?);
    }
    Ok(message.save_to_sent_items(!args.no_save))
}

fn read_body(path: &PathBuf) -> Result<String, Error> {
    let mut body = String::new();
    let result = if path.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut body)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut body))
    };
    result.map_err(|e| {
        Error::invalid(
            "--body-file",
            format!("cannot read '{}': {e}", path.display()),
        )
    })?;
    Ok(body)
}
