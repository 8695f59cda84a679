//! On one CPU the shared runtime has one worker thread, and a progress
//! observer runs on it: a blocking send from the observer must still finish.
//! Its own test binary, because it limits its whole process to one CPU before
//! anything starts the runtime.
#![cfg(target_os = "linux")]

mod common;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use graphmailer::{Attachment, Message, SendOptions};
use graphmailer_emulator::defaults as d;

fn limit_to_one_cpu() {
    // SAFETY: plain affinity calls on this process with a zeroed, then filled set.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        assert_eq!(libc::sched_getaffinity(0, size_of_val(&set), &mut set), 0);
        let first = (0..libc::CPU_SETSIZE as usize)
            .find(|&cpu| libc::CPU_ISSET(cpu, &set))
            .expect("an allowed CPU");
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(first, &mut set);
        assert_eq!(libc::sched_setaffinity(0, size_of_val(&set), &set), 0);
    }
    assert_eq!(std::thread::available_parallelism().unwrap().get(), 1);
}

#[test]
fn on_one_cpu_a_progress_observer_may_send_and_wait() {
    limit_to_one_cpu();
    let emulator_runtime = tokio::runtime::Runtime::new().unwrap();
    let emu = emulator_runtime.block_on(TestEmulator::start());
    let mailer = graphmailer::blocking::Mailer::new(emu.billing_config().build().unwrap()).unwrap();

    let notes = Arc::new(Mutex::new(Vec::new()));
    let (inner, noted) = (mailer.clone(), notes.clone());
    let options = SendOptions::new().on_progress(move |p| {
        if p.finished {
            let note = Message::new(d::BILLING_MAILBOX)
                .to("ops@example.com")
                .text("upload done");
            noted
                .lock()
                .unwrap()
                .push(inner.send(&note).map(|r| r.attempts));
        }
    });
    let scan = vec![7u8; 6 * 1024 * 1024];
    let message = Message::new(d::BILLING_MAILBOX)
        .to("customer@example.com")
        .text("The scan is attached.")
        .attach(Attachment::from_bytes("scan.bin", scan));

    // On a thread of its own, so that a send stuck for good fails the test
    // instead of hanging it.
    let (done, outcome) = mpsc::channel();
    std::thread::spawn(move || done.send(mailer.send_with(&message, &options)));
    let receipt = outcome
        .recv_timeout(Duration::from_secs(30))
        .expect("the large send finished")
        .unwrap();
    assert_eq!(receipt.attempts, 1);
    let notes: Vec<_> = notes.lock().unwrap().drain(..).collect();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].as_ref().ok(), Some(&1));
    assert_eq!(emulator_runtime.block_on(emu.messages()).len(), 2);
}
