//! `graphmailer emulator` as a child process, for tests of what a script
//! sees: its first stdout line (the banner) read as JSON, the process
//! stopped on drop.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct EmulatorProcess {
    pub child: Child,
    pub banner: Value,
}

impl EmulatorProcess {
    /// `graphmailer emulator --port 0` plus `extra`, once its banner is out.
    pub fn start(extra: &[&str]) -> EmulatorProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_graphmailer"))
            .args(["emulator", "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let banner: Value =
            serde_json::from_str(&first).unwrap_or_else(|e| panic!("banner {first:?}: {e}"));
        EmulatorProcess { child, banner }
    }
}

impl Drop for EmulatorProcess {
    /// SIGTERM, as a service manager stops it: the emulator then removes the
    /// CA folder it made, which SIGKILL leaves in the temporary directory.
    /// SIGKILL only if it has not ended within seconds.
    fn drop(&mut self) {
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill(2) on our own child, not yet waited for, so its
            // pid cannot have been reused.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
