//! `graphmailer sendmail`, also run when the binary is called `sendmail`
//! (a link at /usr/sbin/sendmail): takes a message on stdin from cron, PHP's
//! `mail()` or an old daemon and sends it through Microsoft Graph.
//!
//! Like sendmail it is silent on success and exits with a `sysexits.h`
//! status on failure, with one `sendmail: ...` line (and a hint line) on
//! stderr, which cron mails and PHP logs, and one record to syslog.

use std::ffi::OsString;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use graphmailer::limits::MAX_LARGE_MIME_BYTES;
use graphmailer::sendmail::{Envelope, exit_code, sysexits};
use graphmailer::{Config, Error, Mailer, MimeMessage, Outbox, QueueId, until_stopped};

use crate::sendmail_args::{self, Delivery, Request, USAGE};
use crate::signals;
use crate::syslog::{self, Severity};

/// Read when GRAPHMAILER_CONFIG is not set: cron and PHP run sendmail with
/// an almost empty environment, so the settings live in a file.
const SYSTEM_CONFIG: &str = "/etc/graphmailer/graphmailer.toml";

/// True when the program was started under the name `sendmail`.
pub fn invoked_as_sendmail(argv0: Option<&OsString>) -> bool {
    argv0
        .and_then(|a| Path::new(a).file_name())
        .is_some_and(|name| name == "sendmail")
}

/// Runs with sendmail's arguments (everything after the program name or
/// after `graphmailer sendmail`).
pub fn run(args: Vec<OsString>) -> ExitCode {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let options = match sendmail_args::parse(&args) {
        Ok(Request::Send(options)) => options,
        Ok(Request::Help) => {
            print!("{}", help());
            return ExitCode::SUCCESS;
        }
        Ok(Request::Version) => {
            println!("graphmailer sendmail {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Ok(Request::FirstTry(id)) => {
            init_logging();
            return first_try(&id);
        }
        Err(usage) => {
            return fail(&Failure {
                status: sysexits::USAGE,
                message: usage.0,
                hint: Some(USAGE.to_owned()),
                ..Failure::default()
            });
        }
    };
    init_logging();
    match send(&options.envelope, options.ignore_dots, options.delivery) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => fail(&failure),
    }
}

/// Why nothing (or maybe something, for an ambiguous send) went out.
#[derive(Default)]
struct Failure {
    status: u8,
    message: String,
    code: Option<String>,
    request_id: Option<String>,
    hint: Option<String>,
    /// The mailbox it was to be sent as, once known.
    sender: Option<String>,
}

impl Failure {
    fn from_error(error: &Error, sender: Option<&str>) -> Box<Failure> {
        Box::new(Failure {
            status: exit_code(error),
            message: error.message().to_owned(),
            code: error.code().map(str::to_owned),
            request_id: error.request_id().map(str::to_owned),
            hint: error.hint().map(str::to_owned),
            sender: sender.map(str::to_owned),
        })
    }

    /// `message [code X, request id Y]`.
    fn line(&self) -> String {
        let mut tags = Vec::new();
        if let Some(code) = &self.code {
            tags.push(format!("code {code}"));
        }
        if let Some(id) = &self.request_id {
            tags.push(format!("request id {id}"));
        }
        let line = if tags.is_empty() {
            self.message.clone()
        } else {
            format!("{} [{}]", self.message, tags.join(", "))
        };
        syslog::one_line(&line)
    }
}

fn send(envelope: &Envelope, ignore_dots: bool, delivery: Delivery) -> Result<(), Box<Failure>> {
    // The whole message is read before anything can fail, as sendmail does,
    // so the program writing it never gets a broken pipe.
    let input = read_message(std::io::stdin().lock(), !ignore_dots).map_err(|e| {
        Box::new(Failure {
            status: sysexits::IOERR,
            message: format!("cannot read the message on stdin: {e}"),
            ..Failure::default()
        })
    })?;
    let source = ConfigSource::find();
    let config = source.load().map_err(|e| {
        let mut failure = Failure::from_error(&e, None);
        failure.hint = failure.hint.or_else(|| Some(source.hint()));
        failure
    })?;
    graphmailer::sendmail::check_size(input.len(), &config)
        .map_err(|e| Failure::from_error(&e, None))?;
    let prepared = envelope
        .prepare(&input, config.default_sender())
        .map_err(|e| {
            let mut failure = Failure::from_error(&e, None);
            if e.field() == Some("GRAPHMAILER_DEFAULT_SENDER") {
                failure.hint = Some(source.hint());
            }
            failure
        })?;
    let sender = prepared.sender;
    if let Some(url) = config.outbox().map(str::to_owned) {
        return queue(&url, config, &sender, &prepared.message, delivery);
    }
    // SIGTERM or Ctrl-C stop the send; the status then says whether the
    // mail may have gone (75 only when nothing was sent).
    let receipt = graphmailer::blocking::Mailer::new(config)
        .and_then(|mailer| {
            let (mailer, from) = (mailer.as_async().clone(), sender.clone());
            let message = prepared.message.clone();
            graphmailer::blocking::wait(until_stopped(
                async move { mailer.send_mime(Some(&from), &message).await },
                signals::stopped(),
            ))?
        })
        .map_err(|e| Failure::from_error(&e, Some(&sender)))?;
    let count = prepared.message.recipients().len();
    syslog::log(
        Severity::Info,
        &format!(
            "sent as {sender} to {count} recipient{}, request id {}",
            if count == 1 { "" } else { "s" },
            receipt.request_id.as_deref().unwrap_or("none"),
        ),
    );
    Ok(())
}

/// With an outbox configured: commits the message to the queue (the exit
/// status says only that), then makes one immediate try as the delivery
/// mode says; whatever is not sent is left to `graphmailer queue run`.
fn queue(
    url: &str,
    config: Config,
    sender: &str,
    message: &MimeMessage,
    delivery: Delivery,
) -> Result<(), Box<Failure>> {
    let runtime = graphmailer::blocking::runtime();
    let failed = |e: graphmailer::Error| Failure::from_error(&e, Some(sender));
    let mailer = Mailer::new(config).map_err(failed)?;
    let outbox = runtime.block_on(Outbox::open(url)).map_err(failed)?;
    // Exit 0 promises the mail will go: what this mailer could never send
    // (a sender outside its allowlist, too large for it) is refused now,
    // not failed in the queue where only syslog would tell.
    let id = runtime
        .block_on(outbox.enqueue_mime_for(&mailer, Some(sender), message))
        .map_err(failed)?;
    let count = message.recipients().len();
    let plural = if count == 1 { "" } else { "s" };
    // The mail is safe in the queue: a failure from here on is the worker's to handle.
    let first_try = match delivery {
        Delivery::Queue => "left to the worker (delivery mode queue)".to_owned(),
        Delivery::Interactive => format!("first try: {}", try_once(&outbox, &mailer, &id)),
        // A burst (a loop calling mail()) would start a process, and fetch a
        // token, for each mail: past a few at once, the worker sends the rest.
        Delivery::Background if first_tries_running() >= FIRST_TRIES_AT_ONCE => {
            format!("left to the worker ({FIRST_TRIES_AT_ONCE} first tries are running)")
        }
        // The caller is answered now: one that kills a sendmail still
        // trying (a time limit) and submits again would queue the mail twice.
        Delivery::Background => match start_first_try(&id) {
            Ok(pid) => format!("first try in process {pid}"),
            Err(e) => format!(
                "first try (no process of its own: {}): {}",
                syslog::one_line(&e.to_string()),
                try_once(&outbox, &mailer, &id)
            ),
        },
    };
    syslog::log(
        Severity::Info,
        &format!("queued {id} as {sender} to {count} recipient{plural}; {first_try}"),
    );
    Ok(())
}

/// The one immediate try: the state it leaves the mail in.
fn try_once(outbox: &Outbox, mailer: &Mailer, id: &QueueId) -> String {
    match graphmailer::blocking::runtime().block_on(outbox.deliver_now(mailer, id)) {
        Ok(state) => state.to_string(),
        Err(e) => format!("left queued ({})", syslog::one_line(e.message())),
    }
}

/// At most this many first tries run at once (the per-mailbox limit of
/// requests in flight), each in a process of its own.
const FIRST_TRIES_AT_ONCE: usize = 4;

/// The first tries running now, as `/proc` shows them (none where there is
/// no `/proc`). Callers starting at the same instant may each see room, so
/// a burst from many callers can pass the bound by their number; one
/// caller's loop cannot.
fn first_tries_running() -> usize {
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return 0;
    };
    processes
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            std::fs::read(format!("/proc/{pid}/cmdline")).ok()
        })
        .filter(|cmdline| is_first_try(cmdline))
        .count()
}

/// A process's command line (NUL-separated) is a first try's, as
/// [`start_first_try`] starts it.
fn is_first_try(cmdline: &[u8]) -> bool {
    let mut args = cmdline.split(|b| *b == 0);
    args.next() == Some(b"graphmailer")
        && args.next() == Some(b"sendmail")
        && args.next() == Some(b"--first-try")
}

/// Starts `graphmailer sendmail --first-try ID`, detached as a daemon is: a
/// session of its own (no terminal's Ctrl-C or hang-up) and none of the
/// caller's descriptors, so that a caller waiting for the end of a pipe it
/// gave sendmail (cron reading a job's output, `$(...)` in a shell) is not
/// kept waiting either. It reads the settings as this process did, from the
/// same environment.
fn start_first_try(id: &QueueId) -> std::io::Result<u32> {
    let mut command = std::process::Command::new(std::env::current_exe()?);
    command
        .args(["sendmail", "--first-try", &id.to_string()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    #[cfg(unix)]
    detach(&mut command);
    command.spawn().map(|child| child.id())
}

#[cfg(unix)]
fn detach(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // Read as `graphmailer sendmail ...` however this binary is named (a
    // hard link called sendmail would otherwise be read with sendmail's
    // command line, where the word `sendmail` is a recipient).
    command.arg0("graphmailer");
    // SAFETY: between fork and exec only async-signal-safe calls run:
    // setsid, and close_range or fcntl.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            // Descriptors the caller let sendmail inherit (all but 0 to 2,
            // which are /dev/null by now) close at exec: marked, not closed
            // now, so the pipe through which the standard library hears of
            // a failed exec stays open until then. Linux 5.11 has
            // close_range's flag; before it, one descriptor at a time.
            let all = libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            );
            if all != 0 {
                for fd in 3..1024 {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
            Ok(())
        });
    }
}

/// `sendmail --first-try ID`: the try a background `sendmail` left to this
/// process. Its outcome goes to syslog; the mail stays queued whatever
/// happens here, for the worker.
fn first_try(id: &str) -> ExitCode {
    let tried = (|| -> graphmailer::Result<String> {
        let id: QueueId = id.parse()?;
        let config = ConfigSource::find().load()?;
        let url = config
            .outbox()
            .map(str::to_owned)
            .ok_or_else(|| Error::config("outbox", "no outbox is configured for this first try"))?;
        let runtime = graphmailer::blocking::runtime();
        let mailer = Mailer::new(config)?;
        let outbox = runtime.block_on(Outbox::open(&url))?;
        // A stop signal (systemd stopping the caller's unit) waits for the
        // try, at most a send's retries: stopped after its request went
        // out, the mail would wait for a look in Sent Items, or for an
        // operator where the app may not read them.
        let _stop_waits = signals::hold_termination();
        Ok(try_once(&outbox, &mailer, &id))
    })();
    match tried {
        Ok(state) => {
            syslog::log(Severity::Info, &format!("queued {id}: first try: {state}"));
            ExitCode::SUCCESS
        }
        Err(e) => {
            syslog::log(
                Severity::Err,
                &format!(
                    "queued {}: first try not made, left to the worker: {}",
                    syslog::one_line(id),
                    syslog::one_line(e.message())
                ),
            );
            ExitCode::from(sysexits::TEMPFAIL)
        }
    }
}

/// Tells the caller on stderr and the administrator in syslog.
fn fail(failure: &Failure) -> ExitCode {
    let line = failure.line();
    eprintln!("sendmail: {line}");
    if let Some(hint) = &failure.hint {
        eprintln!("sendmail: hint: {}", syslog::one_line(hint));
    }
    let mut record = match &failure.sender {
        Some(sender) => format!("sending as {sender} failed: {line}"),
        None => line,
    };
    if let Some(hint) = &failure.hint {
        record.push_str("; hint: ");
        record.push_str(hint);
    }
    syslog::log(Severity::Err, &record);
    ExitCode::from(failure.status)
}

/// Reads a message up to the end of input or, when `dot_ends`, up to a line
/// holding a single dot (left out, with what follows it). Keeps at most
/// `MAX_LARGE_MIME_BYTES + 1` bytes (a larger message is never sent, and a
/// message over `MAX_MIME_BYTES` only with large messages on), so a message
/// over the limit is known to be; the rest is read and dropped.
fn read_message(mut reader: impl BufRead, dot_ends: bool) -> std::io::Result<Vec<u8>> {
    const PIECE: u64 = 64 * 1024;
    let limit = MAX_LARGE_MIME_BYTES + 1;
    let mut input = Vec::new();
    let mut piece = Vec::new();
    let mut at_line_start = true;
    loop {
        piece.clear();
        // Bounded pieces: a line with no end cannot fill the memory.
        let read = (&mut reader).take(PIECE).read_until(b'\n', &mut piece)?;
        if read == 0 {
            break;
        }
        let lone_dot = matches!(piece.as_slice(), b".\n" | b".\r\n" | b".");
        if dot_ends && at_line_start && lone_dot {
            break;
        }
        at_line_start = piece.ends_with(b"\n");
        let room = limit - input.len();
        input.extend_from_slice(&piece[..piece.len().min(room)]);
    }
    Ok(input)
}

/// Where the settings come from: the file GRAPHMAILER_CONFIG names, else
/// the system's file if there is one, else the environment.
enum ConfigSource {
    Named(PathBuf),
    System,
    Environment,
}

impl ConfigSource {
    fn find() -> ConfigSource {
        match std::env::var_os("GRAPHMAILER_CONFIG").filter(|p| !p.is_empty()) {
            Some(path) => ConfigSource::Named(PathBuf::from(path)),
            // A file that cannot be looked at (a directory the user may not
            // enter) still counts, so the error says so instead of falling
            // back to an empty environment.
            None if !matches!(Path::new(SYSTEM_CONFIG).try_exists(), Ok(false)) => {
                ConfigSource::System
            }
            None => ConfigSource::Environment,
        }
    }

    fn load(&self) -> graphmailer::Result<Config> {
        match self {
            ConfigSource::Named(path) => Config::from_file(path),
            ConfigSource::System => Config::from_file(SYSTEM_CONFIG),
            ConfigSource::Environment => Config::from_env(),
        }
    }

    /// Where the settings were read, for a configuration error.
    fn hint(&self) -> String {
        let from = match self {
            ConfigSource::Named(path) => {
                format!("the file {} (GRAPHMAILER_CONFIG)", path.display())
            }
            ConfigSource::System => format!("the file {SYSTEM_CONFIG}"),
            ConfigSource::Environment => format!(
                "the environment only (no GRAPHMAILER_CONFIG, no {SYSTEM_CONFIG}), which is almost empty when cron or PHP runs sendmail"
            ),
        };
        format!(
            "settings were read from {from}; put tenant_id, client_id, client_secret and default_sender in {SYSTEM_CONFIG}, readable by the users that send mail"
        )
    }
}

/// Logs only when RUST_LOG asks for it, without colours: by default
/// sendmail's stderr holds its own lines and nothing else.
fn init_logging() {
    let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() else {
        return;
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .init();
}

fn help() -> String {
    format!(
        "{USAGE}
       graphmailer sendmail [options] [recipient ...]

Reads one message (headers, a blank line, the body) on stdin and sends it
through Microsoft Graph, for cron, PHP's mail() and other programs that call
/usr/sbin/sendmail. Silent on success; on failure, a sysexits status and a
'sendmail:' line on stderr.

  -t              also send to the To, Cc and Bcc headers' addresses
  -i, -oi         a line holding a single dot does not end the message
  -f ADDR, -r ADDR
                  envelope sender: the mailbox to send as, when it is a full
                  address (else the From header's, else default_sender)
  -F NAME         the sender's full name, when graphmailer writes From
  --              the rest are recipients

With an outbox (the outbox setting), the message is committed to the queue
first; then, by delivery mode:
  -odb            exit at once; the first try runs in a process of its own
                  (the default)
  -odi            try once before exiting (the exit status is 0 either way)
  -odq, -odd      no try: the queue's worker (graphmailer queue run) sends it
Without an outbox the message is sent before exiting, whatever the mode.

Accepted and ignored: other -o<option> (-oem, -oep, ...) and -O
option=value, -e<mode>, -B<type>, -N<dsn>, -R<ret>, -V<envid>, -X<file>,
-L<tag>, -h<hops>, -v, -m, -n, -U, -G, -bm.
Refused: -bs, -bd, -bp, -bi, -bt, -bv, -b<other>, -I, -q.

Settings: the file GRAPHMAILER_CONFIG names, else {SYSTEM_CONFIG},
else the environment.
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(input: &[u8], dot_ends: bool) -> Vec<u8> {
        read_message(input, dot_ends).unwrap()
    }

    #[test]
    fn a_lone_dot_ends_the_message_only_at_the_start_of_a_line() {
        let text = b"To: a@example.com\n\nx\n.\nafter\n";
        assert_eq!(read(text, true), b"To: a@example.com\n\nx\n");
        assert_eq!(read(text, false), text);
        assert_eq!(read(b"a\r\n.\r\nb", true), b"a\r\n");
        assert_eq!(read(b"a\n.", true), b"a\n");
        assert_eq!(read(b"a\n..\n.x\n", true), b"a\n..\n.x\n");
        // A dot that starts a piece of a long line is not a line of its own.
        let mut long = vec![b'x'; 64 * 1024];
        long.extend_from_slice(b".\nend\n");
        assert_eq!(read(&long, true), long);
    }

    #[test]
    fn past_the_limit_the_rest_is_read_and_dropped() {
        let mut big = vec![b'y'; MAX_LARGE_MIME_BYTES + 200_000];
        big.extend_from_slice(b"\n.\n");
        assert_eq!(read(&big, true).len(), MAX_LARGE_MIME_BYTES + 1);
        let mut reader = std::io::Cursor::new(&big);
        read_message(&mut reader, false).unwrap();
        assert_eq!(reader.position() as usize, big.len(), "read to the end");
    }

    #[test]
    fn a_first_try_is_known_by_its_command_line() {
        assert!(is_first_try(b"graphmailer\0sendmail\0--first-try\0abc\0"));
        assert!(!is_first_try(
            b"/usr/bin/graphmailer\0sendmail\0--first-try\0abc\0"
        ));
        assert!(!is_first_try(b"graphmailer\0sendmail\0-t\0"));
        assert!(!is_first_try(b"graphmailer\0queue\0run\0"));
        assert!(!is_first_try(b""));
    }

    #[test]
    fn the_name_sendmail_selects_sendmail_mode() {
        let name = |s: &str| invoked_as_sendmail(Some(&OsString::from(s)));
        assert!(name("/usr/sbin/sendmail"));
        assert!(name("sendmail"));
        assert!(!name("/usr/bin/graphmailer"));
        assert!(!name("sendmail.postfix"));
    }
}
