/* The shared scenarios (tests/scenarios.json): every case through the C
 * library against the emulator, reset between cases. */
#include "tests.h"

typedef graphmailer_status (*add_fn)(graphmailer_message *, const char *, const char *);

/* Adds every address of a list: "a@b" or {"name", "address"}. */
static graphmailer_status add_all(graphmailer_message *m, const json_value *list, add_fn add) {
    if (!list) return GRAPHMAILER_OK;
    for (size_t i = 0; i < list->count; i++) {
        const json_value *a = list->items[i];
        graphmailer_status s = a->type == JSON_STRING
                                   ? add(m, a->string, NULL)
                                   : add(m, json_string_at(a, "address"), json_string_at(a, "name"));
        if (s != GRAPHMAILER_OK) return s;
    }
    return GRAPHMAILER_OK;
}

/* Builds the case's message; stops at the first refused step. */
static graphmailer_status build(const json_value *msg, graphmailer_message **out) {
    graphmailer_status s = graphmailer_message_new(json_string_at(msg, "from"), out);
    graphmailer_message *m = *out;
    if (s == GRAPHMAILER_OK) s = add_all(m, json_member(msg, "to"), graphmailer_message_add_to);
    if (s == GRAPHMAILER_OK) s = add_all(m, json_member(msg, "cc"), graphmailer_message_add_cc);
    if (s == GRAPHMAILER_OK) s = add_all(m, json_member(msg, "bcc"), graphmailer_message_add_bcc);
    if (s == GRAPHMAILER_OK) s = add_all(m, json_member(msg, "reply_to"), graphmailer_message_add_reply_to);
    const char *v;
    if (s == GRAPHMAILER_OK && (v = json_string_at(msg, "subject"))) s = graphmailer_message_set_subject(m, v);
    if (s == GRAPHMAILER_OK && (v = json_string_at(msg, "text"))) s = graphmailer_message_set_text(m, v);
    if (s == GRAPHMAILER_OK && (v = json_string_at(msg, "html"))) s = graphmailer_message_set_html(m, v);
    if (s == GRAPHMAILER_OK && (v = json_string_at(msg, "importance"))) s = graphmailer_message_set_importance(m, v);
    const json_value *save = json_member(msg, "save_to_sent_items");
    if (s == GRAPHMAILER_OK && save && save->type == JSON_BOOL)
        s = graphmailer_message_set_save_to_sent_items(m, save->boolean != 0);
    const json_value *headers = json_member(msg, "headers");
    for (size_t i = 0; s == GRAPHMAILER_OK && headers && i < headers->count; i++)
        s = graphmailer_message_add_header(m, json_string_at(headers->items[i], "0"),
                                           json_string_at(headers->items[i], "1"));
    const json_value *attachments = json_member(msg, "attachments");
    for (size_t i = 0; s == GRAPHMAILER_OK && attachments && i < attachments->count; i++) {
        const json_value *a = attachments->items[i];
        const char *name = json_string_at(a, "name");
        const char *content = json_string_at(a, "content");
        const char *b64 = json_string_at(a, "content_base64");
        const char *type = json_string_at(a, "content_type");
        const json_value *inl = json_member(a, "inline");
        uint8_t *data = NULL;
        size_t len = 0;
        if (b64) data = gm_base64_decode(b64, &len);
        const uint8_t *bytes = data ? data : (const uint8_t *)content;
        if (!data && content) len = strlen(content);
        if (inl && inl->type == JSON_BOOL && inl->boolean)
            s = graphmailer_message_attach_inline_bytes(m, name, bytes, len, type, json_string_at(a, "content_id"));
        else
            s = graphmailer_message_attach_bytes(m, name, bytes, len, type);
        free(data);
    }
    return s;
}

/* The case's config: the emulator's ERP app with the case's overrides. */
static graphmailer_config case_config(const json_value *overrides, const char **senders, size_t max) {
    graphmailer_config c = gm_config();
    const char *v;
    if ((v = json_string_at(overrides, "tenant_id"))) c.tenant_id = v;
    if ((v = json_string_at(overrides, "client_id"))) c.client_id = v;
    if ((v = json_string_at(overrides, "client_secret"))) c.client_secret = v;
    const json_value *allowed = json_member(overrides, "allowed_senders");
    for (size_t i = 0; allowed && i < allowed->count && i < max; i++) senders[c.allowed_senders_len++] = allowed->items[i]->string;
    c.allowed_senders = senders;
    return c;
}

static int run_case(const json_value *kase) {
    gm_check_failures = 0;
    gm_reset();
    const char *senders[16];
    graphmailer_config c = case_config(json_member(kase, "config"), senders, 16);
    const json_value *expect = json_member(kase, "expect");
    graphmailer_mailer *mailer = NULL;
    graphmailer_status s = graphmailer_mailer_new(&c, &mailer);
    graphmailer_message *m = NULL;
    if (s == GRAPHMAILER_OK) s = build(json_member(kase, "message"), &m);
    if (s == GRAPHMAILER_OK) s = graphmailer_mailer_send(mailer, m, NULL);
    const json_value *ok = json_member(expect, "ok");
    if (ok && ok->type == JSON_BOOL && ok->boolean) {
        CHECK(s == GRAPHMAILER_OK, "status %s: %s", graphmailer_status_name(s), gm_last_message());
        json_value *all = gm_messages();
        CHECK(json_array_len(all, "messages") == 1);
        const json_value *stored = json_member(expect, "stored");
        const json_value *record = json_path(all, "messages.0");
        for (size_t i = 0; stored && i < stored->count; i++) {
            const json_value *actual = json_path(record, stored->keys[i]);
            if (!json_equal(stored->items[i], actual))
                gm_fail(__FILE__, __LINE__, "stored %s is %s", stored->keys[i],
                        actual ? (actual->type == JSON_STRING ? actual->string : "(not the expected value)")
                               : "(absent)");
        }
        json_free(all);
    } else {
        const char *kind = json_string_at(expect, "error");
        CHECK_STR(graphmailer_status_name(s), kind);
        const char *code = json_string_at(expect, "code");
        if (code) CHECK_STR(graphmailer_last_error_code(), code);
        const char *field = json_string_at(expect, "field");
        if (field) CHECK_STR(graphmailer_last_error_field(), field);
        const json_value *words = json_member(expect, "hint_contains");
        for (size_t i = 0; words && i < words->count; i++)
            CHECK_CONTAINS(graphmailer_last_error_hint(), words->items[i]->string);
        const json_value *tokens = json_member(expect, "token_requests");
        if (tokens && tokens->type == JSON_NUMBER) {
            long n = gm_counter("token_requests");
            CHECK(n == (long)tokens->number, "%ld token requests", n);
            if (mailer) {
                uint64_t mine = 99;
                CHECK_OK(graphmailer_mailer_token_requests(mailer, &mine));
                CHECK(mine == (uint64_t)tokens->number);
            }
        }
    }
    graphmailer_message_free(m);
    graphmailer_mailer_free(mailer);
    return gm_check_failures;
}

void run_scenarios(const char *path) {
    char *text = gm_read_file(path, NULL);
    json_value *doc = json_parse(text);
    const json_value *cases = json_member(doc, "cases");
    if (!cases || cases->type != JSON_ARRAY || cases->count == 0) {
        gm_check_failures = 0;
        gm_fail(__FILE__, __LINE__, "cannot read the scenarios at %s", path);
        gm_record("scenarios: the file loads", gm_check_failures);
    }
    for (size_t i = 0; cases && i < cases->count; i++) {
        char name[300];
        snprintf(name, sizeof name, "scenario: %s", json_string_at(cases->items[i], "name"));
        gm_record(name, run_case(cases->items[i]));
    }
    json_free(doc);
    free(text);
}
