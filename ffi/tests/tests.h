/* The C tests of libgraphmailer, one function each (see main.c for the order). */
#ifndef GM_TESTS_H
#define GM_TESTS_H

#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* test_boundary.c: no emulator needed */
void test_version(void);
void test_status_names(void);
void test_null_arguments(void);
void test_invalid_utf8(void);
void test_oversized_inputs(void);
void test_use_after_free_and_double_free(void);
void test_mistyped_and_forged_handles(void);
void test_outputs_untouched_on_failure(void);
void test_last_error_is_per_thread_and_cleared(void);
void test_config_errors_name_the_setting(void);
void test_validate_names_the_field(void);
void test_policy_script(void);
void test_certificate_loading(void);
void test_string_free(void);

/* test_send.c: against the emulator */
void test_every_feature_arrives(void);
void test_attachments_from_files(void);
void test_receipt_matches_what_graph_stored(void);
void test_status_invalid_message(void);
void test_status_sender_not_allowed(void);
void test_status_authentication(void);
void test_status_access_denied(void);
void test_status_mailbox_not_found(void);
void test_status_throttled(void);
void test_status_transient(void);
void test_status_ambiguous_delivery(void);
void test_a_stop_flag_stops_sends_and_says_whether_the_mail_went(void);
void test_status_service(void);
void test_status_config(void);
void test_retry_then_success(void);
void test_eight_threads_share_one_mailer_and_token(void);
void test_mailer_from_env(void);
void test_mailer_from_file(void);
void test_describe_has_no_secret(void);
void test_secrets_never_in_errors(void);
void test_fork_child_gets_forked_status(void);
void test_https_with_ca_bundle(void);
void test_certificate_mailer(void);
void test_diagnose(void);
void test_verify(void);
void test_peer_hanging_up_does_not_kill_the_host(void);
void test_example_programs(void);
void test_one_message_shared_by_threads(void);

/* test_large.c: large messages, file attachments read when sent, raw MIME */
void test_config_large_messages_and_default_sender(void);
void test_attached_file_is_read_when_sent(void);
void test_large_attachment_20mb_through_upload_session(void);
void test_large_message_refused_without_large_messages(void);
void test_large_message_needs_mail_readwrite(void);
void test_large_upload_survives_chunk_faults(void);
void test_large_upload_reports_progress(void);
void test_progress_callback_may_send(void);
void test_send_mime_buffer_with_pdf(void);
void test_send_mime_over_one_request_through_upload_sessions(void);
void test_send_mime_file(void);
void test_send_mime_fd_from_pipe(void);
void test_send_mime_errors(void);
void test_example_send_mime(void);

/* test_outbox.c: the durable queue, delivered through the emulator */
void test_outbox_delivers_each_mail_once(void);
void test_outbox_refuses_bad_input_before_storing(void);
void test_outbox_refuses_what_its_mailer_could_never_send(void);
void test_outbox_operator_commands(void);
void test_outbox_stats_and_retry_all_deferred(void);
void test_outbox_bad_url_is_a_config_error(void);
void test_outbox_run_delivers_until_stopped(void);

/* test_federated.c: federated token file, assertion callback, managed identity */
void test_federated_token_file_and_rotation(void);
void test_assertion_callback(void);
void test_managed_identity(void);

/* test_scenarios.c */
void run_scenarios(const char *path);

/* Reads a whole file; NULL on failure. */
char *gm_read_file(const char *path, size_t *len_out);

#endif
