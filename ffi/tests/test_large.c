/* Large messages (a draft and upload sessions, opt-in with large_messages,
 * Mail.ReadWrite), file attachments read when sent, default_sender, and raw
 * MIME from a buffer, a file and a descriptor, against the real emulator. */
#include "tests.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The emulator's built-in app with Mail.Send and Mail.ReadWrite, restricted
 * like the ERP app to the erp-senders group (erp@, billing@). Test values. */
static const char *BILLING_CLIENT_ID = "b7c8d9e0-f1a2-4b3c-8d4e-5f6a7b8c9d01";
static const char *BILLING_SECRET = "Bil8Q~billingSecretValue.0123456789abcdef";

static const size_t MB = 1024 * 1024;

static graphmailer_config billing_config(bool large_messages) {
    graphmailer_config c = gm_config();
    c.client_id = BILLING_CLIENT_ID;
    c.client_secret = BILLING_SECRET;
    c.large_messages = large_messages;
    return c;
}

static graphmailer_mailer *mailer_from(graphmailer_config c) {
    graphmailer_mailer *m = NULL;
    CHECK_OK(graphmailer_mailer_new(&c, &m));
    return m;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Bytes that do not compress and differ by seed (xorshift). */
static unsigned char *pattern(size_t len, unsigned seed) {
    unsigned char *p = malloc(len);
    uint32_t x = 2463534242u ^ seed;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
    return p;
}

/* A file in its own temporary folder, and the bytes written to it. */
typedef struct {
    char dir[64];
    char path[1200];
    unsigned char *data;
    size_t len;
} temp_file;

static int write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t n = len ? fwrite(data, 1, len, f) : 0;
    return fclose(f) == 0 && n == len ? 0 : -1;
}

static void make_file(temp_file *t, const char *name, size_t len, unsigned seed) {
    memset(t, 0, sizeof *t);
    snprintf(t->dir, sizeof t->dir, "/tmp/gm-ffi-large-XXXXXX");
    CHECK(mkdtemp(t->dir) != NULL);
    snprintf(t->path, sizeof t->path, "%s/%s", t->dir, name);
    t->data = pattern(len, seed);
    t->len = len;
    CHECK(write_file(t->path, t->data, len) == 0, "%s", t->path);
}

static void drop_file(temp_file *t) {
    unlink(t->path);
    rmdir(t->dir);
    free(t->data);
    t->data = NULL;
}

/* The stored message's attachment called `name`, or NULL. */
static const json_value *attachment_named(const json_value *stored, const char *name) {
    const json_value *list = json_path(stored, "message.attachments");
    for (size_t i = 0; list && list->type == JSON_ARRAY && i < list->count; i++)
        if (gm_streq(json_string_at(list->items[i], "name"), name)) return list->items[i];
    return NULL;
}

/* Checks that the stored attachment's contentBytes are exactly `data`. */
static void check_bytes(const json_value *stored, const char *name, const unsigned char *data, size_t len) {
    const json_value *a = attachment_named(stored, name);
    const char *b64 = json_string_at(a, "contentBytes");
    CHECK(b64 != NULL, "no attachment '%s' with contentBytes was stored", name);
    if (!b64) return;
    size_t got_len = 0;
    unsigned char *got = gm_base64_decode(b64, &got_len);
    CHECK(got_len == len, "'%s': %zu bytes stored, %zu sent", name, got_len, len);
    CHECK(got_len == len && memcmp(got, data, len) == 0, "'%s': the stored bytes differ from the sent ones", name);
    free(got);
}

/* Waits, in the emulator, for the drafts to change until none is left (a
 * deletion may still be on its way) or 5 s passed; true when none is left. */
static int no_draft_left(void) {
    char path[96] = "/_emulator/drafts/wait";
    double started = gm_now_ms();
    for (;;) {
        /* 200 on a change, 408 when the time ran out: both list the drafts. */
        json_value *d = gm_get_json(path);
        long left = json_array_len(d, "drafts");
        const json_value *version = json_member(d, "version");
        long seen = version && version->type == JSON_NUMBER ? (long)version->number : -1;
        json_free(d);
        long remaining = (long)(5000 - (gm_now_ms() - started));
        if (left == 0) return 1;
        if (left < 0 || seen < 0 || remaining <= 0) return 0;
        snprintf(path, sizeof path, "/_emulator/drafts/wait?version=%ld&timeout_ms=%ld", seen, remaining);
    }
}

/* ---- configuration ------------------------------------------------------ */

void test_config_large_messages_and_default_sender(void) {
    graphmailer_config c = gm_config();
    c.large_messages = true;
    c.default_sender = "erp@contoso.test";
    graphmailer_mailer *mailer = mailer_from(c);
    char *json = NULL;
    CHECK_OK(graphmailer_mailer_describe(mailer, &json));
    json_value *d = json_parse(json);
    const json_value *large = json_member(d, "large_messages");
    CHECK(large && large->type == JSON_BOOL && large->boolean == 1, "%s", json ? json : "(null)");
    CHECK_STR(json_string_at(d, "default_sender"), "erp@contoso.test");
    json_free(d);
    CHECK_OK(graphmailer_string_free(json));
    /* cron's From: root is no mailbox: NULL or "" as the sender takes the
       default sender for it */
    gm_reset();
    const char *cron = "From: root\r\nTo: alice@example.com\r\nSubject: cron\r\n\r\nHi\r\n";
    CHECK_OK(graphmailer_mailer_send_mime(mailer, NULL, (const uint8_t *)cron, strlen(cron), NULL));
    CHECK_OK(graphmailer_mailer_send_mime(mailer, "", (const uint8_t *)cron, strlen(cron), NULL));
    json_value *all = gm_messages();
    CHECK(json_array_len(all, "messages") == 2);
    CHECK_STR(json_string_at(all, "messages.1.mailbox"), "erp@contoso.test");
    json_free(all);
    CHECK_OK(graphmailer_mailer_free(mailer));

    /* zero-initialized: off, and no default sender ("" is "not given" too) */
    c = gm_config();
    c.default_sender = "";
    mailer = mailer_from(c);
    json = NULL;
    CHECK_OK(graphmailer_mailer_describe(mailer, &json));
    d = json_parse(json);
    large = json_member(d, "large_messages");
    CHECK(large && large->type == JSON_BOOL && large->boolean == 0, "%s", json ? json : "(null)");
    const json_value *sender = json_member(d, "default_sender");
    CHECK(sender && sender->type == JSON_NULL, "%s", json ? json : "(null)");
    json_free(d);
    CHECK_OK(graphmailer_string_free(json));
    CHECK_OK(graphmailer_mailer_free(mailer));

    /* the core checks the default sender; the boundary checks its bytes */
    mailer = NULL;
    c.default_sender = "not an address";
    CHECK_STATUS(graphmailer_mailer_new(&c, &mailer), GRAPHMAILER_ERR_CONFIG);
    CHECK_STR(graphmailer_last_error_field(), "GRAPHMAILER_DEFAULT_SENDER");
    c.default_sender = "erp\xff@contoso.test";
    CHECK_STATUS(graphmailer_mailer_new(&c, &mailer), GRAPHMAILER_ERR_INVALID_UTF8);
    CHECK_STR(graphmailer_last_error_field(), "default_sender");
    CHECK_CONTAINS(graphmailer_last_error_message(), "default_sender");
    CHECK(mailer == NULL);

    /* the environment's settings, read by graphmailer_mailer_new_from_env */
    setenv("AZURE_TENANT_ID", "7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c37", 1);
    setenv("AZURE_CLIENT_ID", BILLING_CLIENT_ID, 1);
    setenv("AZURE_CLIENT_SECRET", BILLING_SECRET, 1);
    setenv("AZURE_AUTHORITY_HOST", gm_emu.url, 1);
    setenv("GRAPHMAILER_GRAPH_ENDPOINT", gm_emu.url, 1);
    setenv("GRAPHMAILER_LARGE_MESSAGES", "true", 1);
    setenv("GRAPHMAILER_DEFAULT_SENDER", "billing@contoso.test", 1);
    CHECK_OK(graphmailer_mailer_new_from_env(&mailer));
    json = NULL;
    CHECK_OK(graphmailer_mailer_describe(mailer, &json));
    d = json_parse(json);
    large = json_member(d, "large_messages");
    CHECK(large && large->type == JSON_BOOL && large->boolean == 1, "%s", json ? json : "(null)");
    CHECK_STR(json_string_at(d, "default_sender"), "billing@contoso.test");
    CHECK(json && strstr(json, BILLING_SECRET) == NULL);
    json_free(d);
    CHECK_OK(graphmailer_string_free(json));
    CHECK_OK(graphmailer_mailer_free(mailer));
    mailer = NULL;
    setenv("GRAPHMAILER_LARGE_MESSAGES", "perhaps", 1);
    CHECK_STATUS(graphmailer_mailer_new_from_env(&mailer), GRAPHMAILER_ERR_CONFIG);
    CHECK_STR(graphmailer_last_error_field(), "GRAPHMAILER_LARGE_MESSAGES");
    CHECK(mailer == NULL);
    const char *vars[] = {"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_AUTHORITY_HOST",
                          "GRAPHMAILER_GRAPH_ENDPOINT", "GRAPHMAILER_LARGE_MESSAGES", "GRAPHMAILER_DEFAULT_SENDER"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
}

/* ---- file attachments are read when sent --------------------------------- */

void test_attached_file_is_read_when_sent(void) {
    gm_reset();
    temp_file t;
    make_file(&t, "status.txt", 0, 0);
    CHECK(write_file(t.path, "first", 5) == 0);
    graphmailer_mailer *mailer = gm_mailer();
    graphmailer_message *m = NULL;
    CHECK_OK(graphmailer_message_new("erp@contoso.test", &m));
    CHECK_OK(graphmailer_message_add_to(m, "alice@example.com", NULL));
    CHECK_OK(graphmailer_message_set_subject(m, "Status"));
    CHECK_OK(graphmailer_message_set_text(m, "attached"));
    CHECK_OK(graphmailer_message_attach_file(m, t.path, NULL));
    /* rewritten (same size) after attaching: the send reads what is there then */
    CHECK(write_file(t.path, "later", 5) == 0);
    CHECK_OK(graphmailer_mailer_send(mailer, m, NULL));
    json_value *all = gm_messages();
    check_bytes(json_path(all, "messages.0"), "status.txt", (const unsigned char *)"later", 5);
    json_free(all);
    /* grown since it was attached: refused, nothing sent */
    CHECK(write_file(t.path, "much longer now", 15) == 0);
    CHECK_STATUS(graphmailer_mailer_send(mailer, m, NULL), GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_STR(graphmailer_last_error_field(), "attachments");
    CHECK_CONTAINS(graphmailer_last_error_message(), "changed size");
    /* gone: refused, the path in the message */
    unlink(t.path);
    CHECK_STATUS(graphmailer_mailer_send(mailer, m, NULL), GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_STR(graphmailer_last_error_field(), "attachments");
    CHECK_CONTAINS(graphmailer_last_error_message(), t.path);
    CHECK(gm_counter("sends_accepted") == 1);
    /* a folder is not a file: refused when attached */
    CHECK_STATUS(graphmailer_message_attach_file(m, t.dir, NULL), GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_CONTAINS(graphmailer_last_error_message(), "not a file");
    CHECK_OK(graphmailer_message_free(m));
    CHECK_OK(graphmailer_mailer_free(mailer));
    drop_file(&t);
}

/* ---- large messages ------------------------------------------------------ */

/* A message from `sender` with `file` attached, and a small note besides. */
static graphmailer_message *with_file(const char *sender, const temp_file *file) {
    graphmailer_message *m = NULL;
    CHECK_OK(graphmailer_message_new(sender, &m));
    CHECK_OK(graphmailer_message_add_to(m, "alice@example.com", "Alice"));
    CHECK_OK(graphmailer_message_set_subject(m, "Ledger"));
    CHECK_OK(graphmailer_message_set_html(m, "<p>The ledger is attached.</p>"));
    CHECK_OK(graphmailer_message_attach_file(m, file->path, "application/octet-stream"));
    CHECK_OK(graphmailer_message_attach_bytes(m, "note.txt", (const uint8_t *)"small", 5, NULL));
    return m;
}

/* 20 MB from a temporary file through a draft and an upload session with the
 * app that holds Mail.ReadWrite; read back byte for byte. (Left out under
 * valgrind by test.sh: "-20mb".) */
void test_large_attachment_20mb_through_upload_session(void) {
    gm_reset();
    temp_file big;
    make_file(&big, "ledger-2024.bin", 20 * MB, 20);
    graphmailer_mailer *mailer = mailer_from(billing_config(true));
    graphmailer_message *m = with_file("billing@contoso.test", &big);
    CHECK_OK(graphmailer_message_validate(m));
    graphmailer_receipt *receipt = NULL;
    CHECK_OK(graphmailer_mailer_send(mailer, m, &receipt));
    const char *request_id = NULL;
    CHECK_OK(graphmailer_receipt_request_id(receipt, &request_id));
    json_value *all = gm_messages();
    CHECK(json_array_len(all, "messages") == 1);
    const json_value *s = json_path(all, "messages.0");
    CHECK_STR(json_string_at(s, "sent_via"), "draft");
    CHECK_STR(json_string_at(s, "mailbox"), "billing@contoso.test");
    CHECK_STR(json_string_at(s, "app_id"), BILLING_CLIENT_ID);
    CHECK_STR(json_string_at(s, "message.subject"), "Ledger");
    CHECK_STR(json_string_at(s, "message.toRecipients.0.emailAddress.address"), "alice@example.com");
    CHECK(json_array_len(s, "message.attachments") == 2);
    check_bytes(s, "ledger-2024.bin", big.data, big.len);
    check_bytes(s, "note.txt", (const unsigned char *)"small", 5);
    CHECK_STR(json_string_at(attachment_named(s, "ledger-2024.bin"), "contentType"), "application/octet-stream");
    CHECK(request_id != NULL);
    CHECK_STR(json_string_at(s, "request_id"), request_id);
    json_free(all);
    /* 20 MB in chunks of 3.75 MB: at least six PUTs; one draft, sent, gone */
    CHECK(gm_counter("upload_chunks") >= 6, "%ld", gm_counter("upload_chunks"));
    CHECK(gm_counter("drafts_created") == 1);
    CHECK(no_draft_left());
    CHECK_OK(graphmailer_receipt_free(receipt));
    CHECK_OK(graphmailer_message_free(m));
    CHECK_OK(graphmailer_mailer_free(mailer));
    drop_file(&big);
}

void test_large_message_refused_without_large_messages(void) {
    gm_reset();
    temp_file file;
    make_file(&file, "scan.tif", 5 * MB, 5);
    graphmailer_mailer *mailer = mailer_from(billing_config(false));
    graphmailer_message *m = with_file("billing@contoso.test", &file);
    graphmailer_receipt *receipt = (graphmailer_receipt *)(uintptr_t)0x1;
    CHECK_STATUS(graphmailer_mailer_send(mailer, m, &receipt), GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK(receipt == (graphmailer_receipt *)(uintptr_t)0x1);
    CHECK_STR(graphmailer_last_error_field(), "attachments");
    CHECK_STR(graphmailer_last_error_code(), "RequestEntityTooLarge");
    CHECK_CONTAINS(graphmailer_last_error_hint(), "Mail.ReadWrite");
    CHECK_CONTAINS(graphmailer_last_error_hint(), "GRAPHMAILER_LARGE_MESSAGES");
    CHECK_OK(graphmailer_message_free(m));
    /* the same from memory: over GRAPHMAILER_MAX_INPUT_BYTES, accepted as
     * attachment data, refused by the same rule */
    CHECK_OK(graphmailer_message_new("billing@contoso.test", &m));
    CHECK_OK(graphmailer_message_add_to(m, "alice@example.com", NULL));
    CHECK_OK(graphmailer_message_set_subject(m, "Scan"));
    CHECK_OK(graphmailer_message_attach_bytes(m, "scan.tif", file.data, file.len, NULL));
    CHECK_STATUS(graphmailer_mailer_send(mailer, m, NULL), GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_CONTAINS(graphmailer_last_error_hint(), "Mail.ReadWrite");
    /* refused before any network call */
    CHECK(gm_counter("token_requests") == 0);
    CHECK(gm_counter("drafts_created") == 0);
    CHECK(gm_counter("send_requests") == 0);
    CHECK_OK(graphmailer_message_free(m));
    CHECK_OK(graphmailer_mailer_free(mailer));
    drop_file(&file);
}

void test_large_message_needs_mail_readwrite(void) {
    gm_reset();
    temp_file file;
    make_file(&file, "scan.tif", 5 * MB, 6);
    graphmailer_config c = gm_config(); /* the ERP app: Mail.Send only */
    c.large_messages = true;
    graphmailer_mailer *mailer = mailer_from(c);
    graphmailer_message *m = with_file("erp@contoso.test", &file);
    CHECK_STATUS(graphmailer_mailer_send(mailer, m, NULL), GRAPHMAILER_ERR_ACCESS_DENIED);
    CHECK_CONTAINS(graphmailer_last_error_hint(), "Mail.ReadWrite");
    CHECK(graphmailer_last_error_http_status() == 403, "%u", (unsigned)graphmailer_last_error_http_status());
    CHECK(!graphmailer_status_is_retryable(graphmailer_last_error_status()));
    CHECK(no_draft_left());
    CHECK(gm_counter("sends_accepted") == 0);
    CHECK_OK(graphmailer_message_free(m));
    CHECK_OK(graphmailer_mailer_free(mailer));
    drop_file(&file);
}

void test_large_upload_survives_chunk_faults(void) {
    gm_reset();
    temp_file file;
    make_file(&file, "archive.zip", 5 * MB, 7); /* two chunks: 3.75 MB + 1.25 MB */
    /* the second PUT fails with 503, its retry loses the connection after
     * the chunk was sent */
    gm_put_faults("{\"upload\":[{\"status\":503,\"nth\":2},{\"drop_after_body\":true,\"nth\":3}]}");
    graphmailer_mailer *mailer = mailer_from(billing_config(true));
    graphmailer_message *m = with_file("billing@contoso.test", &file);
    CHECK_OK(graphmailer_mailer_send(mailer, m, NULL));
    CHECK(gm_counter("faults_injected") == 2, "%ld", gm_counter("faults_injected"));
    json_value *all = gm_messages();
    CHECK(json_array_len(all, "messages") == 1);
    check_bytes(json_path(all, "messages.0"), "archive.zip", file.data, file.len);
    json_free(all);
    CHECK(no_draft_left());
    CHECK_OK(graphmailer_message_free(m));
    CHECK_OK(graphmailer_mailer_free(mailer));
    drop_file(&file);
}

/* ---- raw MIME ------------------------------------------------------------ */

/* A PDF-like attachment: a header, every byte value, an end marker. */
static unsigned char *fake_pdf(size_t *len_out) {
    static const char head[] = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n";
    static const char tail[] = "\n%%EOF\n";
    size_t len = sizeof head - 1 + 512 + sizeof tail - 1;
    unsigned char *p = malloc(len);
    memcpy(p, head, sizeof head - 1);
    for (int i = 0; i < 512; i++) p[sizeof head - 1 + i] = (unsigned char)(i * 7);
    memcpy(p + sizeof head - 1 + 512, tail, sizeof tail - 1);
    *len_out = len;
    return p;
}

/* An RFC 5322 message with a text part and the PDF, `headers` first (each
 * line ending in "\r\n"). Malloc'ed C string. */
static char *mime_with_pdf(const char *headers, const unsigned char *pdf, size_t pdf_len) {
    char *b64 = gm_base64_encode(pdf, pdf_len);
    size_t b64_len = strlen(b64);
    size_t cap = strlen(headers) + b64_len + b64_len / 76 * 2 + 1024;
    char *out = malloc(cap);
    int n = snprintf(out, cap,
                     "%sSubject: Invoice 4711 (MIME)\r\nMIME-Version: 1.0\r\n"
                     "Content-Type: multipart/mixed; boundary=\"gm-4711\"\r\n\r\n"
                     "--gm-4711\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                     "Please find the invoice attached.\r\n"
                     "--gm-4711\r\nContent-Type: application/pdf; name=\"invoice-4711.pdf\"\r\n"
                     "Content-Disposition: attachment; filename=\"invoice-4711.pdf\"\r\n"
                     "Content-Transfer-Encoding: base64\r\n\r\n",
                     headers);
    size_t len = (size_t)n;
    for (size_t i = 0; i < b64_len; i += 76) {
        size_t line = b64_len - i < 76 ? b64_len - i : 76;
        memcpy(out + len, b64 + i, line);
        len += line;
        out[len++] = '\r';
        out[len++] = '\n';
    }
    len += (size_t)snprintf(out + len, cap - len, "--gm-4711--\r\n");
    free(b64);
    return out;
}

static const char *ERP_TO_ALICE = "From: ERP <erp@contoso.test>\r\nTo: Alice <alice@example.com>\r\n";

/* Sends `mime` (mime_with_pdf's, from ERP to Alice, no sender given) and
 * checks the one message the emulator then holds: sent as `via`, as the
 * From address, with its subject, recipient, PDF and request id. Returns
 * the emulator's messages, for json_free. */
static json_value *send_mime_with_pdf(graphmailer_mailer *mailer, const char *mime, const char *via,
                                      const unsigned char *pdf, size_t pdf_len) {
    graphmailer_receipt *receipt = NULL;
    CHECK_OK(graphmailer_mailer_send_mime(mailer, NULL, (const uint8_t *)mime, strlen(mime), &receipt));
    const char *request_id = NULL;
    CHECK_OK(graphmailer_receipt_request_id(receipt, &request_id));
    json_value *all = gm_messages();
    CHECK(json_array_len(all, "messages") == 1);
    const json_value *s = json_path(all, "messages.0");
    CHECK_STR(json_string_at(s, "sent_via"), via);
    CHECK_STR(json_string_at(s, "mailbox"), "erp@contoso.test");
    CHECK(request_id != NULL);
    CHECK_STR(json_string_at(s, "request_id"), request_id);
    CHECK_STR(json_string_at(s, "message.subject"), "Invoice 4711 (MIME)");
    CHECK_STR(json_string_at(s, "message.toRecipients.0.emailAddress.address"), "alice@example.com");
    check_bytes(s, "invoice-4711.pdf", pdf, pdf_len);
    CHECK_OK(graphmailer_receipt_free(receipt));
    return all;
}

void test_send_mime_buffer_with_pdf(void) {
    gm_reset();
    size_t pdf_len = 0;
    unsigned char *pdf = fake_pdf(&pdf_len);
    char *mime = mime_with_pdf(ERP_TO_ALICE, pdf, pdf_len);
    graphmailer_mailer *mailer = gm_mailer();
    /* no sender: the From address */
    json_value *all = send_mime_with_pdf(mailer, mime, "mime", pdf, pdf_len);
    const json_value *s = json_path(all, "messages.0");
    CHECK(json_array_len(s, "message.attachments") == 1);
    CHECK_STR(json_string_at(s, "message.attachments.0.contentType"), "application/pdf");
    /* sent as is: the stored MIME text is the buffer */
    CHECK_STR(json_string_at(s, "mime"), mime);
    json_free(all);
    /* "" is no sender too; a sender given wins over From */
    CHECK_OK(graphmailer_mailer_send_mime(mailer, "", (const uint8_t *)mime, strlen(mime), NULL));
    CHECK_OK(graphmailer_mailer_send_mime(mailer, "billing@contoso.test", (const uint8_t *)mime, strlen(mime), NULL));
    all = gm_messages();
    CHECK(json_array_len(all, "messages") == 3);
    CHECK_STR(json_string_at(all, "messages.1.mailbox"), "erp@contoso.test");
    CHECK_STR(json_string_at(all, "messages.2.mailbox"), "billing@contoso.test");
    json_free(all);
    CHECK_OK(graphmailer_mailer_free(mailer));
    free(mime);
    free(pdf);
}

/* Over what Graph's MIME form takes, a message is sent through a draft made
 * of it less its PDF, which follows through upload sessions, by a mailer with
 * large messages on; the outbox queues it the same way. */
void test_send_mime_over_one_request_through_upload_sessions(void) {
    gm_reset();
    size_t pdf_len = 4 * MB;
    unsigned char *pdf = pattern(pdf_len, 4);
    char *mime = mime_with_pdf("From: ERP <erp@contoso.test>\r\nTo: Alice <alice@example.com>\r\n"
                               "In-Reply-To: <request.42@example.com>\r\n",
                               pdf, pdf_len);
    CHECK(strlen(mime) > GRAPHMAILER_MAX_MIME_BYTES && strlen(mime) < GRAPHMAILER_MAX_LARGE_MIME_BYTES);
    graphmailer_mailer *mailer = mailer_from(billing_config(true));
    json_value *sent = send_mime_with_pdf(mailer, mime, "draft", pdf, pdf_len);
    /* The draft is made of the message itself, less the PDF: a header
     * Graph's JSON form cannot carry arrives. */
    CHECK_STR(json_string_at(sent, "messages.0.message.internetMessageHeaders.0.name"), "In-Reply-To");
    CHECK_STR(json_string_at(sent, "messages.0.message.internetMessageHeaders.0.value"), "<request.42@example.com>");
    json_free(sent);
    CHECK(gm_counter("upload_chunks") >= 2, "%ld", gm_counter("upload_chunks"));
    CHECK(no_draft_left());

    /* The outbox queues it, and its worker sends it the same way. */
    char dir[1024], url[1100], id[GRAPHMAILER_OUTBOX_ID_BYTES];
    snprintf(dir, sizeof dir, "%s/graphmailer-ffi-large-mime-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    snprintf(url, sizeof url, "sqlite:%s/outbox.db", dir);
    graphmailer_outbox *outbox = NULL;
    CHECK_OK(graphmailer_outbox_open(url, &outbox));
    CHECK_OK(graphmailer_outbox_enqueue_mime_for(outbox, mailer, NULL, (const uint8_t *)mime, strlen(mime), id,
                                                 sizeof id));
    graphmailer_run_summary summary = {0};
    CHECK_OK(graphmailer_outbox_run_until_empty(outbox, mailer, &summary));
    CHECK(summary.sent == 1, "sent %llu, failed %llu", (unsigned long long)summary.sent,
          (unsigned long long)summary.failed);
    json_value *all = gm_messages();
    CHECK(json_array_len(all, "messages") == 2);
    check_bytes(json_path(all, "messages.1"), "invoice-4711.pdf", pdf, pdf_len);
    json_free(all);
    CHECK_OK(graphmailer_outbox_free(outbox));
    const char *files[] = {"outbox.db", "outbox.db-wal", "outbox.db-shm"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    CHECK(rmdir(dir) == 0, "%s", dir);

    CHECK_OK(graphmailer_mailer_free(mailer));
    free(mime);
    free(pdf);
}

void test_send_mime_file(void) {
    gm_reset();
    temp_file t;
    make_file(&t, "invoice.eml", 0, 0);
    /* bare line feeds, as scripts write them: sent with CRLF */
    const char *text = "From: billing@contoso.test\nTo: bob@example.com, carol@example.com\n"
                       "Cc: Dave <dave@example.com>\nSubject: From a file\n\nLine one.\nLine two.\n";
    CHECK(write_file(t.path, text, strlen(text)) == 0);
    graphmailer_mailer *mailer = gm_mailer();
    graphmailer_receipt *receipt = NULL;
    CHECK_OK(graphmailer_mailer_send_mime_file(mailer, NULL, t.path, &receipt));
    uint32_t attempts = 0;
    CHECK_OK(graphmailer_receipt_attempts(receipt, &attempts));
    CHECK(attempts == 1);
    CHECK_OK(graphmailer_receipt_free(receipt));
    json_value *all = gm_messages();
    const json_value *s = json_path(all, "messages.0");
    CHECK_STR(json_string_at(s, "mailbox"), "billing@contoso.test");
    CHECK_STR(json_string_at(s, "message.subject"), "From a file");
    CHECK(json_array_len(s, "message.toRecipients") == 2);
    CHECK_STR(json_string_at(s, "message.ccRecipients.0.emailAddress.address"), "dave@example.com");
    CHECK_CONTAINS(json_string_at(s, "mime"), "Subject: From a file\r\n\r\nLine one.\r\nLine two.\r\n");
    json_free(all);
    /* a path that cannot be read: the core's error, with the path */
    unlink(t.path);
    CHECK_STATUS(graphmailer_mailer_send_mime_file(mailer, NULL, t.path, NULL), GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_STR(graphmailer_last_error_field(), "mime");
    CHECK_CONTAINS(graphmailer_last_error_message(), t.path);
    CHECK_STATUS(graphmailer_mailer_send_mime_file(mailer, NULL, NULL, NULL), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_STR(graphmailer_last_error_field(), "path");
    CHECK_STATUS(graphmailer_mailer_send_mime_file(mailer, NULL, "", NULL), GRAPHMAILER_ERR_INVALID_ARGUMENT);
    CHECK_STR(graphmailer_last_error_field(), "path");
    CHECK(gm_counter("sends_accepted") == 1);
    CHECK_OK(graphmailer_mailer_free(mailer));
    drop_file(&t);
}

typedef struct {
    int fd;
    const char *text;
    size_t len;
} pipe_writer;

/* Writes the message into the pipe in small pieces, then closes its end. */
static void *write_pipe(void *arg) {
    pipe_writer *w = arg;
    for (size_t done = 0; done < w->len;) {
        size_t piece = w->len - done < 100 ? w->len - done : 100;
        ssize_t n = write(w->fd, w->text + done, piece);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += (size_t)n;
        sleep_ms(1);
    }
    close(w->fd);
    return NULL;
}

void test_send_mime_fd_from_pipe(void) {
    gm_reset();
    size_t pdf_len = 0;
    unsigned char *pdf = fake_pdf(&pdf_len);
    char *mime = mime_with_pdf(ERP_TO_ALICE, pdf, pdf_len);
    graphmailer_mailer *mailer = gm_mailer();
    int fds[2];
    CHECK(pipe(fds) == 0);
    pipe_writer w = {fds[1], mime, strlen(mime)};
    pthread_t writer;
    CHECK(pthread_create(&writer, NULL, write_pipe, &w) == 0);
    CHECK_OK(graphmailer_mailer_send_mime_fd(mailer, NULL, fds[0], NULL));
    pthread_join(writer, NULL);
    /* the descriptor is still the caller's, open */
    CHECK(fcntl(fds[0], F_GETFD) != -1);
    CHECK(close(fds[0]) == 0);
    json_value *all = gm_messages();
    const json_value *s = json_path(all, "messages.0");
    CHECK_STR(json_string_at(s, "mailbox"), "erp@contoso.test");
    check_bytes(s, "invoice-4711.pdf", pdf, pdf_len);
    CHECK_STR(json_string_at(s, "mime"), mime);
    json_free(all);

    /* a regular file: read from the descriptor's position on */
    temp_file t;
    make_file(&t, "queued.eml", 0, 0);
    const char *junk = "queue entry 17\n";
    FILE *f = fopen(t.path, "wb");
    fputs(junk, f);
    fputs("From: erp@contoso.test\r\nTo: alice@example.com\r\nSubject: Queued\r\n\r\nHi\r\n", f);
    fclose(f);
    int fd = open(t.path, O_RDONLY);
    CHECK(fd >= 0);
    CHECK(lseek(fd, (off_t)strlen(junk), SEEK_SET) == (off_t)strlen(junk));
    CHECK_OK(graphmailer_mailer_send_mime_fd(mailer, "billing@contoso.test", fd, NULL));
    CHECK(fcntl(fd, F_GETFD) != -1);
    all = gm_messages();
    CHECK_STR(json_string_at(all, "messages.1.message.subject"), "Queued");
    CHECK_STR(json_string_at(all, "messages.1.mailbox"), "billing@contoso.test");
    json_free(all);
    /* at end of file now: nothing left to read is an empty message */
    CHECK_STATUS(graphmailer_mailer_send_mime_fd(mailer, NULL, fd, NULL), GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_STR(graphmailer_last_error_field(), "mime");
    CHECK(close(fd) == 0);
    /* a descriptor that is not open, or not one at all */
    CHECK_STATUS(graphmailer_mailer_send_mime_fd(mailer, NULL, fd, NULL), GRAPHMAILER_ERR_INVALID_ARGUMENT);
    CHECK_STR(graphmailer_last_error_field(), "fd");
    CHECK_CONTAINS(graphmailer_last_error_message(), "not an open file descriptor");
    CHECK_STATUS(graphmailer_mailer_send_mime_fd(mailer, NULL, -1, NULL), GRAPHMAILER_ERR_INVALID_ARGUMENT);
    CHECK_STR(graphmailer_last_error_field(), "fd");
    /* a descriptor open for writing only: the read fails, named "mime" */
    fd = open(t.path, O_WRONLY);
    CHECK_STATUS(graphmailer_mailer_send_mime_fd(mailer, NULL, fd, NULL), GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_STR(graphmailer_last_error_field(), "mime");
    CHECK(close(fd) == 0);
    CHECK(gm_counter("sends_accepted") == 2);
    CHECK_OK(graphmailer_mailer_free(mailer));
    drop_file(&t);
    free(mime);
    free(pdf);
}

#define SEND_MIME(mailer, sender, text) \
    graphmailer_mailer_send_mime((mailer), (sender), (const uint8_t *)(text), strlen(text), NULL)

void test_send_mime_errors(void) {
    gm_reset();
    graphmailer_mailer *mailer = gm_mailer();
    /* no recipients */
    graphmailer_receipt *receipt = (graphmailer_receipt *)(uintptr_t)0x1;
    const char *none = "From: erp@contoso.test\r\nSubject: Nobody\r\n\r\nHi\r\n";
    CHECK_STATUS(graphmailer_mailer_send_mime(mailer, NULL, (const uint8_t *)none, strlen(none), &receipt),
                 GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_STR(graphmailer_last_error_field(), "mime.To");
    CHECK(receipt == (graphmailer_receipt *)(uintptr_t)0x1);
    /* a malformed recipient */
    CHECK_STATUS(SEND_MIME(mailer, NULL, "From: erp@contoso.test\r\nTo: alice@example.com, bob\r\n\r\nHi\r\n"),
                 GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_STR(graphmailer_last_error_field(), "mime.To[1]");
    /* no sender and no From */
    CHECK_STATUS(SEND_MIME(mailer, NULL, "To: alice@example.com\r\nSubject: Anonymous\r\n\r\nHi\r\n"),
                 GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_STR(graphmailer_last_error_field(), "sender");
    /* not a message */
    CHECK_STATUS(SEND_MIME(mailer, NULL, "just some text\r\n"), GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_STR(graphmailer_last_error_field(), "mime");
    CHECK_STATUS(graphmailer_mailer_send_mime(mailer, NULL, NULL, 0, NULL), GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_STR(graphmailer_last_error_field(), "mime");
    CHECK_CONTAINS(graphmailer_last_error_message(), "empty");
    /* too large for one request: one byte over GRAPHMAILER_MAX_MIME_BYTES */
    size_t big = (size_t)GRAPHMAILER_MAX_MIME_BYTES + 1;
    char *large = malloc(big);
    const char *head = "From: erp@contoso.test\r\nTo: alice@example.com\r\n\r\n";
    memset(large, 'a', big);
    memcpy(large, head, strlen(head));
    CHECK_STATUS(graphmailer_mailer_send_mime(mailer, NULL, (const uint8_t *)large, big, NULL),
                 GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_STR(graphmailer_last_error_field(), "mime");
    CHECK_STR(graphmailer_last_error_code(), "RequestEntityTooLarge");
    CHECK_CONTAINS(graphmailer_last_error_hint(), "large_messages"); /* this mailer has them off */
    CHECK(gm_counter("drafts_created") == 0);
    /* a length far beyond: refused the same way, reading no more than one
     * byte past what this mailer sends (AddressSanitizer would see a read
     * past `large`) */
    CHECK_STATUS(graphmailer_mailer_send_mime(mailer, NULL, (const uint8_t *)large, 100 * big, NULL),
                 GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_STR(graphmailer_last_error_code(), "RequestEntityTooLarge");
    /* exactly the limit is sent */
    CHECK_OK(graphmailer_mailer_send_mime(mailer, NULL, (const uint8_t *)large, big - 1, NULL));
    free(large);
    /* boundary statuses, each naming its argument */
    const char *ok = "From: erp@contoso.test\r\nTo: alice@example.com\r\nSubject: Hi\r\n\r\nHi\r\n";
    CHECK_STATUS(graphmailer_mailer_send_mime(mailer, NULL, NULL, 10, NULL), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_STR(graphmailer_last_error_field(), "data");
    CHECK_CONTAINS(graphmailer_last_error_message(), "graphmailer_mailer_send_mime");
    CHECK_STATUS(SEND_MIME(NULL, NULL, ok), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_STR(graphmailer_last_error_field(), "mailer");
    CHECK_STATUS(SEND_MIME(mailer, "erp\xc3@contoso.test", ok), GRAPHMAILER_ERR_INVALID_UTF8);
    CHECK_STR(graphmailer_last_error_field(), "sender");
    CHECK_CONTAINS(graphmailer_last_error_message(), "sender");
    CHECK_STATUS(graphmailer_mailer_send_mime_file(mailer, "erp\xc3@contoso.test", "/dev/null", NULL),
                 GRAPHMAILER_ERR_INVALID_UTF8);
    CHECK_STR(graphmailer_last_error_field(), "sender");
    CHECK_STATUS(graphmailer_mailer_send_mime_fd(mailer, "erp\xc3@contoso.test", 0, NULL),
                 GRAPHMAILER_ERR_INVALID_UTF8);
    CHECK_STR(graphmailer_last_error_field(), "sender");
    CHECK_STATUS(SEND_MIME(mailer, "not an address", ok), GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_STR(graphmailer_last_error_field(), "sender");
    graphmailer_message *m = NULL;
    CHECK_OK(graphmailer_message_new("erp@contoso.test", &m));
    CHECK_STATUS(SEND_MIME((graphmailer_mailer *)m, NULL, ok), GRAPHMAILER_ERR_INVALID_HANDLE);
    CHECK_STR(graphmailer_last_error_field(), "mailer");
    CHECK_OK(graphmailer_message_free(m));
    /* none of these reached Graph: only the one at the limit */
    CHECK(gm_counter("send_requests") == 1, "%ld", gm_counter("send_requests"));
    /* the sender from From meets the allowlist and the tenant's policy */
    CHECK_STATUS(SEND_MIME(mailer, NULL, "From: ceo@contoso.test\r\nTo: alice@example.com\r\n\r\nHi\r\n"),
                 GRAPHMAILER_ERR_ACCESS_DENIED);
    CHECK_STR(graphmailer_last_error_code(), "ErrorAccessDenied");
    CHECK_OK(graphmailer_mailer_free(mailer));
    graphmailer_config c = gm_config();
    const char *allowed[] = {"erp@contoso.test"};
    c.allowed_senders = allowed;
    c.allowed_senders_len = 1;
    mailer = mailer_from(c);
    CHECK_STATUS(SEND_MIME(mailer, NULL, "From: billing@contoso.test\r\nTo: alice@example.com\r\n\r\nHi\r\n"),
                 GRAPHMAILER_ERR_SENDER_NOT_ALLOWED);
    CHECK_OK(SEND_MIME(mailer, NULL, ok));
    /* a freed mailer */
    CHECK_OK(graphmailer_mailer_free(mailer));
    CHECK_STATUS(SEND_MIME(mailer, NULL, ok), GRAPHMAILER_ERR_INVALID_HANDLE);
    CHECK(gm_counter("sends_accepted") == 2, "%ld", gm_counter("sends_accepted"));
}

/* Runs examples/send_mime.c (GM_EXAMPLE_MIME) with the emulator's settings,
 * `stdin_path` as its standard input and `args` after the program name;
 * returns its exit status (or -1). */
static int run_send_mime(const char *program, const char *stdin_path, const char *a1, const char *a2,
                         const char *a3) {
    pid_t pid = fork();
    if (pid == 0) {
        setenv("AZURE_TENANT_ID", "7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c37", 1);
        setenv("AZURE_CLIENT_ID", "3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14", 1);
        setenv("AZURE_CLIENT_SECRET", gm_emu.client_secret, 1);
        setenv("AZURE_AUTHORITY_HOST", gm_emu.url, 1);
        setenv("GRAPHMAILER_GRAPH_ENDPOINT", gm_emu.url, 1);
        if (!freopen(stdin_path, "r", stdin)) _exit(126);
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(126);
        execl(program, program, a1, a2, a3, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

void test_example_send_mime(void) {
    const char *program = getenv("GM_EXAMPLE_MIME");
    if (!program) {
        gm_fail(__FILE__, __LINE__, "GM_EXAMPLE_MIME is not set (test.sh builds examples/send_mime.c)");
        return;
    }
    gm_reset();
    temp_file t;
    make_file(&t, "message.eml", 0, 0);
    const char *text = "From: erp@contoso.test\nTo: alice@example.com\nSubject: Through the example\n\nHi\n";
    CHECK(write_file(t.path, text, strlen(text)) == 0);
    CHECK(run_send_mime(program, t.path, NULL, NULL, NULL) == 0); /* standard input */
    CHECK(run_send_mime(program, "/dev/null", "-f", "billing@contoso.test", t.path) == 0);
    json_value *all = gm_messages();
    CHECK(json_array_len(all, "messages") == 2);
    CHECK_STR(json_string_at(all, "messages.0.message.subject"), "Through the example");
    CHECK_STR(json_string_at(all, "messages.0.mailbox"), "erp@contoso.test");
    CHECK_STR(json_string_at(all, "messages.1.mailbox"), "billing@contoso.test");
    json_free(all);
    /* nothing on standard input: an invalid message, exit status 10 + 2 */
    CHECK(run_send_mime(program, "/dev/null", NULL, NULL, NULL) == 10 + GRAPHMAILER_ERR_INVALID_MESSAGE);
    drop_file(&t);
}

/* ---- upload progress ----------------------------------------------------- */

/* What the progress callback saw, through its userdata. */
typedef struct {
    int calls;
    int finished;
    int out_of_order;
    int other_thread;
    pthread_t caller;
    uint64_t last_message_sent;
    uint64_t message_total;
    uint64_t first_sent;
    char first_name[64];
    graphmailer_progress last;
} progress_log;

static void on_progress(const graphmailer_progress *p, void *userdata) {
    progress_log *log = userdata;
    if (log->calls == 0) {
        log->first_sent = p->sent;
        snprintf(log->first_name, sizeof log->first_name, "%s", p->name);
    }
    log->calls++;
    if (p->message_sent < log->last_message_sent) log->out_of_order++;
    if (!pthread_equal(pthread_self(), log->caller)) log->other_thread = 1;
    log->last_message_sent = p->message_sent;
    log->message_total = p->message_total;
    log->finished += p->finished;
    log->last = *p;
    log->last.name = NULL; /* valid during the call only */
}

/* A 6 MB file in chunks of 3.75 MB: progress rises with each chunk, then the
 * small attachment, then the final event, all with the caller's userdata. */
void test_large_upload_reports_progress(void) {
    gm_reset();
    temp_file big;
    make_file(&big, "scan-6mb.bin", 6 * MB, 6);
    graphmailer_mailer *mailer = mailer_from(billing_config(true));
    graphmailer_message *m = with_file("billing@contoso.test", &big);
    progress_log log = {0};
    log.caller = pthread_self();
    CHECK_OK(graphmailer_mailer_send_with_progress(mailer, m, NULL, on_progress, &log));
    uint64_t total = 6 * MB + 5;
    CHECK(log.calls == 4, "%d calls", log.calls); /* two chunks, note.txt, finished */
    CHECK(log.first_sent > 0 && log.first_sent < 6 * MB, "%llu", (unsigned long long)log.first_sent);
    CHECK_STR(log.first_name, "scan-6mb.bin");
    CHECK(log.out_of_order == 0);
    CHECK(log.finished == 1 && log.last.finished);
    CHECK(log.message_total == total && log.last_message_sent == total);
    CHECK(log.last.index == 1 && log.last.sent == 5 && log.last.total == 5);
    CHECK(log.other_thread, "the callback is documented to run on a worker thread");
    json_value *all = gm_messages();
    CHECK(json_array_len(all, "messages") == 1);
    json_free(all);

    /* NULL callback: a plain send. A small message: never called. */
    CHECK_OK(graphmailer_mailer_send_with_progress(mailer, m, NULL, NULL, NULL));
    progress_log none = {0};
    none.caller = pthread_self();
    graphmailer_message *small = NULL;
    CHECK_OK(graphmailer_message_new("billing@contoso.test", &small));
    CHECK_OK(graphmailer_message_add_to(small, "alice@example.com", NULL));
    CHECK_OK(graphmailer_message_set_text(small, "small"));
    CHECK_OK(graphmailer_mailer_send_with_progress(mailer, small, NULL, on_progress, &none));
    CHECK(none.calls == 0, "%d calls", none.calls);
    CHECK_STATUS(graphmailer_mailer_send_with_progress(NULL, small, NULL, on_progress, &none),
                 GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_OK(graphmailer_message_free(small));
    CHECK_OK(graphmailer_message_free(m));
    CHECK_OK(graphmailer_mailer_free(mailer));
    drop_file(&big);
}

/* The header says a progress callback may call graphmailer's functions: this
 * one sends a small message through the same mailer, blocking, from the
 * worker thread that runs it (core's and Python's one-CPU tests hold the
 * case of a runtime with a single worker). */
typedef struct {
    const graphmailer_mailer *mailer;
    int calls;
    graphmailer_status nested;
} nested_send;

static void send_from_progress(const graphmailer_progress *p, void *userdata) {
    nested_send *n = userdata;
    (void)p;
    if (n->calls++ > 0) return;
    graphmailer_message *small = NULL;
    n->nested = graphmailer_message_new("billing@contoso.test", &small);
    if (n->nested != GRAPHMAILER_OK) return;
    graphmailer_message_add_to(small, "alice@example.com", NULL);
    graphmailer_message_set_subject(small, "sent from a progress callback");
    graphmailer_message_set_text(small, "small");
    n->nested = graphmailer_mailer_send(n->mailer, small, NULL);
    graphmailer_message_free(small);
}

void test_progress_callback_may_send(void) {
    gm_reset();
    temp_file big;
    make_file(&big, "scan-4mb.bin", 4 * MB, 4);
    graphmailer_mailer *mailer = mailer_from(billing_config(true));
    graphmailer_message *m = with_file("billing@contoso.test", &big);
    nested_send n = {mailer, 0, GRAPHMAILER_ERR_INTERNAL};
    CHECK_OK(graphmailer_mailer_send_with_progress(mailer, m, NULL, send_from_progress, &n));
    CHECK(n.calls >= 2, "%d calls", n.calls);
    CHECK(n.nested == GRAPHMAILER_OK, "the send from the callback: %s", graphmailer_status_name(n.nested));
    json_value *all = gm_messages();
    CHECK(json_array_len(all, "messages") == 2);
    CHECK_STR(json_string_at(all, "messages.0.message.subject"), "sent from a progress callback");
    json_free(all);
    CHECK_OK(graphmailer_message_free(m));
    CHECK_OK(graphmailer_mailer_free(mailer));
    drop_file(&big);
}
