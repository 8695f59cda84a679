/* The C boundary itself: versions, statuses, NULL, UTF-8, sizes, handles,
 * per-thread errors, and the checks that need no network. */
#include "tests.h"

#include <pthread.h>

#ifndef GM_EXPECTED_VERSION
#define GM_EXPECTED_VERSION "0.2.0"
#endif

char *gm_read_file(const char *path, size_t *len_out) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 >= cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger) { free(buf); buf = NULL; }
            buf = bigger;
        }
    }
    fclose(f);
    if (buf) buf[len] = 0;
    if (len_out) *len_out = len;
    return buf;
}

void test_version(void) {
    CHECK_STR(graphmailer_version(), GM_EXPECTED_VERSION);
    /* static: the same pointer every time */
    CHECK(graphmailer_version() == graphmailer_version());
}

void test_status_names(void) {
    static const struct { unsigned status; const char *name; } names[] = {
        {GRAPHMAILER_OK, "ok"},
        {GRAPHMAILER_ERR_CONFIG, "config"},
        {GRAPHMAILER_ERR_INVALID_MESSAGE, "invalid_message"},
        {GRAPHMAILER_ERR_SENDER_NOT_ALLOWED, "sender_not_allowed"},
        {GRAPHMAILER_ERR_AUTHENTICATION, "authentication"},
        {GRAPHMAILER_ERR_ACCESS_DENIED, "access_denied"},
        {GRAPHMAILER_ERR_MAILBOX_NOT_FOUND, "mailbox_not_found"},
        {GRAPHMAILER_ERR_THROTTLED, "throttled"},
        {GRAPHMAILER_ERR_TRANSIENT, "transient"},
        {GRAPHMAILER_ERR_AMBIGUOUS_DELIVERY, "ambiguous_delivery"},
        {GRAPHMAILER_ERR_SERVICE, "service"},
        {GRAPHMAILER_ERR_NULL_ARGUMENT, "null_argument"},
        {GRAPHMAILER_ERR_INVALID_UTF8, "invalid_utf8"},
        {GRAPHMAILER_ERR_INVALID_ARGUMENT, "invalid_argument"},
        {GRAPHMAILER_ERR_INVALID_HANDLE, "invalid_handle"},
        {GRAPHMAILER_ERR_INTERNAL, "internal"},
        {GRAPHMAILER_ERR_FORKED, "forked"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        CHECK_STR(graphmailer_status_name(names[i].status), names[i].name);
    /* the core's numbers are pinned: 1 to 10 */
    CHECK(GRAPHMAILER_ERR_CONFIG == 1 && GRAPHMAILER_ERR_SERVICE == 10);
    CHECK_STR(graphmailer_status_name(11), "unknown");
    CHECK_STR(graphmailer_status_name(0xFFFFFFFFu), "unknown");
    CHECK(graphmailer_status_is_retryable(GRAPHMAILER_ERR_THROTTLED));
    CHECK(graphmailer_status_is_retryable(GRAPHMAILER_ERR_TRANSIENT));
    CHECK(!graphmailer_status_is_retryable(GRAPHMAILER_ERR_AMBIGUOUS_DELIVERY));
    CHECK(!graphmailer_status_is_retryable(GRAPHMAILER_ERR_ACCESS_DENIED));
    CHECK(!graphmailer_status_is_retryable(GRAPHMAILER_OK));
}

#define CHECK_FIELD(expected) CHECK_STR(graphmailer_last_error_field(), expected)

void test_null_arguments(void) {
    graphmailer_message *m = NULL;
    CHECK_STATUS(graphmailer_message_new(NULL, &m), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_FIELD("sender");
    CHECK_CONTAINS(graphmailer_last_error_message(), "sender");
    CHECK(m == NULL);
    CHECK_STATUS(graphmailer_message_new("erp@contoso.test", NULL), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_FIELD("message_out");
    CHECK_OK(graphmailer_message_new("erp@contoso.test", &m));
    CHECK_STATUS(graphmailer_message_add_to(m, NULL, "Alice"), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_FIELD("address");
    CHECK_OK(graphmailer_message_add_to(m, "alice@example.com", NULL)); /* the name may be NULL */
    CHECK_STATUS(graphmailer_message_add_cc(NULL, "a@b.test", NULL), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_FIELD("message");
    CHECK_STATUS(graphmailer_message_set_subject(m, NULL), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_FIELD("subject");
    CHECK_STATUS(graphmailer_message_set_text(m, NULL), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_FIELD("text");
    CHECK_STATUS(graphmailer_message_set_html(m, NULL), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_FIELD("html");
    CHECK_STATUS(graphmailer_message_set_importance(m, NULL), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_FIELD("importance");
    CHECK_STATUS(graphmailer_message_add_header(m, "x-a", NULL), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_FIELD("value");
    CHECK_STATUS(graphmailer_message_attach_bytes(m, "a.txt", NULL, 3, NULL), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_FIELD("data");
    CHECK_OK(graphmailer_message_attach_bytes(m, "empty.txt", NULL, 0, NULL)); /* NULL with length 0 */
    CHECK_STATUS(graphmailer_message_attach_file(m, NULL, NULL), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_FIELD("path");
    CHECK_STATUS(graphmailer_mailer_new(NULL, NULL), GRAPHMAILER_ERR_NULL_ARGUMENT);
    graphmailer_mailer *mailer = NULL;
    CHECK_STATUS(graphmailer_mailer_new(NULL, &mailer), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_FIELD("config");
    graphmailer_config c;
    memset(&c, 0, sizeof c);
    c.allowed_senders_len = 2; /* with a NULL array */
    CHECK_STATUS(graphmailer_mailer_new(&c, &mailer), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_FIELD("allowed_senders");
    const char *senders[] = {"erp@contoso.test", NULL};
    c.allowed_senders = senders;
    CHECK_STATUS(graphmailer_mailer_new(&c, &mailer), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_FIELD("allowed_senders[1]");
    CHECK_STATUS(graphmailer_mailer_send(NULL, m, NULL), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_FIELD("mailer");
    CHECK_STATUS(graphmailer_receipt_attempts(NULL, NULL), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_STATUS(graphmailer_policy_script(NULL, GRAPHMAILER_POLICY_RBAC, NULL), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_FIELD("request");
    CHECK_STATUS(graphmailer_certificate_from_path(NULL, NULL, NULL), GRAPHMAILER_ERR_NULL_ARGUMENT);
    /* every _free accepts NULL */
    CHECK_OK(graphmailer_message_free(NULL));
    CHECK_OK(graphmailer_mailer_free(NULL));
    CHECK_OK(graphmailer_receipt_free(NULL));
    CHECK_OK(graphmailer_certificate_free(NULL));
    CHECK_OK(graphmailer_string_free(NULL));
    CHECK_OK(graphmailer_message_free(m));
}

void test_invalid_utf8(void) {
    graphmailer_message *m = NULL;
    CHECK_STATUS(graphmailer_message_new("erp\xff@contoso.test", &m), GRAPHMAILER_ERR_INVALID_UTF8);
    CHECK_FIELD("sender");
    CHECK_CONTAINS(graphmailer_last_error_message(), "offset 3");
    CHECK_OK(graphmailer_message_new("erp@contoso.test", &m));
    CHECK_STATUS(graphmailer_message_set_subject(m, "Caf\xc3"), GRAPHMAILER_ERR_INVALID_UTF8);
    CHECK_FIELD("subject");
    CHECK_STATUS(graphmailer_message_add_to(m, "alice@example.com", "Al\xe9"), GRAPHMAILER_ERR_INVALID_UTF8);
    CHECK_FIELD("name");
    CHECK_STATUS(graphmailer_message_add_header(m, "x-\x80", "v"), GRAPHMAILER_ERR_INVALID_UTF8);
    CHECK_FIELD("name");
    /* an overlong encoding and a lone surrogate are not UTF-8 either */
    CHECK_STATUS(graphmailer_message_set_text(m, "\xc0\xaf"), GRAPHMAILER_ERR_INVALID_UTF8);
    CHECK_STATUS(graphmailer_message_set_html(m, "\xed\xa0\x80"), GRAPHMAILER_ERR_INVALID_UTF8);
    /* valid multi-byte text is fine */
    CHECK_OK(graphmailer_message_set_subject(m, "R\xc3\xa9sum\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7"));
    graphmailer_config c = gm_config();
    c.tenant_id = "\xfe";
    graphmailer_mailer *mailer = NULL;
    CHECK_STATUS(graphmailer_mailer_new(&c, &mailer), GRAPHMAILER_ERR_INVALID_UTF8);
    CHECK_FIELD("tenant_id");
    CHECK(mailer == NULL);
    CHECK_OK(graphmailer_message_free(m));
}

void test_oversized_inputs(void) {
    size_t big = (size_t)GRAPHMAILER_MAX_INPUT_BYTES + 1;
    char *s = malloc(big + 1);
    memset(s, 'a', big);
    s[big] = 0;
    graphmailer_message *m = NULL;
    CHECK_OK(graphmailer_message_new("erp@contoso.test", &m));
    CHECK_STATUS(graphmailer_message_set_text(m, s), GRAPHMAILER_ERR_INVALID_ARGUMENT);
    CHECK_FIELD("text");
    CHECK_CONTAINS(graphmailer_last_error_message(), "GRAPHMAILER_MAX_INPUT_BYTES");
    /* attachment data may be larger (sent through an upload session when
     * large messages are on), up to GRAPHMAILER_MAX_ATTACHMENT_BYTES */
    CHECK_OK(graphmailer_message_attach_bytes(m, "big.bin", (const uint8_t *)s, big, NULL));
    CHECK(GRAPHMAILER_MAX_ATTACHMENT_BYTES == 150 * 1024 * 1024);
    CHECK_STATUS(graphmailer_message_attach_bytes(m, "huge.bin", (const uint8_t *)s,
                                                  (size_t)GRAPHMAILER_MAX_ATTACHMENT_BYTES + 1, NULL),
                 GRAPHMAILER_ERR_INVALID_ARGUMENT);
    CHECK_FIELD("data");
    CHECK_CONTAINS(graphmailer_last_error_message(), "GRAPHMAILER_MAX_ATTACHMENT_BYTES");
    /* a length no buffer can have is refused before anything is read */
    CHECK_STATUS(graphmailer_message_attach_bytes(m, "x", (const uint8_t *)s, (size_t)-1, NULL),
                 GRAPHMAILER_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(graphmailer_message_attach_inline_bytes(m, "x", (const uint8_t *)s, (size_t)-1, NULL, "x"),
                 GRAPHMAILER_ERR_INVALID_ARGUMENT);
    graphmailer_config c = gm_config();
    const char *one[] = {"erp@contoso.test"};
    c.allowed_senders = one;
    c.allowed_senders_len = (size_t)-1;
    graphmailer_mailer *mailer = NULL;
    CHECK_STATUS(graphmailer_mailer_new(&c, &mailer), GRAPHMAILER_ERR_INVALID_ARGUMENT);
    CHECK_FIELD("allowed_senders");
    /* exactly the limit is accepted at the boundary (the core decides the rest) */
    s[GRAPHMAILER_MAX_INPUT_BYTES] = 0;
    CHECK_OK(graphmailer_message_set_text(m, s));
    free(s);
    CHECK_OK(graphmailer_message_free(m));
}

void test_use_after_free_and_double_free(void) {
    graphmailer_message *m = NULL;
    CHECK_OK(graphmailer_message_new("erp@contoso.test", &m));
    CHECK_OK(graphmailer_message_free(m));
    CHECK_STATUS(graphmailer_message_set_subject(m, "after free"), GRAPHMAILER_ERR_INVALID_HANDLE);
    CHECK_FIELD("message");
    CHECK_CONTAINS(graphmailer_last_error_message(), "freed already");
    CHECK_STATUS(graphmailer_message_free(m), GRAPHMAILER_ERR_INVALID_HANDLE);
    CHECK_STATUS(graphmailer_message_validate(m), GRAPHMAILER_ERR_INVALID_HANDLE);
    /* a new message never gets the old handle back */
    graphmailer_message *m2 = NULL;
    CHECK_OK(graphmailer_message_new("erp@contoso.test", &m2));
    CHECK(m2 != m);
    CHECK_STATUS(graphmailer_message_set_subject(m, "stale"), GRAPHMAILER_ERR_INVALID_HANDLE);
    CHECK_OK(graphmailer_message_free(m2));

    graphmailer_mailer *mailer = gm_mailer();
    CHECK_OK(graphmailer_mailer_free(mailer));
    uint64_t n = 0;
    CHECK_STATUS(graphmailer_mailer_token_requests(mailer, &n), GRAPHMAILER_ERR_INVALID_HANDLE);
    CHECK_STATUS(graphmailer_mailer_free(mailer), GRAPHMAILER_ERR_INVALID_HANDLE);
}

void test_mistyped_and_forged_handles(void) {
    graphmailer_mailer *mailer = gm_mailer();
    /* a mailer passed where a message is expected */
    CHECK_STATUS(graphmailer_message_set_subject((graphmailer_message *)mailer, "x"),
                 GRAPHMAILER_ERR_INVALID_HANDLE);
    CHECK_CONTAINS(graphmailer_last_error_message(), "graphmailer_mailer, not a graphmailer_message");
    CHECK_STATUS(graphmailer_message_free((graphmailer_message *)mailer), GRAPHMAILER_ERR_INVALID_HANDLE);
    /* ...and the mailer still works afterwards */
    uint64_t n = 99;
    CHECK_OK(graphmailer_mailer_token_requests(mailer, &n));
    CHECK(n == 0);
    /* pointers graphmailer never returned: a stack address, a small number */
    int local = 0;
    CHECK_STATUS(graphmailer_message_set_subject((graphmailer_message *)&local, "x"), GRAPHMAILER_ERR_INVALID_HANDLE);
    CHECK_STATUS(graphmailer_mailer_free((graphmailer_mailer *)(uintptr_t)0x1234), GRAPHMAILER_ERR_INVALID_HANDLE);
    CHECK_STATUS(graphmailer_receipt_free((graphmailer_receipt *)(uintptr_t)16), GRAPHMAILER_ERR_INVALID_HANDLE);
    CHECK_OK(graphmailer_mailer_free(mailer));
}

void test_outputs_untouched_on_failure(void) {
    graphmailer_message *sentinel = (graphmailer_message *)(uintptr_t)0xdead;
    graphmailer_message *m = sentinel;
    CHECK_STATUS(graphmailer_message_new(NULL, &m), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK(m == sentinel);
    graphmailer_mailer *mailer = (graphmailer_mailer *)(uintptr_t)0xbeef;
    graphmailer_config c;
    memset(&c, 0, sizeof c);
    CHECK_STATUS(graphmailer_mailer_new(&c, &mailer), GRAPHMAILER_ERR_CONFIG);
    CHECK(mailer == (graphmailer_mailer *)(uintptr_t)0xbeef);
    char *json = (char *)(uintptr_t)0xfeed;
    CHECK_STATUS(graphmailer_mailer_describe(NULL, &json), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK(json == (char *)(uintptr_t)0xfeed);
}

typedef struct {
    graphmailer_status status;
    const char *field;
    char message[256];
} thread_result;

static void *fail_in_thread(void *arg) {
    thread_result *r = arg;
    graphmailer_message *m = NULL;
    r->status = graphmailer_message_new("erp\xff", &m);
    r->field = graphmailer_last_error_field();
    snprintf(r->message, sizeof r->message, "%s", gm_last_message());
    return NULL;
}

void test_last_error_is_per_thread_and_cleared(void) {
    graphmailer_message *m = NULL;
    CHECK_STATUS(graphmailer_message_new(NULL, &m), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK(graphmailer_last_error_status() == GRAPHMAILER_ERR_NULL_ARGUMENT);
    thread_result r;
    memset(&r, 0, sizeof r);
    pthread_t t;
    pthread_create(&t, NULL, fail_in_thread, &r);
    pthread_join(t, NULL);
    CHECK(r.status == GRAPHMAILER_ERR_INVALID_UTF8);
    CHECK_CONTAINS(r.message, "UTF-8");
    /* this thread still sees its own error */
    CHECK(graphmailer_last_error_status() == GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_STR(graphmailer_last_error_field(), "sender");
    CHECK_CONTAINS(graphmailer_last_error_message(), "graphmailer_message_new");
    /* no service details on a boundary error */
    CHECK(graphmailer_last_error_code() == NULL);
    CHECK(graphmailer_last_error_request_id() == NULL);
    CHECK(graphmailer_last_error_hint() == NULL);
    CHECK(graphmailer_last_error_http_status() == 0);
    CHECK(graphmailer_last_error_retry_after_ms() == 0);
    /* a successful call clears it */
    CHECK_OK(graphmailer_message_new("erp@contoso.test", &m));
    CHECK(graphmailer_last_error_status() == GRAPHMAILER_OK);
    CHECK(graphmailer_last_error_message() == NULL);
    CHECK(graphmailer_last_error_field() == NULL);
    CHECK_OK(graphmailer_message_free(m));
}

static void config_error(graphmailer_config c, graphmailer_status expected, const char *field, const char *words) {
    graphmailer_mailer *mailer = NULL;
    CHECK_STATUS(graphmailer_mailer_new(&c, &mailer), expected);
    CHECK_STR(graphmailer_last_error_field(), field);
    if (words) CHECK_CONTAINS(graphmailer_last_error_message(), words);
    CHECK(mailer == NULL);
}

void test_config_errors_name_the_setting(void) {
    graphmailer_config c = gm_config();
    c.tenant_id = NULL;
    config_error(c, GRAPHMAILER_ERR_CONFIG, "AZURE_TENANT_ID", "not set");
    c = gm_config();
    c.tenant_id = "common";
    config_error(c, GRAPHMAILER_ERR_CONFIG, "AZURE_TENANT_ID", "common");
    c = gm_config();
    c.client_id = "my-app";
    config_error(c, GRAPHMAILER_ERR_CONFIG, "AZURE_CLIENT_ID", "not a GUID");
    c = gm_config();
    c.client_secret = "";
    config_error(c, GRAPHMAILER_ERR_CONFIG, "AZURE_CLIENT_SECRET", NULL);
    c = gm_config();
    c.cloud = "mars";
    config_error(c, GRAPHMAILER_ERR_CONFIG, "GRAPHMAILER_CLOUD", "usgov");
    c = gm_config();
    c.graph_endpoint = "http://graph.example.com";
    config_error(c, GRAPHMAILER_ERR_CONFIG, "GRAPHMAILER_GRAPH_ENDPOINT", "only https");
    c = gm_config();
    c.scope = "Mail.Send";
    config_error(c, GRAPHMAILER_ERR_CONFIG, "GRAPHMAILER_SCOPE", NULL);
    c = gm_config();
    c.max_attempts = 11;
    config_error(c, GRAPHMAILER_ERR_CONFIG, "GRAPHMAILER_MAX_ATTEMPTS", NULL);
    c = gm_config();
    c.max_concurrent_per_mailbox = 5;
    config_error(c, GRAPHMAILER_ERR_CONFIG, "GRAPHMAILER_MAX_CONCURRENT_PER_MAILBOX", NULL);
    c = gm_config();
    c.ca_bundle_path = "/nonexistent/ca.pem";
    config_error(c, GRAPHMAILER_ERR_CONFIG, "GRAPHMAILER_CA_BUNDLE", "cannot read");
    c = gm_config();
    const char *senders[] = {"erp@contoso.test", "not an address"};
    c.allowed_senders = senders;
    c.allowed_senders_len = 2;
    config_error(c, GRAPHMAILER_ERR_CONFIG, "allowed_senders[1]", NULL);
    /* a usable cloud name is accepted in any spelling the core knows */
    c = gm_config();
    c.cloud = "GCC-High";
    graphmailer_mailer *mailer = NULL;
    CHECK_OK(graphmailer_mailer_new(&c, &mailer));
    char *json = NULL;
    CHECK_OK(graphmailer_mailer_describe(mailer, &json));
    json_value *d = json_parse(json);
    CHECK_STR(json_string_at(d, "cloud"), "usgov");
    CHECK_STR(json_string_at(d, "graph_endpoint"), gm_emu.url); /* the override wins */
    json_free(d);
    CHECK_OK(graphmailer_string_free(json));
    CHECK_OK(graphmailer_mailer_free(mailer));
}

void test_validate_names_the_field(void) {
    graphmailer_message *m = NULL;
    CHECK_OK(graphmailer_message_new("erp@contoso.test", &m));
    CHECK_STATUS(graphmailer_message_validate(m), GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_FIELD("to");
    CHECK_OK(graphmailer_message_add_to(m, "alice@example.com", "Alice"));
    CHECK_OK(graphmailer_message_set_subject(m, "Hi"));
    CHECK_OK(graphmailer_message_set_text(m, "x"));
    CHECK_OK(graphmailer_message_validate(m));
    CHECK_OK(graphmailer_message_add_bcc(m, "not an address", NULL));
    CHECK_STATUS(graphmailer_message_validate(m), GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_FIELD("bcc[0].address");
    CHECK_OK(graphmailer_message_free(m));
    /* importance is parsed by the core: any case, and a clear error otherwise */
    CHECK_OK(graphmailer_message_new("erp@contoso.test", &m));
    CHECK_OK(graphmailer_message_set_importance(m, "HIGH"));
    CHECK_STATUS(graphmailer_message_set_importance(m, "urgent"), GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_FIELD("importance");
    CHECK_OK(graphmailer_message_free(m));
}

void test_policy_script(void) {
    const char *mailboxes[] = {"erp@contoso.test", "billing@contoso.test"};
    const char *denied[] = {"ceo@contoso.test"};
    graphmailer_policy_request r;
    memset(&r, 0, sizeof r);
    r.app_id = "3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14";
    r.service_principal_id = "0d5e8b1a-2c37-4b1d-9c6f-7f3c2a9e4e8a";
    r.mailboxes = mailboxes;
    r.mailboxes_len = 2;
    r.denied = denied;
    r.denied_len = 1;
    char *script = NULL;
    CHECK_OK(graphmailer_policy_script(&r, GRAPHMAILER_POLICY_RBAC, &script));
    CHECK_CONTAINS(script, "Connect-ExchangeOnline");
    CHECK_CONTAINS(script, "'3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14'");
    CHECK_CONTAINS(script, "billing@contoso.test");
    CHECK_CONTAINS(script, "ceo@contoso.test");
    CHECK_OK(graphmailer_string_free(script));
    r.group = "erp-senders@contoso.test";
    script = NULL;
    CHECK_OK(graphmailer_policy_script(&r, GRAPHMAILER_POLICY_APPLICATION_ACCESS_POLICY, &script));
    CHECK_CONTAINS(script, "New-ApplicationAccessPolicy");
    CHECK_OK(graphmailer_string_free(script));
    /* the core's checks, with the field */
    r.service_principal_id = NULL;
    script = NULL;
    CHECK_STATUS(graphmailer_policy_script(&r, GRAPHMAILER_POLICY_RBAC, &script), GRAPHMAILER_ERR_CONFIG);
    CHECK_STR(graphmailer_last_error_field(), "service_principal_id");
    CHECK(script == NULL);
    const char *evil[] = {"erp@contoso.test", "x'; Remove-Mailbox -Identity ceo; '@contoso.test"};
    r.mailboxes = evil;
    CHECK_STATUS(graphmailer_policy_script(&r, GRAPHMAILER_POLICY_APPLICATION_ACCESS_POLICY, &script),
                 GRAPHMAILER_ERR_CONFIG);
    CHECK_STR(graphmailer_last_error_field(), "mailboxes[1]");
    r.mailboxes = mailboxes;
    r.app_id = "not-a-guid";
    CHECK_STATUS(graphmailer_policy_script(&r, GRAPHMAILER_POLICY_APPLICATION_ACCESS_POLICY, &script),
                 GRAPHMAILER_ERR_CONFIG);
    CHECK_STR(graphmailer_last_error_field(), "app_id");
    CHECK_STATUS(graphmailer_policy_script(&r, 7, &script), GRAPHMAILER_ERR_INVALID_ARGUMENT);
    CHECK_STR(graphmailer_last_error_field(), "style");
}

static const char *fixture(const char *name) {
    static char path[1024];
    const char *dir = getenv("GM_FIXTURES");
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "/nonexistent", name);
    return path;
}

void test_certificate_loading(void) {
    graphmailer_certificate *cert = NULL;
    CHECK_STATUS(graphmailer_certificate_from_path("/nonexistent/app.pem", NULL, &cert), GRAPHMAILER_ERR_CONFIG);
    CHECK_STR(graphmailer_last_error_field(), "AZURE_CLIENT_CERTIFICATE_PATH");
    CHECK_CONTAINS(graphmailer_last_error_message(), "cannot read");
    CHECK(cert == NULL);
    const char *garbage = "-----BEGIN NOTHING-----\nAAAA\n-----END NOTHING-----\n";
    CHECK_STATUS(graphmailer_certificate_from_pem((const uint8_t *)garbage, strlen(garbage),
                                                  (const uint8_t *)garbage, strlen(garbage), NULL, &cert),
                 GRAPHMAILER_ERR_CONFIG);
    CHECK_STR(graphmailer_last_error_field(), "AZURE_CLIENT_CERTIFICATE_PATH");
    if (!getenv("GM_FIXTURES")) {
        gm_fail(__FILE__, __LINE__, "GM_FIXTURES is not set (test.sh makes the certificates)");
        return;
    }
    /* the encrypted key: no password, a wrong one, the right one */
    CHECK_STATUS(graphmailer_certificate_from_path(fixture("encrypted.pem"), NULL, &cert), GRAPHMAILER_ERR_CONFIG);
    CHECK_STR(graphmailer_last_error_field(), "AZURE_CLIENT_CERTIFICATE_PASSWORD");
    CHECK_STATUS(graphmailer_certificate_from_path(fixture("encrypted.pem"), "wrong", &cert), GRAPHMAILER_ERR_CONFIG);
    CHECK_STR(graphmailer_last_error_field(), "AZURE_CLIENT_CERTIFICATE_PASSWORD");
    CHECK(strstr(gm_last_message(), "wrong") != NULL || strstr(gm_last_message(), "password") != NULL);
    CHECK_OK(graphmailer_certificate_from_path(fixture("encrypted.pem"), "pem-pass", &cert));
    const char *thumb = NULL;
    CHECK_OK(graphmailer_certificate_thumbprint(cert, &thumb));
    char *expected = gm_read_file(fixture("thumbprint.txt"), NULL);
    if (expected) expected[strcspn(expected, "\r\n")] = 0;
    CHECK_STR(thumb, expected);
    CHECK_OK(graphmailer_certificate_free(cert));
    CHECK_STATUS(graphmailer_certificate_thumbprint(cert, &thumb), GRAPHMAILER_ERR_INVALID_HANDLE);
    /* PKCS#12: wrong and right password, from memory */
    size_t len = 0;
    char *p12 = gm_read_file(fixture("app.p12"), &len);
    CHECK(p12 != NULL);
    cert = NULL;
    CHECK_STATUS(graphmailer_certificate_from_pkcs12((const uint8_t *)p12, len, "wrong", &cert), GRAPHMAILER_ERR_CONFIG);
    CHECK(cert == NULL);
    CHECK_OK(graphmailer_certificate_from_pkcs12((const uint8_t *)p12, len, "p12-pass", &cert));
    CHECK_OK(graphmailer_certificate_thumbprint(cert, &thumb));
    CHECK_STR(thumb, expected);
    CHECK_OK(graphmailer_certificate_free(cert));
    /* PEM from memory: certificate and key as two texts */
    char *cert_pem = gm_read_file(fixture("cert.pem"), NULL);
    char *key_pem = gm_read_file(fixture("key.pem"), NULL);
    CHECK(cert_pem && key_pem);
    CHECK_OK(graphmailer_certificate_from_pem((const uint8_t *)cert_pem, strlen(cert_pem),
                                              (const uint8_t *)key_pem, strlen(key_pem), NULL, &cert));
    CHECK_OK(graphmailer_certificate_free(cert));
    /* a key that belongs to another certificate */
    char *other_key = gm_read_file(fixture("other-key.pem"), NULL);
    CHECK_STATUS(graphmailer_certificate_from_pem((const uint8_t *)cert_pem, strlen(cert_pem),
                                                  (const uint8_t *)other_key, other_key ? strlen(other_key) : 0,
                                                  NULL, &cert),
                 GRAPHMAILER_ERR_CONFIG);
    CHECK_CONTAINS(graphmailer_last_error_message(), "does not belong");
    /* no password or key material in any message */
    CHECK(strstr(gm_last_message(), "PRIVATE KEY") == NULL);
    free(other_key);
    free(cert_pem);
    free(key_pem);
    free(p12);
    free(expected);
    /* a secret and a certificate together is refused */
    CHECK_OK(graphmailer_certificate_from_path(fixture("combined.pem"), NULL, &cert));
    graphmailer_config c = gm_config();
    c.client_certificate = cert;
    graphmailer_mailer *mailer = NULL;
    CHECK_STATUS(graphmailer_mailer_new(&c, &mailer), GRAPHMAILER_ERR_CONFIG);
    CHECK_STR(graphmailer_last_error_field(), "AZURE_CLIENT_SECRET");
    CHECK(strstr(gm_last_message(), "AZURE_CLIENT_CERTIFICATE_PATH") != NULL);
    CHECK_OK(graphmailer_certificate_free(cert));
}

void test_string_free(void) {
    graphmailer_policy_request r;
    memset(&r, 0, sizeof r);
    const char *mailboxes[] = {"erp@contoso.test"};
    r.app_id = "3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14";
    r.mailboxes = mailboxes;
    r.mailboxes_len = 1;
    r.group = "erp-senders@contoso.test";
    char *script = NULL;
    CHECK_OK(graphmailer_policy_script(&r, GRAPHMAILER_POLICY_APPLICATION_ACCESS_POLICY, &script));
    CHECK_OK(graphmailer_string_free(script));
    /* twice, or a string graphmailer never returned: refused, nothing freed */
    CHECK_STATUS(graphmailer_string_free(script), GRAPHMAILER_ERR_INVALID_HANDLE);
    CHECK_STR(graphmailer_last_error_field(), "string");
    char mine[] = "my own string";
    CHECK_STATUS(graphmailer_string_free(mine), GRAPHMAILER_ERR_INVALID_HANDLE);
    CHECK_STR(mine, "my own string");
    /* a borrowed string is not the caller's to free */
    CHECK_STATUS(graphmailer_string_free((char *)graphmailer_version()), GRAPHMAILER_ERR_INVALID_HANDLE);
}
