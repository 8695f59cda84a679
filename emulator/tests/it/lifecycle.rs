//! What an emulator leaves behind when it stops.

use graphmailer_emulator::Options;

#[tokio::test]
async fn shutdown_or_drop_removes_the_ca_folder_it_made_and_keeps_one_it_was_given() {
    let made = graphmailer_emulator::start(Options::default())
        .await
        .expect("an emulator starts");
    let ca = made
        .ca_file()
        .expect("an HTTPS emulator has a CA file")
        .to_path_buf();
    let folder = ca.parent().unwrap().to_path_buf();
    assert!(ca.is_file(), "{} is written at start", ca.display());
    made.shutdown().await;
    assert!(!ca.exists(), "{} is left after shutdown", ca.display());
    assert!(
        !folder.exists(),
        "{} is left after shutdown",
        folder.display()
    );

    // Dropped without shutdown, as a test's emulator usually is.
    let dropped = graphmailer_emulator::start(Options::default())
        .await
        .expect("an emulator starts");
    let ca = dropped.ca_file().unwrap().to_path_buf();
    let folder = ca.parent().unwrap().to_path_buf();
    assert!(ca.is_file(), "{} is written at start", ca.display());
    drop(dropped);
    assert!(!folder.exists(), "{} is left after drop", folder.display());

    let given = std::env::temp_dir().join(format!("gm-emulator-ca-{}", std::process::id()));
    std::fs::create_dir_all(&given).unwrap();
    let kept = given.join("notes.txt");
    std::fs::write(&kept, "not the emulator's").unwrap();
    let emulator = graphmailer_emulator::start(Options {
        ca_dir: Some(given.clone()),
        ..Options::default()
    })
    .await
    .expect("an emulator starts");
    let ca = emulator.ca_file().unwrap().to_path_buf();
    assert_eq!(ca.parent(), Some(given.as_path()));
    emulator.shutdown().await;
    let left = (ca.is_file(), kept.is_file());
    let _ = std::fs::remove_dir_all(&given);
    assert_eq!(
        left,
        (true, true),
        "a folder named in ca_dir is not the emulator's to empty"
    );
}
