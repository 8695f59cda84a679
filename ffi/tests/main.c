/* The C test runner: starts the emulator, runs every test (or those the
 * arguments select, see selected()), prints "N passed, N failed" last.
 * GM_SCENARIOS names tests/scenarios.json; GM_QUICK=1 repeats less where a
 * test repeats a send only to catch a rare failure (for valgrind);
 * GM_TEST_TIMEOUT limits each test's seconds (see gm_run). */
#include "tests.h"

#define T(name) {#name, name}
static const gm_test TESTS[] = {
    T(test_version),
    T(test_status_names),
    T(test_null_arguments),
    T(test_invalid_utf8),
    T(test_oversized_inputs),
    T(test_use_after_free_and_double_free),
    T(test_mistyped_and_forged_handles),
    T(test_outputs_untouched_on_failure),
    T(test_last_error_is_per_thread_and_cleared),
    T(test_config_errors_name_the_setting),
    T(test_validate_names_the_field),
    T(test_policy_script),
    T(test_certificate_loading),
    T(test_string_free),
    T(test_every_feature_arrives),
    T(test_attachments_from_files),
    T(test_receipt_matches_what_graph_stored),
    T(test_status_config),
    T(test_status_invalid_message),
    T(test_status_sender_not_allowed),
    T(test_status_authentication),
    T(test_status_access_denied),
    T(test_status_mailbox_not_found),
    T(test_status_throttled),
    T(test_status_transient),
    T(test_status_ambiguous_delivery),
    T(test_a_stop_flag_stops_sends_and_says_whether_the_mail_went),
    T(test_status_service),
    T(test_retry_then_success),
    T(test_eight_threads_share_one_mailer_and_token),
    T(test_one_message_shared_by_threads),
    T(test_mailer_from_env),
    T(test_mailer_from_file),
    T(test_describe_has_no_secret),
    T(test_secrets_never_in_errors),
    T(test_fork_child_gets_forked_status),
    T(test_https_with_ca_bundle),
    T(test_certificate_mailer),
    T(test_diagnose),
    T(test_verify),
    T(test_peer_hanging_up_does_not_kill_the_host),
    T(test_example_programs),
    T(test_config_large_messages_and_default_sender),
    T(test_attached_file_is_read_when_sent),
    T(test_large_attachment_20mb_through_upload_session),
    T(test_large_message_refused_without_large_messages),
    T(test_large_message_needs_mail_readwrite),
    T(test_large_upload_survives_chunk_faults),
    T(test_large_upload_reports_progress),
    T(test_progress_callback_may_send),
    T(test_send_mime_buffer_with_pdf),
    T(test_send_mime_over_one_request_through_upload_sessions),
    T(test_send_mime_file),
    T(test_send_mime_fd_from_pipe),
    T(test_send_mime_errors),
    T(test_example_send_mime),
    T(test_outbox_delivers_each_mail_once),
    T(test_outbox_refuses_bad_input_before_storing),
    T(test_outbox_refuses_what_its_mailer_could_never_send),
    T(test_outbox_operator_commands),
    T(test_outbox_stats_and_retry_all_deferred),
    T(test_outbox_bad_url_is_a_config_error),
    T(test_federated_token_file_and_rotation),
    T(test_assertion_callback),
    T(test_managed_identity),
    T(test_outbox_run_delivers_until_stopped),
};

/* Arguments select tests whose names contain them; "-word" leaves out those
 * that contain "word". No inclusive argument: every test. */
static int selected(const char *name, int argc, char **argv) {
    int any_inclusive = 0, included = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') {
            if (strstr(name, argv[i] + 1)) return 0;
        } else {
            any_inclusive = 1;
            if (strstr(name, argv[i])) included = 1;
        }
    }
    return !any_inclusive || included;
}

/* GM_SHARD=K/N runs the Kth of every N tests (K from 1), so that N processes
 * share them: valgrind runs a program one thread at a time, so ffi/test.sh
 * runs one valgrind per core, each on a shard. */
static int shard_of(size_t *k, size_t *n) {
    const char *shard = getenv("GM_SHARD");
    *k = 1;
    *n = 1;
    if (!shard) return 0;
    unsigned long kk, nn;
    char end;
    if (sscanf(shard, "%lu/%lu%c", &kk, &nn, &end) != 2 || nn == 0 || kk == 0 || kk > nn) return -1;
    *k = kk;
    *n = nn;
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    size_t shard, shards;
    if (shard_of(&shard, &shards) != 0) {
        fprintf(stderr, "GM_SHARD must be K/N with 1 <= K <= N, as 1/2\n");
        printf("0 passed, 1 failed\n");
        return 1;
    }
    if (gm_emulator_start(&gm_emu, "--http --port 0") != 0) {
        fprintf(stderr, "cannot start the emulator (set GM_EMULATOR to its binary)\n");
        printf("0 passed, 1 failed\n");
        return 1;
    }
    for (size_t i = 0; i < sizeof TESTS / sizeof TESTS[0]; i++)
        if (i % shards == shard - 1 && selected(TESTS[i].name, argc, argv)) gm_run(TESTS[i].name, TESTS[i].fn);
    const char *scenarios = getenv("GM_SCENARIOS");
    if (scenarios && shard == shards && selected("scenarios", argc, argv)) run_scenarios(scenarios);
    gm_emulator_stop(&gm_emu);
    return gm_summary();
}
