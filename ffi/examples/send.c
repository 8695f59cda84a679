/*
 * send.c: send one mail with libgraphmailer, configured from the environment.
 *
 *   cc send.c $(pkg-config --cflags --libs graphmailer) -o send
 *   AZURE_TENANT_ID=... AZURE_CLIENT_ID=... AZURE_CLIENT_SECRET=... \
 *       ./send erp@contoso.com alice@example.com "Invoice 4711" "Please find it attached." [file]
 *
 * The settings are the ones Azure's SDKs read (AZURE_TENANT_ID,
 * AZURE_CLIENT_ID, AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH) plus
 * GRAPHMAILER_* (GRAPHMAILER_ALLOWED_SENDERS, GRAPHMAILER_CA_BUNDLE, ...).
 * A file over about 3 MB needs GRAPHMAILER_LARGE_MESSAGES=true, and the app
 * the Mail.ReadWrite permission besides Mail.Send (upload sessions); the
 * file is read while sending.
 * Exit status: 0 when Graph accepted the mail, 10 + the status number when it
 * was refused (as the graphmailer command does), 2 for a usage error.
 */
#include <stdio.h>

#include <graphmailer.h>

/* Prints what went wrong, the service's code, the request id and the hint. */
static int report(const char *what, graphmailer_status status) {
    const char *code = graphmailer_last_error_code();
    const char *request_id = graphmailer_last_error_request_id();
    const char *hint = graphmailer_last_error_hint();
    fprintf(stderr, "%s failed (%s): %s\n", what, graphmailer_status_name(status),
            graphmailer_last_error_message());
    if (code) fprintf(stderr, "  code: %s\n", code);
    if (request_id) fprintf(stderr, "  request id: %s\n", request_id);
    if (hint) fprintf(stderr, "  hint: %s\n", hint);
    return status < 100 ? 10 + (int)status : 1;
}

int main(int argc, char **argv) {
    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: %s SENDER TO SUBJECT TEXT [ATTACHMENT]\n(libgraphmailer %s)\n", argv[0],
                graphmailer_version());
        return 2;
    }
    graphmailer_mailer *mailer = NULL;
    graphmailer_status status = graphmailer_mailer_new_from_env(&mailer);
    if (status != GRAPHMAILER_OK) return report("configuration", status);

    graphmailer_message *message = NULL;
    status = graphmailer_message_new(argv[1], &message);
    if (status == GRAPHMAILER_OK) status = graphmailer_message_add_to(message, argv[2], NULL);
    if (status == GRAPHMAILER_OK) status = graphmailer_message_set_subject(message, argv[3]);
    if (status == GRAPHMAILER_OK) status = graphmailer_message_set_text(message, argv[4]);
    if (status == GRAPHMAILER_OK && argc == 6) status = graphmailer_message_attach_file(message, argv[5], NULL);
    if (status != GRAPHMAILER_OK) {
        int code = report("building the message", status);
        graphmailer_message_free(message);
        graphmailer_mailer_free(mailer);
        return code;
    }

    graphmailer_receipt *receipt = NULL;
    status = graphmailer_mailer_send(mailer, message, &receipt);
    int exit_code = 0;
    if (status == GRAPHMAILER_OK) {
        const char *request_id = NULL;
        uint32_t attempts = 0;
        graphmailer_receipt_request_id(receipt, &request_id);
        graphmailer_receipt_attempts(receipt, &attempts);
        printf("accepted by Graph: request id %s, %u attempt(s)\n", request_id ? request_id : "(none)",
               (unsigned)attempts);
    } else {
        exit_code = report("sending", status);
    }
    graphmailer_receipt_free(receipt);
    graphmailer_message_free(message);
    graphmailer_mailer_free(mailer);
    return exit_code;
}
