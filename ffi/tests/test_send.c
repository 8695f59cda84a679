/* Sending through the real emulator: every feature arrives, every status
 * comes from its situation, threads share one mailer, fork, HTTPS,
 * certificates, diagnose and verify. */
#include "tests.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *SECRET_ID = "5a1f3c7e-2b9d-4e6f-8a0c-1d3b5e7f9a2c";

/* A valid message from `sender` to alice@example.com. */
static graphmailer_message *simple(const char *sender) {
    graphmailer_message *m = NULL;
    CHECK_OK(graphmailer_message_new(sender, &m));
    CHECK_OK(graphmailer_message_add_to(m, "alice@example.com", NULL));
    CHECK_OK(graphmailer_message_set_subject(m, "Hi"));
    CHECK_OK(graphmailer_message_set_text(m, "x"));
    return m;
}

void test_every_feature_arrives(void) {
    gm_reset();
    graphmailer_mailer *mailer = gm_mailer();
    graphmailer_message *m = NULL;
    CHECK_OK(graphmailer_message_new("billing@contoso.test", &m));
    CHECK_OK(graphmailer_message_add_to(m, "alice@example.com", "Alice \"Accounts\" O'Brien"));
    CHECK_OK(graphmailer_message_add_to(m, "bob@example.com", NULL));
    CHECK_OK(graphmailer_message_add_cc(m, "carol@example.com", "Carol"));
    CHECK_OK(graphmailer_message_add_bcc(m, "archive@contoso.test", "Archive"));
    CHECK_OK(graphmailer_message_add_reply_to(m, "replies@contoso.test", "Replies"));
    CHECK_OK(graphmailer_message_set_subject(m, "R\xc3\xa9sum\xc3\xa9 \"Q3\" \\ report \xe2\x82\xac"));
    CHECK_OK(graphmailer_message_set_text(m, "replaced by the HTML body"));
    CHECK_OK(graphmailer_message_set_html(m, "<p>Logo: <img src=\"cid:logo\"></p>"));
    CHECK_OK(graphmailer_message_set_importance(m, "high"));
    CHECK_OK(graphmailer_message_set_save_to_sent_items(m, false));
    CHECK_OK(graphmailer_message_add_header(m, "x-invoice-id", "4711"));
    CHECK_OK(graphmailer_message_add_header(m, "X-Customer", "ACME"));
    const uint8_t pdf[] = "%PDF-1.4 fake";
    CHECK_OK(graphmailer_message_attach_bytes(m, "invoice.pdf", pdf, sizeof pdf - 1, NULL));
    const uint8_t png[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
    CHECK_OK(graphmailer_message_attach_inline_bytes(m, "logo.png", png, sizeof png, "image/png", "logo"));
    const uint8_t zeros[] = {0, 0, 0};
    CHECK_OK(graphmailer_message_attach_bytes(m, "data.bin", zeros, sizeof zeros, "application/x-custom"));
    graphmailer_receipt *receipt = NULL;
    CHECK_OK(graphmailer_mailer_send(mailer, m, &receipt));
    json_value *all = gm_messages();
    CHECK(json_array_len(all, "messages") == 1);
    const json_value *s = json_path(all, "messages.0");
    CHECK_STR(json_string_at(s, "mailbox"), "billing@contoso.test");
    const json_value *save = json_member(s, "save_to_sent_items");
    CHECK(save && save->type == JSON_BOOL && save->boolean == 0);
    CHECK_STR(json_string_at(s, "message.subject"), "R\xc3\xa9sum\xc3\xa9 \"Q3\" \\ report \xe2\x82\xac");
    CHECK_STR(json_string_at(s, "message.body.contentType"), "html");
    CHECK_STR(json_string_at(s, "message.body.content"), "<p>Logo: <img src=\"cid:logo\"></p>");
    CHECK_STR(json_string_at(s, "message.importance"), "high");
    CHECK_STR(json_string_at(s, "message.toRecipients.0.emailAddress.name"), "Alice \"Accounts\" O'Brien");
    CHECK_STR(json_string_at(s, "message.toRecipients.0.emailAddress.address"), "alice@example.com");
    CHECK_STR(json_string_at(s, "message.toRecipients.1.emailAddress.address"), "bob@example.com");
    CHECK(json_array_len(s, "message.toRecipients") == 2);
    CHECK_STR(json_string_at(s, "message.ccRecipients.0.emailAddress.name"), "Carol");
    CHECK_STR(json_string_at(s, "message.ccRecipients.0.emailAddress.address"), "carol@example.com");
    CHECK_STR(json_string_at(s, "message.bccRecipients.0.emailAddress.name"), "Archive");
    CHECK_STR(json_string_at(s, "message.bccRecipients.0.emailAddress.address"), "archive@contoso.test");
    CHECK_STR(json_string_at(s, "message.replyTo.0.emailAddress.name"), "Replies");
    CHECK_STR(json_string_at(s, "message.replyTo.0.emailAddress.address"), "replies@contoso.test");
    CHECK_STR(json_string_at(s, "message.internetMessageHeaders.0.name"), "x-invoice-id");
    CHECK_STR(json_string_at(s, "message.internetMessageHeaders.0.value"), "4711");
    CHECK_STR(json_string_at(s, "message.internetMessageHeaders.1.name"), "X-Customer");
    CHECK_STR(json_string_at(s, "message.internetMessageHeaders.1.value"), "ACME");
    CHECK(json_array_len(s, "message.attachments") == 3);
    CHECK_STR(json_string_at(s, "message.attachments.0.name"), "invoice.pdf");
    CHECK_STR(json_string_at(s, "message.attachments.0.contentType"), "application/pdf"); /* guessed by the core */
    CHECK_STR(json_string_at(s, "message.attachments.0.contentBytes"), "JVBERi0xLjQgZmFrZQ==");
    const json_value *inl = json_path(s, "message.attachments.0.isInline");
    CHECK(inl && inl->type == JSON_BOOL && inl->boolean == 0);
    CHECK_STR(json_string_at(s, "message.attachments.1.name"), "logo.png");
    CHECK_STR(json_string_at(s, "message.attachments.1.contentType"), "image/png");
    CHECK_STR(json_string_at(s, "message.attachments.1.contentBytes"), "iVBORw0KGgo=");
    CHECK_STR(json_string_at(s, "message.attachments.1.contentId"), "logo");
    inl = json_path(s, "message.attachments.1.isInline");
    CHECK(inl && inl->type == JSON_BOOL && inl->boolean == 1);
    CHECK_STR(json_string_at(s, "message.attachments.2.contentType"), "application/x-custom");
    CHECK_STR(json_string_at(s, "message.attachments.2.contentBytes"), "AAAA");
    json_free(all);
    CHECK_OK(graphmailer_receipt_free(receipt));
    CHECK_OK(graphmailer_message_free(m));
    CHECK_OK(graphmailer_mailer_free(mailer));
}

void test_attachments_from_files(void) {
    gm_reset();
    char dir[] = "/tmp/gm-ffi-files-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char report[1200], logo[1200];
    snprintf(report, sizeof report, "%s/report.csv", dir);
    snprintf(logo, sizeof logo, "%s/logo.gif", dir);
    FILE *f = fopen(report, "wb");
    fputs("a,b\n1,2\n", f);
    fclose(f);
    f = fopen(logo, "wb");
    fputs("GIF89a", f);
    fclose(f);
    graphmailer_mailer *mailer = gm_mailer();
    graphmailer_message *m = NULL;
    CHECK_OK(graphmailer_message_new("erp@contoso.test", &m));
    CHECK_OK(graphmailer_message_add_to(m, "alice@example.com", NULL));
    CHECK_OK(graphmailer_message_set_subject(m, "Files"));
    CHECK_OK(graphmailer_message_set_html(m, "<img src=\"cid:logo-1\">"));
    CHECK_OK(graphmailer_message_attach_file(m, report, NULL));
    CHECK_OK(graphmailer_message_attach_inline_file(m, logo, NULL, "logo-1"));
    CHECK_OK(graphmailer_message_attach_file(m, report, "text/plain"));
    /* a file that cannot be read: the core's error, naming the attachments */
    CHECK_STATUS(graphmailer_message_attach_file(m, "/nonexistent/file.pdf", NULL), GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_CONTAINS(graphmailer_last_error_field(), "attachments");
    CHECK_CONTAINS(graphmailer_last_error_message(), "/nonexistent/file.pdf");
    CHECK_STATUS(graphmailer_message_attach_file(m, "", NULL), GRAPHMAILER_ERR_INVALID_ARGUMENT);
    CHECK_OK(graphmailer_mailer_send(mailer, m, NULL));
    json_value *all = gm_messages();
    const json_value *s = json_path(all, "messages.0");
    CHECK(json_array_len(s, "message.attachments") == 3);
    CHECK_STR(json_string_at(s, "message.attachments.0.name"), "report.csv");
    CHECK_STR(json_string_at(s, "message.attachments.0.contentType"), "text/csv");
    CHECK_STR(json_string_at(s, "message.attachments.0.contentBytes"), "YSxiCjEsMgo=");
    CHECK_STR(json_string_at(s, "message.attachments.1.name"), "logo.gif");
    CHECK_STR(json_string_at(s, "message.attachments.1.contentType"), "image/gif");
    CHECK_STR(json_string_at(s, "message.attachments.1.contentId"), "logo-1");
    CHECK_STR(json_string_at(s, "message.attachments.1.contentBytes"), "R0lGODlh");
    const json_value *inl = json_path(s, "message.attachments.1.isInline");
    CHECK(inl && inl->type == JSON_BOOL && inl->boolean == 1);
    CHECK_STR(json_string_at(s, "message.attachments.2.contentType"), "text/plain");
    json_free(all);
    unlink(report);
    unlink(logo);
    rmdir(dir);
    CHECK_OK(graphmailer_message_free(m));
    CHECK_OK(graphmailer_mailer_free(mailer));
}

void test_receipt_matches_what_graph_stored(void) {
    gm_reset();
    graphmailer_mailer *mailer = gm_mailer();
    graphmailer_message *m = simple("erp@contoso.test");
    CHECK_OK(graphmailer_message_set_text(m, "plain"));
    graphmailer_receipt *receipt = NULL;
    CHECK_OK(graphmailer_mailer_send(mailer, m, &receipt));
    const char *request_id = NULL, *client_request_id = NULL;
    uint32_t attempts = 0;
    CHECK_OK(graphmailer_receipt_request_id(receipt, &request_id));
    CHECK_OK(graphmailer_receipt_client_request_id(receipt, &client_request_id));
    CHECK_OK(graphmailer_receipt_attempts(receipt, &attempts));
    CHECK(attempts == 1);
    CHECK(client_request_id && strlen(client_request_id) == 36);
    json_value *all = gm_messages();
    CHECK(request_id != NULL);
    CHECK_STR(json_string_at(all, "messages.0.request_id"), request_id);
    CHECK_STR(json_string_at(all, "messages.0.message.body.contentType"), "text");
    CHECK_STR(json_string_at(all, "messages.0.message.body.content"), "plain");
    const json_value *save = json_path(all, "messages.0.save_to_sent_items");
    CHECK(save && save->type == JSON_BOOL && save->boolean == 1); /* the default */
    json_free(all);
    /* receipts are handles like the others */
    CHECK_OK(graphmailer_receipt_free(receipt));
    CHECK_STATUS(graphmailer_receipt_attempts(receipt, &attempts), GRAPHMAILER_ERR_INVALID_HANDLE);
    /* the message handle stays usable and can be sent again */
    CHECK_OK(graphmailer_mailer_send(mailer, m, NULL));
    CHECK(gm_counter("sends_accepted") == 2);
    CHECK_OK(graphmailer_message_free(m));
    CHECK_OK(graphmailer_mailer_free(mailer));
}

/* What the last expect_failure's send left in the last error (the frees
 * after it clear the last error). */
static unsigned last_http_status;
static uint64_t last_retry_after_ms;
static graphmailer_status last_status;

/* Sends a simple message from `sender` with `c`; checks the status and the
 * last error's details. */
static void expect_failure(graphmailer_config c, const char *sender, graphmailer_status expected,
                           const char *code, const char *hint_word, int needs_request_id) {
    graphmailer_mailer *mailer = NULL;
    CHECK_OK(graphmailer_mailer_new(&c, &mailer));
    graphmailer_message *m = simple(sender);
    graphmailer_receipt *receipt = (graphmailer_receipt *)(uintptr_t)0x1;
    CHECK_STATUS(graphmailer_mailer_send(mailer, m, &receipt), expected);
    CHECK(receipt == (graphmailer_receipt *)(uintptr_t)0x1);
    CHECK(graphmailer_last_error_status() == expected);
    CHECK(graphmailer_last_error_message() != NULL);
    if (code) CHECK_STR(graphmailer_last_error_code(), code);
    if (hint_word) CHECK_CONTAINS(graphmailer_last_error_hint(), hint_word);
    if (needs_request_id) CHECK(graphmailer_last_error_request_id() != NULL);
    last_http_status = graphmailer_last_error_http_status();
    last_retry_after_ms = graphmailer_last_error_retry_after_ms();
    last_status = graphmailer_last_error_status();
    CHECK_OK(graphmailer_message_free(m));
    CHECK_OK(graphmailer_mailer_free(mailer));
}

void test_status_invalid_message(void) {
    gm_reset();
    graphmailer_mailer *mailer = gm_mailer();
    graphmailer_message *m = NULL;
    CHECK_OK(graphmailer_message_new("erp@contoso.test", &m));
    CHECK_OK(graphmailer_message_set_subject(m, "Hi\r\nBcc: everyone@contoso.test"));
    CHECK_OK(graphmailer_message_add_to(m, "alice@example.com", NULL));
    CHECK_STATUS(graphmailer_mailer_send(mailer, m, NULL), GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_STR(graphmailer_last_error_field(), "subject");
    CHECK(gm_counter("token_requests") == 0); /* refused before any network call */
    CHECK_OK(graphmailer_message_free(m));
    CHECK_OK(graphmailer_mailer_free(mailer));
}

void test_status_sender_not_allowed(void) {
    gm_reset();
    graphmailer_config c = gm_config();
    const char *allowed[] = {"erp@contoso.test", "@billing.test"};
    c.allowed_senders = allowed;
    c.allowed_senders_len = 2;
    expect_failure(c, "ceo@contoso.test", GRAPHMAILER_ERR_SENDER_NOT_ALLOWED, NULL, "erp@contoso.test", 0);
    CHECK(gm_counter("token_requests") == 0);
    CHECK(gm_counter("send_requests") == 0);
}

void test_status_authentication(void) {
    gm_reset();
    graphmailer_config c = gm_config();
    c.client_secret = SECRET_ID;
    expect_failure(c, "erp@contoso.test", GRAPHMAILER_ERR_AUTHENTICATION, "AADSTS7000215", "Secret ID", 1);
    CHECK(last_http_status == 400 || last_http_status == 401, "%u", last_http_status);
    c.client_secret = "Old8Q~expiredSecretValue.0123456789abcdef";
    expect_failure(c, "erp@contoso.test", GRAPHMAILER_ERR_AUTHENTICATION, "AADSTS7000222", "expired", 1);
    CHECK(gm_counter("sends_accepted") == 0);
}

void test_status_access_denied(void) {
    gm_reset();
    expect_failure(gm_config(), "ceo@contoso.test", GRAPHMAILER_ERR_ACCESS_DENIED, "ErrorAccessDenied", "30 minutes", 1);
    CHECK(last_http_status == 403, "%u", last_http_status);
    CHECK(last_status == GRAPHMAILER_ERR_ACCESS_DENIED && !graphmailer_status_is_retryable(last_status));
}

void test_status_mailbox_not_found(void) {
    gm_reset();
    expect_failure(gm_config(), "nobody@contoso.test", GRAPHMAILER_ERR_MAILBOX_NOT_FOUND, "ErrorInvalidUser",
                   "nobody@contoso.test", 1);
    expect_failure(gm_config(), "legacy@contoso.test", GRAPHMAILER_ERR_MAILBOX_NOT_FOUND,
                   "MailboxNotEnabledForRESTAPI", "licence", 1);
}

void test_status_throttled(void) {
    gm_reset();
    gm_put_faults("{\"send\":[{\"status\":429,\"retry_after_secs\":1},{\"status\":429,\"retry_after_secs\":1}]}");
    graphmailer_config c = gm_config();
    c.max_attempts = 2;
    expect_failure(c, "erp@contoso.test", GRAPHMAILER_ERR_THROTTLED, NULL, NULL, 1);
    CHECK(last_http_status == 429, "%u", last_http_status);
    CHECK(last_retry_after_ms == 1000, "%llu", (unsigned long long)last_retry_after_ms);
    CHECK(graphmailer_status_is_retryable(GRAPHMAILER_ERR_THROTTLED));
    CHECK(gm_counter("send_requests") == 2);
    CHECK(gm_counter("sends_accepted") == 0);
}

void test_status_transient(void) {
    gm_reset();
    gm_put_faults("{\"send\":[{\"status\":503,\"retry_after_secs\":0},{\"status\":503,\"retry_after_secs\":0}]}");
    graphmailer_config c = gm_config();
    c.max_attempts = 2;
    expect_failure(c, "erp@contoso.test", GRAPHMAILER_ERR_TRANSIENT, NULL, NULL, 0);
    CHECK(last_http_status == 503, "%u", last_http_status);
    CHECK(gm_counter("send_requests") == 2);
    /* nothing listening: fails before sending, also transient */
    c = gm_config();
    c.authority_host = "http://127.0.0.1:9";
    c.graph_endpoint = "http://127.0.0.1:9";
    c.max_attempts = 1;
    c.connect_timeout_ms = 2000;
    expect_failure(c, "erp@contoso.test", GRAPHMAILER_ERR_TRANSIENT, NULL, NULL, 0);
}

void test_status_ambiguous_delivery(void) {
    gm_reset();
    gm_put_faults("{\"send\":[{\"drop_after_body\":true,\"deliver\":true}]}");
    expect_failure(gm_config(), "erp@contoso.test", GRAPHMAILER_ERR_AMBIGUOUS_DELIVERY, NULL, NULL, 0);
    CHECK(!graphmailer_status_is_retryable(GRAPHMAILER_ERR_AMBIGUOUS_DELIVERY));
    /* not retried: one request, and the mail did go out */
    CHECK(gm_counter("send_requests") == 1);
    json_value *all = gm_messages();
    CHECK(json_array_len(all, "messages") == 1);
    json_free(all);
}

/* Raises the stop flag once the emulator holds the send's request. */
static void *raise_when_held(void *flag) {
    json_free(gm_get_json("/_emulator/counters/wait?name=send_requests&timeout_ms=15000"));
    *(volatile int *)flag = 1;
    return NULL;
}

void test_a_stop_flag_stops_sends_and_says_whether_the_mail_went(void) {
    gm_reset();
    /* Graph holds its answer: the flag is raised while the request is with it. */
    gm_put_faults("{\"delay_ms\":30000}");
    graphmailer_mailer *mailer = gm_mailer();
    graphmailer_message *m = simple("erp@contoso.test");
    volatile int stop = 0;
    CHECK_OK(graphmailer_set_send_stop((const int *)&stop));
    pthread_t raiser;
    CHECK(pthread_create(&raiser, NULL, raise_when_held, (void *)&stop) == 0);
    double started = gm_now_ms();
    CHECK_STATUS(graphmailer_mailer_send(mailer, m, NULL), GRAPHMAILER_ERR_AMBIGUOUS_DELIVERY);
    pthread_join(raiser, NULL);
    CHECK(gm_now_ms() - started < 15000, "the send waited for Graph's answer");
    CHECK_STR(gm_last_message(), "stopped by the stop flag after the mail's request reached Microsoft");
    const char *id = graphmailer_last_error_request_id();
    CHECK(id && strlen(id) == 36, "request id %s", id ? id : "(none)");
    const char *hint = graphmailer_last_error_hint();
    CHECK(hint && strstr(hint, "erp@contoso.test's Sent Items"), "hint %s", hint ? hint : "(none)");

    /* Raised already: the next send, a MIME one too, stops before any request. */
    CHECK_STATUS(graphmailer_mailer_send(mailer, m, NULL), GRAPHMAILER_ERR_TRANSIENT);
    CHECK_STR(gm_last_message(), "stopped by the stop flag before the mail went out: nothing was sent");
    const char *mime = "From: erp@contoso.test\r\nTo: a@example.com\r\n\r\nx\r\n";
    CHECK_STATUS(graphmailer_mailer_send_mime(mailer, NULL, (const uint8_t *)mime, strlen(mime), NULL),
                 GRAPHMAILER_ERR_TRANSIENT);
    CHECK(gm_counter("send_requests") == 1);

    /* Removed: sends run to their end again. */
    CHECK_OK(graphmailer_set_send_stop(NULL));
    gm_put_faults("{}");
    CHECK_OK(graphmailer_mailer_send(mailer, m, NULL));
    CHECK_OK(graphmailer_message_free(m));
    CHECK_OK(graphmailer_mailer_free(mailer));
}

void test_status_service(void) {
    gm_reset();
    gm_put_faults("{\"send\":[{\"status\":409,\"code\":\"ErrorConflict\",\"message\":\"odd\"}]}");
    expect_failure(gm_config(), "erp@contoso.test", GRAPHMAILER_ERR_SERVICE, "ErrorConflict", NULL, 1);
    CHECK(last_http_status == 409, "%u", last_http_status);
}

void test_status_config(void) {
    graphmailer_config c = gm_config();
    c.client_id = NULL;
    graphmailer_mailer *mailer = NULL;
    CHECK_STATUS(graphmailer_mailer_new(&c, &mailer), GRAPHMAILER_ERR_CONFIG);
    CHECK_STR(graphmailer_last_error_field(), "AZURE_CLIENT_ID");
    CHECK(graphmailer_last_error_hint() == NULL || strlen(graphmailer_last_error_hint()) > 0);
}

void test_retry_then_success(void) {
    gm_reset();
    gm_put_faults("{\"send\":[{\"status\":503,\"retry_after_secs\":0}]}");
    graphmailer_mailer *mailer = gm_mailer();
    graphmailer_message *m = simple("erp@contoso.test");
    graphmailer_receipt *receipt = NULL;
    CHECK_OK(graphmailer_mailer_send(mailer, m, &receipt));
    uint32_t attempts = 0;
    CHECK_OK(graphmailer_receipt_attempts(receipt, &attempts));
    CHECK(attempts == 2);
    CHECK(gm_counter("sends_accepted") == 1);
    /* a revoked token: refreshed once, transparently */
    CHECK_OK(graphmailer_receipt_free(receipt));
    int http_status = 0;
    char *revoked = gm_http(gm_emu.port, "POST", "/_emulator/tokens/revoke", NULL, &http_status);
    CHECK(revoked != NULL && http_status == 200);
    free(revoked);
    receipt = NULL;
    CHECK_OK(graphmailer_mailer_send(mailer, m, &receipt));
    uint64_t tokens = 0;
    CHECK_OK(graphmailer_mailer_token_requests(mailer, &tokens));
    CHECK(tokens == 2);
    CHECK_OK(graphmailer_receipt_free(receipt));
    CHECK_OK(graphmailer_message_free(m));
    CHECK_OK(graphmailer_mailer_free(mailer));
}

#define THREADS 8
#define SENDS_PER_THREAD 5

typedef struct {
    graphmailer_mailer *mailer;
    int index;
    int ok;
    graphmailer_status last_status;
} worker;

static void *send_from_thread(void *arg) {
    worker *w = arg;
    for (int i = 0; i < SENDS_PER_THREAD; i++) {
        graphmailer_message *m = NULL;
        char subject[64];
        snprintf(subject, sizeof subject, "thread %d mail %d", w->index, i);
        graphmailer_status s = graphmailer_message_new(i % 2 ? "billing@contoso.test" : "erp@contoso.test", &m);
        if (s == GRAPHMAILER_OK) s = graphmailer_message_add_to(m, "alice@example.com", NULL);
        if (s == GRAPHMAILER_OK) s = graphmailer_message_set_subject(m, subject);
        if (s == GRAPHMAILER_OK) s = graphmailer_message_set_text(m, "from a thread");
        graphmailer_receipt *receipt = NULL;
        if (s == GRAPHMAILER_OK) s = graphmailer_mailer_send(w->mailer, m, &receipt);
        if (s == GRAPHMAILER_OK) w->ok++;
        else w->last_status = s;
        graphmailer_receipt_free(receipt);
        graphmailer_message_free(m);
    }
    return NULL;
}

void test_eight_threads_share_one_mailer_and_token(void) {
    gm_reset();
    gm_put_faults("{\"delay_ms\":50}"); /* so sends overlap */
    graphmailer_mailer *mailer = gm_mailer();
    pthread_t threads[THREADS];
    worker workers[THREADS];
    for (int i = 0; i < THREADS; i++) {
        workers[i] = (worker){mailer, i, 0, GRAPHMAILER_OK};
        pthread_create(&threads[i], NULL, send_from_thread, &workers[i]);
    }
    int ok = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        ok += workers[i].ok;
        if (workers[i].last_status != GRAPHMAILER_OK)
            gm_fail(__FILE__, __LINE__, "thread %d: %s", i, graphmailer_status_name(workers[i].last_status));
    }
    CHECK(ok == THREADS * SENDS_PER_THREAD, "%d sent", ok);
    uint64_t tokens = 0;
    CHECK_OK(graphmailer_mailer_token_requests(mailer, &tokens));
    CHECK(tokens == 1, "%llu token requests", (unsigned long long)tokens);
    CHECK(gm_counter("token_requests") == 1);
    CHECK(gm_counter("tokens_issued") == 1);
    CHECK(gm_counter("sends_accepted") == THREADS * SENDS_PER_THREAD);
    long in_flight = gm_counter("max_in_flight");
    CHECK(in_flight >= 2 && in_flight <= 4, "max_in_flight %ld", in_flight); /* overlapped, within Graph's limit */
    json_value *all = gm_messages();
    CHECK(json_array_len(all, "messages") == THREADS * SENDS_PER_THREAD);
    json_free(all);
    CHECK_OK(graphmailer_mailer_free(mailer));
}

void test_mailer_from_env(void) {
    gm_reset();
    setenv("AZURE_TENANT_ID", "7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c37", 1);
    setenv("AZURE_CLIENT_ID", "3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14", 1);
    setenv("AZURE_CLIENT_SECRET", gm_emu.client_secret, 1);
    setenv("AZURE_AUTHORITY_HOST", gm_emu.url, 1);
    setenv("GRAPHMAILER_GRAPH_ENDPOINT", gm_emu.url, 1);
    setenv("GRAPHMAILER_ALLOWED_SENDERS", "erp@contoso.test", 1);
    graphmailer_mailer *mailer = NULL;
    CHECK_OK(graphmailer_mailer_new_from_env(&mailer));
    graphmailer_message *m = simple("erp@contoso.test");
    CHECK_OK(graphmailer_mailer_send(mailer, m, NULL));
    CHECK_OK(graphmailer_message_free(m));
    m = simple("billing@contoso.test");
    CHECK_STATUS(graphmailer_mailer_send(mailer, m, NULL), GRAPHMAILER_ERR_SENDER_NOT_ALLOWED);
    CHECK_OK(graphmailer_message_free(m));
    CHECK_OK(graphmailer_mailer_free(mailer));
    CHECK(gm_counter("sends_accepted") == 1);
    setenv("GRAPHMAILER_MAX_ATTEMPTS", "zero", 1);
    mailer = NULL;
    CHECK_STATUS(graphmailer_mailer_new_from_env(&mailer), GRAPHMAILER_ERR_CONFIG);
    CHECK_STR(graphmailer_last_error_field(), "GRAPHMAILER_MAX_ATTEMPTS");
    unsetenv("GRAPHMAILER_MAX_ATTEMPTS");
    unsetenv("AZURE_TENANT_ID");
    CHECK_STATUS(graphmailer_mailer_new_from_env(&mailer), GRAPHMAILER_ERR_CONFIG);
    CHECK_STR(graphmailer_last_error_field(), "AZURE_TENANT_ID");
    CHECK(mailer == NULL);
    unsetenv("AZURE_CLIENT_ID");
    unsetenv("AZURE_CLIENT_SECRET");
    unsetenv("AZURE_AUTHORITY_HOST");
    unsetenv("GRAPHMAILER_GRAPH_ENDPOINT");
    unsetenv("GRAPHMAILER_ALLOWED_SENDERS");
}

void test_mailer_from_file(void) {
    gm_reset();
    char path[] = "/tmp/gm-ffi-config-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fprintf(f,
            "tenant_id = \"7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c37\"\n"
            "client_id = \"3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14\"\n"
            "authority_host = \"%s\"\ngraph_endpoint = \"%s\"\n"
            "allowed_senders = [\"@contoso.test\"]\n",
            gm_emu.url, gm_emu.url);
    fclose(f);
    /* the secret stays out of the file: it comes from the environment */
    setenv("AZURE_CLIENT_SECRET", gm_emu.client_secret, 1);
    graphmailer_mailer *mailer = NULL;
    CHECK_OK(graphmailer_mailer_new_from_file(path, &mailer));
    unsetenv("AZURE_CLIENT_SECRET");
    graphmailer_message *m = simple("billing@contoso.test");
    CHECK_OK(graphmailer_mailer_send(mailer, m, NULL));
    CHECK_OK(graphmailer_message_free(m));
    CHECK_OK(graphmailer_mailer_free(mailer));
    CHECK(gm_counter("sends_accepted") == 1);
    f = fopen(path, "w");
    fputs("tenant = \"x\"\n", f);
    fclose(f);
    CHECK_STATUS(graphmailer_mailer_new_from_file(path, &mailer), GRAPHMAILER_ERR_CONFIG);
    CHECK_CONTAINS(graphmailer_last_error_message(), "unknown key 'tenant'");
    /* a file holding the secret must not be readable by every local user */
    f = fopen(path, "w");
    fprintf(f,
            "tenant_id = \"7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c37\"\n"
            "client_id = \"3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14\"\n"
            "client_secret = \"%s\"\n",
            gm_emu.client_secret);
    fclose(f);
    chmod(path, 0644);
    CHECK_STATUS(graphmailer_mailer_new_from_file(path, &mailer), GRAPHMAILER_ERR_CONFIG);
    CHECK_CONTAINS(graphmailer_last_error_message(), "0644");
    CHECK_CONTAINS(graphmailer_last_error_hint(), "chmod 640");
    CHECK_CONTAINS(graphmailer_last_error_hint(), "chown root:mailsend");
    chmod(path, 0640);
    CHECK_OK(graphmailer_mailer_new_from_file(path, &mailer));
    CHECK_OK(graphmailer_mailer_free(mailer));
    unlink(path);
    CHECK_STATUS(graphmailer_mailer_new_from_file(path, &mailer), GRAPHMAILER_ERR_CONFIG);
}

void test_describe_has_no_secret(void) {
    graphmailer_mailer *mailer = gm_mailer();
    char *json = NULL;
    CHECK_OK(graphmailer_mailer_describe(mailer, &json));
    json_value *d = json_parse(json);
    CHECK(d != NULL, "describe gave: %s", json ? json : "(null)");
    CHECK_STR(json_string_at(d, "tenant_id"), "7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c37");
    CHECK_STR(json_string_at(d, "client_id"), "3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14");
    CHECK_STR(json_string_at(d, "credential"), "client secret");
    CHECK_CONTAINS(json_string_at(d, "token_url"), "/oauth2/v2.0/token");
    CHECK(json && strstr(json, gm_emu.client_secret) == NULL);
    CHECK(json && strstr(json, "Emu8Q") == NULL);
    json_free(d);
    CHECK_OK(graphmailer_string_free(json));
    CHECK_OK(graphmailer_mailer_free(mailer));
}

void test_secrets_never_in_errors(void) {
    gm_reset();
    const char *secrets[] = {"Old8Q~expiredSecretValue.0123456789abcdef", "Wrong8Q~notTheSecret.0123456789abcdefghij"};
    for (int i = 0; i < 2; i++) {
        graphmailer_config c = gm_config();
        c.client_secret = secrets[i];
        graphmailer_mailer *mailer = NULL;
        CHECK_OK(graphmailer_mailer_new(&c, &mailer));
        graphmailer_message *m = simple("erp@contoso.test");
        CHECK_STATUS(graphmailer_mailer_send(mailer, m, NULL), GRAPHMAILER_ERR_AUTHENTICATION);
        const char *texts[] = {graphmailer_last_error_message(), graphmailer_last_error_hint(),
                               graphmailer_last_error_code(), graphmailer_last_error_field()};
        for (int k = 0; k < 4; k++) CHECK(texts[k] == NULL || strstr(texts[k], secrets[i]) == NULL);
        char *json = NULL;
        CHECK_OK(graphmailer_mailer_diagnose(mailer, &json));
        CHECK(json && strstr(json, secrets[i]) == NULL);
        CHECK_OK(graphmailer_string_free(json));
        CHECK_OK(graphmailer_message_free(m));
        CHECK_OK(graphmailer_mailer_free(mailer));
    }
}

void test_fork_child_gets_forked_status(void) {
    gm_reset();
    graphmailer_mailer *mailer = gm_mailer();
    graphmailer_message *m = simple("erp@contoso.test");
    CHECK_OK(graphmailer_mailer_send(mailer, m, NULL)); /* the parent's threads are running */
    fflush(NULL);
    /* The child reports through a pipe: under valgrind its exit status is
     * valgrind's own (the parent's threads it lacks look like leaks). */
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        /* the child: must get a status at once, never hang */
        alarm(60);
        graphmailer_status got[2];
        got[0] = graphmailer_mailer_send(mailer, m, NULL);
        graphmailer_mailer *other = NULL;
        graphmailer_config c = gm_config();
        got[1] = graphmailer_mailer_new(&c, &other);
        (void)!write(fds[1], got, sizeof got);
        _exit(0);
    }
    close(fds[1]);
    graphmailer_status got[2] = {GRAPHMAILER_OK, GRAPHMAILER_OK};
    CHECK(read(fds[0], got, sizeof got) == (ssize_t)sizeof got, "the child reported nothing");
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(got[0] == GRAPHMAILER_ERR_FORKED, "send in the child: %s", graphmailer_status_name(got[0]));
    CHECK(got[1] == GRAPHMAILER_ERR_FORKED, "new mailer in the child: %s", graphmailer_status_name(got[1]));
    /* the parent still sends */
    CHECK_OK(graphmailer_mailer_send(mailer, m, NULL));
    CHECK(gm_counter("sends_accepted") == 2);
    CHECK_OK(graphmailer_message_free(m));
    CHECK_OK(graphmailer_mailer_free(mailer));
}

void test_https_with_ca_bundle(void) {
    gm_emulator tls;
    if (gm_emulator_start(&tls, "--port 0") != 0) {
        gm_fail(__FILE__, __LINE__, "the HTTPS emulator did not start");
        return;
    }
    CHECK(strncmp(tls.url, "https://", 8) == 0, "url %s", tls.url);
    CHECK(tls.ca_file[0] != 0);
    graphmailer_config c = gm_config();
    c.authority_host = tls.url;
    c.graph_endpoint = tls.url;
    /* without the emulator's CA: refused as untrusted, naming the setting that fixes it */
    graphmailer_mailer *mailer = NULL;
    CHECK_OK(graphmailer_mailer_new(&c, &mailer));
    graphmailer_message *m = simple("erp@contoso.test");
    /* Repeated: the refused handshake is also where a host that does not
     * ignore SIGPIPE used to be killed now and then. */
    int rounds = getenv("GM_QUICK") ? 1 : 8;
    for (int i = 0; i < rounds; i++) {
        graphmailer_status s = graphmailer_mailer_send(mailer, m, NULL);
        CHECK(s == GRAPHMAILER_ERR_CONFIG, "%s", graphmailer_status_name(s));
        CHECK_STR(graphmailer_last_error_field(), "GRAPHMAILER_CA_BUNDLE");
        CHECK_CONTAINS(graphmailer_last_error_message(), "not trusted");
    }
    CHECK_OK(graphmailer_mailer_free(mailer));
    /* trusting its CA file */
    c.ca_bundle_path = tls.ca_file;
    CHECK_OK(graphmailer_mailer_new(&c, &mailer));
    graphmailer_receipt *receipt = NULL;
    CHECK_OK(graphmailer_mailer_send(mailer, m, &receipt));
    const char *rid = NULL;
    CHECK_OK(graphmailer_receipt_request_id(receipt, &rid));
    CHECK(rid != NULL);
    CHECK_OK(graphmailer_receipt_free(receipt));
    CHECK_OK(graphmailer_mailer_free(mailer));
    /* trusting its CA given as PEM in memory */
    size_t len = 0;
    char *pem = gm_read_file(tls.ca_file, &len);
    c.ca_bundle_path = NULL;
    c.ca_bundle_pem = (const uint8_t *)pem;
    c.ca_bundle_pem_len = len;
    CHECK_OK(graphmailer_mailer_new(&c, &mailer));
    CHECK_OK(graphmailer_mailer_send(mailer, m, NULL));
    CHECK_OK(graphmailer_mailer_free(mailer));
    free(pem);
    CHECK_OK(graphmailer_message_free(m));
    gm_emulator_stop(&tls);
}

void test_certificate_mailer(void) {
    gm_reset();
    const char *dir = getenv("GM_FIXTURES");
    if (!dir) {
        gm_fail(__FILE__, __LINE__, "GM_FIXTURES is not set");
        return;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/combined.pem", dir);
    graphmailer_certificate *cert = NULL;
    CHECK_OK(graphmailer_certificate_from_path(path, NULL, &cert));
    graphmailer_config c = gm_config();
    c.client_secret = NULL;
    c.client_certificate = cert;
    graphmailer_mailer *mailer = NULL;
    CHECK_OK(graphmailer_mailer_new(&c, &mailer));
    /* the mailer keeps its own reference */
    CHECK_OK(graphmailer_certificate_free(cert));
    char *json = NULL;
    CHECK_OK(graphmailer_mailer_describe(mailer, &json));
    CHECK_CONTAINS(json, "\"credential\":\"certificate\"");
    CHECK(json && strstr(json, "PRIVATE") == NULL);
    CHECK_OK(graphmailer_string_free(json));
    /* Not yet uploaded to the app registration: the identity platform
     * refuses the assertion, and nothing is sent. */
    graphmailer_message *m = simple("erp@contoso.test");
    CHECK_STATUS(graphmailer_mailer_send(mailer, m, NULL), GRAPHMAILER_ERR_AUTHENTICATION);
    CHECK_STR(graphmailer_last_error_code(), "AADSTS700027");
    CHECK(graphmailer_last_error_hint() != NULL);
    CHECK(gm_counter("send_requests") == 0);
    /* Uploaded (as an administrator does in the portal): the signed
     * assertion is accepted and the mail goes out. */
    snprintf(path, sizeof path, "%s/cert.pem", dir);
    char *cert_pem = gm_read_file(path, NULL);
    CHECK(cert_pem != NULL);
    int status = 0;
    char *answer = gm_http(gm_emu.port, "POST",
                           "/_emulator/apps/3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14/certificates",
                           cert_pem ? cert_pem : "", &status);
    CHECK(status == 201, "registering the certificate: HTTP %d", status);
    free(answer);
    free(cert_pem);
    CHECK_OK(graphmailer_mailer_send(mailer, m, NULL));
    CHECK(gm_counter("sends_accepted") == 1);
    CHECK_OK(graphmailer_message_free(m));
    CHECK_OK(graphmailer_mailer_free(mailer));
    /* the environment's certificate settings */
    setenv("AZURE_TENANT_ID", "7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c37", 1);
    setenv("AZURE_CLIENT_ID", "3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14", 1);
    snprintf(path, sizeof path, "%s/encrypted.pem", dir);
    setenv("AZURE_CLIENT_CERTIFICATE_PATH", path, 1);
    setenv("AZURE_CLIENT_CERTIFICATE_PASSWORD", "wrong", 1);
    mailer = NULL;
    CHECK_STATUS(graphmailer_mailer_new_from_env(&mailer), GRAPHMAILER_ERR_CONFIG);
    CHECK_STR(graphmailer_last_error_field(), "AZURE_CLIENT_CERTIFICATE_PASSWORD");
    setenv("AZURE_CLIENT_CERTIFICATE_PASSWORD", "pem-pass", 1);
    CHECK_OK(graphmailer_mailer_new_from_env(&mailer));
    CHECK_OK(graphmailer_mailer_free(mailer));
    unsetenv("AZURE_TENANT_ID");
    unsetenv("AZURE_CLIENT_ID");
    unsetenv("AZURE_CLIENT_CERTIFICATE_PATH");
    unsetenv("AZURE_CLIENT_CERTIFICATE_PASSWORD");
}

void test_diagnose(void) {
    gm_reset();
    graphmailer_mailer *mailer = gm_mailer();
    char *json = NULL;
    CHECK_OK(graphmailer_mailer_diagnose(mailer, &json));
    json_value *d = json_parse(json);
    CHECK(d != NULL, "diagnose gave: %s", json ? json : "(null)");
    const json_value *ok = json_member(d, "ok");
    CHECK(ok && ok->type == JSON_BOOL && ok->boolean == 1, "%s", json);
    const json_value *acquired = json_member(d, "token_acquired");
    CHECK(acquired && acquired->boolean == 1);
    CHECK_STR(json_string_at(d, "roles.0"), "Mail.Send");
    CHECK_STR(json_string_at(d, "token_tenant"), "7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c37");
    CHECK(json_array_len(d, "findings") >= 1);
    CHECK_STR(json_string_at(d, "findings.0.id"), "mail-send-granted");
    CHECK_STR(json_string_at(d, "findings.0.severity"), "info");
    const json_value *err = json_member(d, "error");
    CHECK(err && err->type == JSON_NULL);
    json_free(d);
    CHECK_OK(graphmailer_string_free(json));
    CHECK_OK(graphmailer_mailer_free(mailer));
    /* an app without Mail.Send: the call succeeds, the diagnosis says why not */
    graphmailer_config c = gm_config();
    c.client_id = "a6d4c2b0-9e8f-4a7b-8c6d-5e4f3a2b1c0d";
    c.client_secret = "Rep8Q~reportingSecretValue.0123456789abcd";
    CHECK_OK(graphmailer_mailer_new(&c, &mailer));
    CHECK_OK(graphmailer_mailer_diagnose(mailer, &json));
    d = json_parse(json);
    ok = json_member(d, "ok");
    CHECK(ok && ok->type == JSON_BOOL && ok->boolean == 0, "%s", json);
    CHECK_CONTAINS(json, "missing-mail-send");
    json_free(d);
    CHECK_OK(graphmailer_string_free(json));
    CHECK_OK(graphmailer_mailer_free(mailer));
    /* a pasted secret ID: the token request's error, with its code and hint */
    c = gm_config();
    c.client_secret = SECRET_ID;
    CHECK_OK(graphmailer_mailer_new(&c, &mailer));
    CHECK_OK(graphmailer_mailer_diagnose(mailer, &json));
    d = json_parse(json);
    CHECK_STR(json_string_at(d, "error.kind"), "authentication");
    CHECK_STR(json_string_at(d, "error.code"), "AADSTS7000215");
    CHECK_STR(json_string_at(d, "findings.0.id"), "token-request-failed");
    CHECK_STR(json_string_at(d, "findings.0.severity"), "error");
    json_free(d);
    CHECK_OK(graphmailer_string_free(json));
    CHECK_OK(graphmailer_mailer_free(mailer));
}

void test_verify(void) {
    gm_reset();
    graphmailer_mailer *mailer = gm_mailer();
    const char *allowed[] = {"erp@contoso.test", "billing@contoso.test"};
    const char *denied[] = {"ceo@contoso.test"};
    char *json = NULL;
    CHECK_OK(graphmailer_mailer_verify(mailer, allowed, 2, denied, 1, &json));
    json_value *v = json_parse(json);
    const json_value *holds = json_member(v, "holds");
    CHECK(holds && holds->type == JSON_BOOL && holds->boolean == 1, "%s", json);
    CHECK(json_array_len(v, "rows") == 3);
    CHECK_STR(json_string_at(v, "rows.2.sender"), "ceo@contoso.test");
    CHECK_STR(json_string_at(v, "rows.2.expected"), "denied");
    CHECK_STR(json_string_at(v, "rows.2.observed"), "denied");
    CHECK_STR(json_string_at(v, "rows.2.code"), "ErrorAccessDenied");
    CHECK_STR(json_string_at(v, "rows.0.observed"), "sent");
    json_free(v);
    CHECK_OK(graphmailer_string_free(json));
    /* the probes went to the senders' own mailboxes only */
    json_value *all = gm_messages();
    CHECK(json_array_len(all, "messages") == 2);
    CHECK_STR(json_string_at(all, "messages.0.message.toRecipients.0.emailAddress.address"), "erp@contoso.test");
    json_free(all);
    /* a restriction that does not hold: the CEO expected allowed */
    CHECK_OK(graphmailer_mailer_verify(mailer, denied, 1, NULL, 0, &json));
    v = json_parse(json);
    holds = json_member(v, "holds");
    CHECK(holds && holds->type == JSON_BOOL && holds->boolean == 0, "%s", json);
    json_free(v);
    CHECK_OK(graphmailer_string_free(json));
    /* repeated until the deadline: more than one round */
    CHECK_OK(graphmailer_mailer_verify_until(mailer, denied, 1, NULL, 0, 300, 100, &json));
    v = json_parse(json);
    const json_value *round = json_member(v, "round");
    CHECK(round && round->type == JSON_NUMBER && round->number >= 2, "%s", json);
    json_free(v);
    CHECK_OK(graphmailer_string_free(json));
    /* nothing to test, a malformed sender */
    json = NULL;
    CHECK_STATUS(graphmailer_mailer_verify(mailer, NULL, 0, NULL, 0, &json), GRAPHMAILER_ERR_CONFIG);
    CHECK(json == NULL);
    const char *bad[] = {"not an address"};
    CHECK_STATUS(graphmailer_mailer_verify(mailer, allowed, 1, bad, 1, &json), GRAPHMAILER_ERR_CONFIG);
    CHECK_STR(graphmailer_last_error_field(), "denied[0]");
    CHECK_STATUS(graphmailer_mailer_verify(mailer, NULL, 1, NULL, 0, &json), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_STR(graphmailer_last_error_field(), "allowed");
    CHECK_OK(graphmailer_mailer_free(mailer));
}

/* A "Graph" that reads the request line and hangs up at once. */
typedef struct {
    int listen_fd;
} rude_server;

static void *hang_up(void *arg) {
    rude_server *srv = arg;
    for (int i = 0; i < 4; i++) {
        int fd = accept(srv->listen_fd, NULL, NULL);
        if (fd < 0) break;
        char buf[256];
        (void)!read(fd, buf, sizeof buf);
        close(fd);
    }
    return NULL;
}

void test_peer_hanging_up_does_not_kill_the_host(void) {
    gm_reset();
    /* The host ignores nothing: SIGPIPE keeps its default action (the runner
     * never changes it), so a write into a closed socket would end it. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    CHECK(bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 && listen(fd, 8) == 0);
    getsockname(fd, (struct sockaddr *)&addr, &len);
    rude_server srv = {fd};
    pthread_t t;
    pthread_create(&t, NULL, hang_up, &srv);
    char graph[64];
    snprintf(graph, sizeof graph, "http://127.0.0.1:%d", ntohs(addr.sin_port));
    graphmailer_config c = gm_config();
    c.graph_endpoint = graph;
    c.max_attempts = 1;
    graphmailer_mailer *mailer = NULL;
    CHECK_OK(graphmailer_mailer_new(&c, &mailer));
    /* the calling thread's signal mask is as it was */
    sigset_t now;
    pthread_sigmask(SIG_BLOCK, NULL, &now);
    CHECK(!sigismember(&now, SIGPIPE));
    graphmailer_message *m = simple("erp@contoso.test");
    /* a body of about 3 MB (350 KB for valgrind), so the library is still
     * writing when the peer hangs up */
    size_t big = getenv("GM_QUICK") ? 256 * 1024 : 2 * 1024 * 1024;
    uint8_t *data = calloc(1, big);
    CHECK_OK(graphmailer_message_attach_bytes(m, "big.bin", data, big, NULL));
    free(data);
    int rounds = getenv("GM_QUICK") ? 1 : 3;
    for (int i = 0; i < rounds; i++) {
        graphmailer_status s = graphmailer_mailer_send(mailer, m, NULL);
        CHECK(s == GRAPHMAILER_ERR_AMBIGUOUS_DELIVERY || s == GRAPHMAILER_ERR_TRANSIENT, "status %s: %s",
              graphmailer_status_name(s), gm_last_message());
    }
    /* and still is after the sends */
    pthread_sigmask(SIG_BLOCK, NULL, &now);
    CHECK(!sigismember(&now, SIGPIPE));
    CHECK_OK(graphmailer_message_free(m));
    CHECK_OK(graphmailer_mailer_free(mailer));
    shutdown(fd, SHUT_RDWR);
    close(fd);
    pthread_join(t, NULL);
}

/* Runs `program` with the emulator's settings in its environment; returns
 * its exit status (or -1). */
static int run_example(const char *program, const char *sender, const char *attachment) {
    pid_t pid = fork();
    if (pid == 0) {
        setenv("AZURE_TENANT_ID", "7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c37", 1);
        setenv("AZURE_CLIENT_ID", "3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14", 1);
        setenv("AZURE_CLIENT_SECRET", gm_emu.client_secret, 1);
        setenv("AZURE_AUTHORITY_HOST", gm_emu.url, 1);
        setenv("GRAPHMAILER_GRAPH_ENDPOINT", gm_emu.url, 1);
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execl(program, program, sender, "alice@example.com", "From the example", "Sent by examples/send.c",
              attachment, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

/* examples/send.c, built by test.sh with pkg-config against the installed
 * library, shared (GM_EXAMPLE) and static (GM_EXAMPLE_STATIC). */
void test_example_programs(void) {
    const char *programs[] = {getenv("GM_EXAMPLE"), getenv("GM_EXAMPLE_STATIC")};
    /* a regular file: its size is taken when attached, its bytes when sent */
    char dir[] = "/tmp/gm-ffi-example-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char attachment[1200];
    snprintf(attachment, sizeof attachment, "%s/remittance.txt", dir);
    FILE *f = fopen(attachment, "wb");
    CHECK(f != NULL);
    if (f) {
        fputs("paid\n", f);
        fclose(f);
    }
    for (int i = 0; i < 2; i++) {
        if (!programs[i]) {
            gm_fail(__FILE__, __LINE__, "%s is not set (test.sh builds the example)", i ? "GM_EXAMPLE_STATIC" : "GM_EXAMPLE");
            continue;
        }
        gm_reset();
        CHECK(run_example(programs[i], "erp@contoso.test", attachment) == 0, "%s", programs[i]);
        json_value *all = gm_messages();
        CHECK_STR(json_string_at(all, "messages.0.message.subject"), "From the example");
        CHECK_STR(json_string_at(all, "messages.0.message.attachments.0.name"), "remittance.txt");
        CHECK_STR(json_string_at(all, "messages.0.message.attachments.0.contentBytes"), "cGFpZAo=");
        json_free(all);
        /* refused: exit status 10 + the status number */
        CHECK(run_example(programs[i], "ceo@contoso.test", NULL) == 10 + GRAPHMAILER_ERR_ACCESS_DENIED);
        /* a directory is no attachment: refused while building the message */
        CHECK(run_example(programs[i], "erp@contoso.test", dir) == 10 + GRAPHMAILER_ERR_INVALID_MESSAGE);
    }
    unlink(attachment);
    rmdir(dir);
}

typedef struct {
    graphmailer_mailer *mailer;
    graphmailer_message *message;
    int ok;
} shared_send;

static void *send_shared(void *arg) {
    shared_send *w = arg;
    for (int i = 0; i < 3; i++)
        if (graphmailer_mailer_send(w->mailer, w->message, NULL) == GRAPHMAILER_OK) w->ok++;
    return NULL;
}

/* One message sent by four threads while the main thread keeps changing it:
 * every send takes a consistent snapshot. */
void test_one_message_shared_by_threads(void) {
    gm_reset();
    graphmailer_mailer *mailer = gm_mailer();
    graphmailer_message *m = simple("erp@contoso.test");
    CHECK_OK(graphmailer_message_set_subject(m, "version 0"));
    pthread_t threads[4];
    shared_send workers[4];
    for (int i = 0; i < 4; i++) {
        workers[i] = (shared_send){mailer, m, 0};
        pthread_create(&threads[i], NULL, send_shared, &workers[i]);
    }
    for (int v = 1; v <= 50; v++) {
        char subject[32];
        snprintf(subject, sizeof subject, "version %d", v);
        CHECK_OK(graphmailer_message_set_subject(m, subject));
        CHECK_OK(graphmailer_message_set_text(m, subject));
    }
    int ok = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        ok += workers[i].ok;
    }
    CHECK(ok == 12, "%d of 12 sent", ok);
    json_value *all = gm_messages();
    CHECK(json_array_len(all, "messages") == 12);
    for (long i = 0; i < json_array_len(all, "messages"); i++) {
        char path[64];
        snprintf(path, sizeof path, "messages.%ld.message", i);
        const json_value *msg = json_path(all, path);
        const char *subject = json_string_at(msg, "subject");
        CHECK(subject && strncmp(subject, "version ", 8) == 0);
        /* a snapshot never mixes two versions, except the one set between
         * the subject and the text */
        const char *text = json_string_at(msg, "body.content");
        if (subject && text && strcmp(subject, text) != 0)
            CHECK(strcmp(text, "x") == 0 || (strncmp(text, "version ", 8) == 0 && atoi(text + 8) == atoi(subject + 8) - 1),
                  "%s / %s", subject, text);
    }
    json_free(all);
    CHECK_OK(graphmailer_message_free(m));
    CHECK_OK(graphmailer_mailer_free(mailer));
}
