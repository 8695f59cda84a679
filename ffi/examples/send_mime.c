/*
 * send_mime.c: send a ready RFC 5322 message (headers, a blank line, the
 * body; attachments as MIME parts) read from standard input or a file, as a
 * mail program would hand it to sendmail.
 *
 *   cc send_mime.c $(pkg-config --cflags --libs graphmailer) -o send_mime
 *   AZURE_TENANT_ID=... AZURE_CLIENT_ID=... AZURE_CLIENT_SECRET=... \
 *       ./send_mime [-f SENDER] [FILE] < message.eml
 *
 * The recipients are the message's To, Cc and Bcc; the mailbox it is sent as
 * is SENDER, else the message's From address. At most
 * GRAPHMAILER_MAX_MIME_BYTES (3 MiB): larger files go as attachments of a
 * graphmailer_message with large messages on (see send.c).
 * Exit status: 0 when Graph accepted the mail, 10 + the status number when it
 * was refused, 2 for a usage error.
 */
#include <stdio.h>
#include <string.h>

#include <graphmailer.h>

static int report(const char *what, graphmailer_status status) {
    const char *field = graphmailer_last_error_field();
    const char *hint = graphmailer_last_error_hint();
    fprintf(stderr, "%s failed (%s): %s\n", what, graphmailer_status_name(status),
            graphmailer_last_error_message());
    if (field) fprintf(stderr, "  field: %s\n", field);
    if (hint) fprintf(stderr, "  hint: %s\n", hint);
    return status < 100 ? 10 + (int)status : 1;
}

int main(int argc, char **argv) {
    const char *sender = NULL, *file = NULL;
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "-f") == 0) {
        sender = argv[i + 1];
        i += 2;
    }
    if (i < argc) file = argv[i++];
    if (i != argc) {
        fprintf(stderr, "usage: %s [-f SENDER] [FILE] (the message on standard input without FILE)\n", argv[0]);
        return 2;
    }
    graphmailer_mailer *mailer = NULL;
    graphmailer_status status = graphmailer_mailer_new_from_env(&mailer);
    if (status != GRAPHMAILER_OK) return report("configuration", status);

    graphmailer_receipt *receipt = NULL;
    status = file ? graphmailer_mailer_send_mime_file(mailer, sender, file, &receipt)
                  : graphmailer_mailer_send_mime_fd(mailer, sender, 0 /* standard input */, &receipt);
    int exit_code = 0;
    if (status == GRAPHMAILER_OK) {
        const char *request_id = NULL;
        graphmailer_receipt_request_id(receipt, &request_id);
        printf("accepted by Graph: request id %s\n", request_id ? request_id : "(none)");
    } else {
        exit_code = report("sending", status);
    }
    graphmailer_receipt_free(receipt);
    graphmailer_mailer_free(mailer);
    return exit_code;
}
