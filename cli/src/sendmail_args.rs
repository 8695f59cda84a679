//! sendmail's command line, read the way sendmail's own `getopt` reads it
//! (clustered flags, `-fvalue` or `-f value`), which clap cannot do.
//!
//! Only what changes the outcome is used: `-t`, `-i`/`-oi`, `-f`/`-r`, `-F`
//! and, with an outbox, the delivery mode (`-odb`, `-odi`, `-odq`). Options
//! that tune a local mail server (error mode, DSN, 8-bit body type,
//! logging) mean nothing when each message goes to Microsoft Graph, so they
//! are accepted and ignored, as cron, PHP and old daemons pass them. Modes
//! that would need a mail server (SMTP on stdin, daemon, queue listing,
//! aliases, address tests) are refused.

use graphmailer::sendmail::Envelope;

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    /// Read a message on stdin and send it.
    Send(Options),
    /// `--help`.
    Help,
    /// `--version`.
    Version,
    /// `--first-try ID`: the one immediate try of a mail that a `sendmail`
    /// in background mode committed to the outbox, run by that `sendmail`
    /// in a process of its own. Not for people to type.
    FirstTry(String),
}

/// The options that matter.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `-t`, `-f`/`-r`, `-F` and the recipients: core's rules take it from here.
    pub envelope: Envelope,
    /// `-i` or `-oi`: a line holding a single dot is part of the message
    /// instead of its end.
    pub ignore_dots: bool,
    /// When a message committed to an outbox is first tried.
    pub delivery: Delivery,
}

/// sendmail's delivery mode (`-od<mode>`, `-O DeliveryMode=<mode>`): when the
/// one immediate try of a message committed to an outbox happens. Without
/// an outbox there is nowhere to keep the mail, so every mode sends at once
/// and waits.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// `b`: exit as soon as the mail is committed; the try runs in a process
    /// of its own, so a caller with a time limit never waits on Graph.
    #[default]
    Background,
    /// `i`: try before exiting.
    Interactive,
    /// `q` or `d`: no try; the outbox's worker sends it.
    Queue,
}

impl Delivery {
    /// sendmail reads a mode by its first letter (`b`, `background`).
    fn from_mode(mode: &str) -> Result<Delivery, UsageError> {
        match mode.chars().next().map(|c| c.to_ascii_lowercase()) {
            Some('b') => Ok(Delivery::Background),
            Some('i') => Ok(Delivery::Interactive),
            Some('q' | 'd') => Ok(Delivery::Queue),
            _ => Err(UsageError(format!(
                "unknown delivery mode '{mode}': use -odb (background, the default), -odi (wait for the first try) or -odq (leave it to the queue's worker)"
            ))),
        }
    }
}

/// A command line that cannot be followed (sysexits `EX_USAGE`).
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

/// One line for `--help` and usage errors.
pub const USAGE: &str =
    "usage: sendmail [-t] [-i] [-f sender] [-F 'Full Name'] [--] [recipient ...]";

/// Option letters that take a value, glued (`-fme`) or as the next argument.
const WITH_VALUE: &str = "BFLNORVXbefhor";

/// Parses everything after the program name (or after `graphmailer sendmail`).
pub fn parse(args: &[String]) -> Result<Request, UsageError> {
    let mut options = Options::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--" => {
                options.envelope.recipients.extend(args.cloned());
                break;
            }
            "--help" => return Ok(Request::Help),
            "--version" => return Ok(Request::Version),
            "--first-try" => {
                let id = args.next().ok_or_else(|| {
                    UsageError("option --first-try needs a queued mail's id".to_owned())
                })?;
                return Ok(Request::FirstTry(id.clone()));
            }
            long if long.starts_with("--") => {
                return Err(UsageError(format!("unknown option {long}")));
            }
            // A lone "-", like any argument that is not an option, is a recipient.
            option if option.starts_with('-') && option.len() > 1 => {
                parse_cluster(&option[1..], &mut args, &mut options)?;
            }
            recipient => options.envelope.recipients.push(recipient.to_owned()),
        }
    }
    Ok(Request::Send(options))
}

/// One argument of clustered flags (`-ti`), the last of which may take a value.
fn parse_cluster<'a>(
    cluster: &str,
    rest: &mut impl Iterator<Item = &'a String>,
    options: &mut Options,
) -> Result<(), UsageError> {
    for (at, letter) in cluster.char_indices() {
        if letter == 'q' || letter == 'I' {
            return Err(refused(&format!("-{}", &cluster[at..])));
        }
        if !WITH_VALUE.contains(letter) {
            flag(letter)?;
            if letter == 't' {
                options.envelope.read_recipients = true;
            } else if letter == 'i' {
                options.ignore_dots = true;
            }
            continue;
        }
        let glued = &cluster[at + letter.len_utf8()..];
        let value = if glued.is_empty() {
            rest.next()
                .cloned()
                .ok_or_else(|| UsageError(format!("option -{letter} needs a value")))?
        } else {
            glued.to_owned()
        };
        valued(letter, value, options)?;
        return Ok(());
    }
    Ok(())
}

/// A flag without a value: used, ignored or unknown.
fn flag(letter: char) -> Result<(), UsageError> {
    match letter {
        // -t and -i are used by the caller; the rest change nothing here:
        // -v verbose, -m also send to me, -n no aliasing, -U initial
        // submission, -G gateway submission.
        't' | 'i' | 'v' | 'm' | 'n' | 'U' | 'G' => Ok(()),
        other => Err(UsageError(format!("unknown option -{other}"))),
    }
}

/// An option with its value.
fn valued(letter: char, value: String, options: &mut Options) -> Result<(), UsageError> {
    match letter {
        'f' | 'r' => options.envelope.from = Some(value),
        'F' => options.envelope.full_name = Some(value),
        'o' if value == "i" => options.ignore_dots = true,
        'o' if value.starts_with('d') => options.delivery = Delivery::from_mode(&value[1..])?,
        'O' if value
            .split_once('=')
            .is_some_and(|(name, _)| name.trim().eq_ignore_ascii_case("DeliveryMode")) =>
        {
            let mode = value.split_once('=').map_or("", |(_, mode)| mode.trim());
            options.delivery = Delivery::from_mode(mode)?;
        }
        'b' if value == "m" => {}
        'b' => return Err(refused(&format!("-b{value}"))),
        // Other -o<option> (error mode -oem, ...) and -O option=value,
        // -e<mode>, -B<body type>, -N<dsn>, -R<return>, -V<envid>, -X<log
        // file>, -L<syslog tag>, -h<hop count>: they tune a local mail
        // server that graphmailer does not have.
        _ => {}
    }
    Ok(())
}

/// Why a mode of sendmail is not available.
fn refused(option: &str) -> UsageError {
    let why = match option.get(..3).unwrap_or(option) {
        "-bs" => "SMTP on stdin needs a mail server; graphmailer reads one message on stdin",
        "-bd" => "there is no daemon: programs pipe each message to graphmailer",
        "-bp" => "there is no mail queue: each message goes to Microsoft Graph at once",
        "-bi" | "-I" => "there is no alias database",
        "-bt" | "-bv" => "addresses are not tested locally: Microsoft 365 resolves them",
        _ if option.starts_with("-q") => {
            "there is no mail queue: each message goes to Microsoft Graph at once"
        }
        _ => "this mode needs a mail server",
    };
    UsageError(format!("option {option} is not supported: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(args: &[&str]) -> Options {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        match parse(&args).unwrap() {
            Request::Send(options) => options,
            other => panic!("{other:?}"),
        }
    }

    fn usage(args: &[&str]) -> String {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        parse(&args).unwrap_err().0
    }

    #[test]
    fn cron_and_php_command_lines() {
        let cron = send(&[
            "-FCronDaemon",
            "-i",
            "-B8BITMIME",
            "-oem",
            "ops@example.com",
        ]);
        assert_eq!(cron.envelope.full_name.as_deref(), Some("CronDaemon"));
        assert!(cron.ignore_dots);
        assert!(!cron.envelope.read_recipients);
        assert_eq!(cron.envelope.recipients, ["ops@example.com"]);

        let php = send(&["-t", "-i", "-fshop@contoso.test"]);
        assert!(php.envelope.read_recipients && php.ignore_dots);
        assert_eq!(php.envelope.from.as_deref(), Some("shop@contoso.test"));

        let clustered = send(&["-tif", "a@contoso.test", "-F", "Full Name", "b@example.com"]);
        assert!(clustered.envelope.read_recipients && clustered.ignore_dots);
        assert_eq!(clustered.envelope.from.as_deref(), Some("a@contoso.test"));
        assert_eq!(clustered.envelope.full_name.as_deref(), Some("Full Name"));
        assert_eq!(clustered.envelope.recipients, ["b@example.com"]);
    }

    #[test]
    fn dots_end_the_message_unless_i_or_oi() {
        assert!(!send(&["a@example.com"]).ignore_dots);
        assert!(send(&["-oi", "a@example.com"]).ignore_dots);
        assert!(send(&["-o", "i", "a@example.com"]).ignore_dots);
        assert!(!send(&["-odb", "a@example.com"]).ignore_dots);
    }

    #[test]
    fn the_delivery_mode_is_read_as_sendmail_reads_it() {
        assert_eq!(send(&["a@example.com"]).delivery, Delivery::Background);
        for (args, mode) in [
            (&["-odi"][..], Delivery::Interactive),
            (&["-odb"], Delivery::Background),
            (&["-odq"], Delivery::Queue),
            (&["-odd"], Delivery::Queue),
            (&["-o", "di"], Delivery::Interactive),
            (&["-odi", "-odq"], Delivery::Queue),
            (&["-O", "DeliveryMode=i"], Delivery::Interactive),
            (&["-ODeliveryMode=queue"], Delivery::Queue),
            (&["-O", "deliverymode = background"], Delivery::Background),
        ] {
            assert_eq!(send(args).delivery, mode, "{args:?}");
        }
        assert!(usage(&["-odx"]).contains("unknown delivery mode 'x'"));
        assert!(usage(&["-od"]).contains("-odi"));
        assert!(usage(&["-O", "DeliveryMode="]).contains("unknown delivery mode"));
        let first = parse(&["--first-try".to_owned(), "abc".to_owned()]).unwrap();
        assert_eq!(first, Request::FirstTry("abc".to_owned()));
        assert!(usage(&["--first-try"]).contains("needs a queued mail's id"));
    }

    #[test]
    fn queue_tuning_options_are_ignored_with_their_values() {
        let o = send(&[
            "-oem",
            "-oee",
            "-oep",
            "-oeq",
            "-ow",
            "-B8BITMIME",
            "-B7BIT",
            "-B",
            "8BITMIME",
            "-Nnever",
            "-Rhdrs",
            "-Vid1",
            "-X",
            "traffic.log",
            "-v",
            "-m",
            "-em",
            "-ep",
            "-eq",
            "-n",
            "-U",
            "-bm",
            "-O",
            "ErrorMode=m",
            "-oQ/var/spool",
            "-r",
            "me@contoso.test",
            "a@example.com",
        ]);
        assert_eq!(o.envelope.recipients, ["a@example.com"]);
        assert_eq!(o.envelope.from.as_deref(), Some("me@contoso.test"));
    }

    #[test]
    fn double_dash_ends_options() {
        let o = send(&["-i", "--", "-odd@example.com", "-t"]);
        assert_eq!(o.envelope.recipients, ["-odd@example.com", "-t"]);
        assert!(!o.envelope.read_recipients);
    }

    #[test]
    fn server_modes_and_unknown_options_are_refused() {
        for (args, says) in [
            (&["-bs"][..], "SMTP"),
            (&["-bd"], "daemon"),
            (&["-bp"], "queue"),
            (&["-bi"], "alias"),
            (&["-I"], "alias"),
            (&["-bt"], "resolves"),
            (&["-bv", "a@example.com"], "resolves"),
            (&["-q"], "queue"),
            (&["-q15m"], "queue"),
            (&["-bz"], "mail server"),
            (&["-x"], "unknown option -x"),
            (&["-ti", "-k"], "unknown option -k"),
            (&["--config", "f"], "unknown option --config"),
            (&["-f"], "-f needs a value"),
        ] {
            let message = usage(args);
            assert!(message.contains(says), "{args:?}: {message}");
        }
        assert_eq!(parse(&["--help".to_owned()]).unwrap(), Request::Help);
    }
}
