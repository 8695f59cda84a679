/* The outbox from C: a message and a MIME message queued in a SQLite file in
 * a temporary directory, delivered through the emulator once each, their
 * records saying so; bad input refused before anything is stored. */
#include "tests.h"

#include <pthread.h>
#include <unistd.h>

static const char MIME[] =
    "From: ERP <erp@contoso.test>\r\n"
    "To: Alice <alice@example.com>\r\n"
    "Subject: Queued MIME\r\n"
    "\r\n"
    "Sent from the outbox.\r\n";

/* A fresh temporary directory and the "sqlite:" URL of a queue inside it. */
static void queue_url(char *dir, size_t dir_len, char *url, size_t url_len) {
    snprintf(dir, dir_len, "%s/graphmailer-ffi-outbox-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    snprintf(url, url_len, "sqlite:%s/outbox.db", dir);
}

static void remove_queue(const char *dir) {
    char path[1200];
    const char *files[] = {"outbox.db", "outbox.db-wal", "outbox.db-shm", "outbox.db-journal"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    CHECK(rmdir(dir) == 0, "%s", dir);
}

/* An emulator without faults or mail, and a queue in a new temporary
 * directory (`dir`, for remove_queue). */
static graphmailer_outbox *fresh_outbox(char *dir, size_t dir_len) {
    char url[1100];
    gm_reset();
    queue_url(dir, dir_len, url, sizeof url);
    graphmailer_outbox *outbox = NULL;
    CHECK_OK(graphmailer_outbox_open(url, &outbox));
    return outbox;
}

/* erp@contoso.test to alice@example.com: "Please pay." */
static graphmailer_message *invoice(void) {
    graphmailer_message *m = NULL;
    CHECK_OK(graphmailer_message_new("erp@contoso.test", &m));
    CHECK_OK(graphmailer_message_add_to(m, "alice@example.com", NULL));
    CHECK_OK(graphmailer_message_set_text(m, "Please pay."));
    return m;
}

/* How many messages the emulator stored with this internetMessageId. */
static int stored_with_id(const json_value *all, const char *internet_message_id, const char **request_id_out) {
    int count = 0;
    long n = json_array_len(all, "messages");
    for (long i = 0; i < n; i++) {
        char path[64];
        snprintf(path, sizeof path, "messages.%ld", i);
        const json_value *m = json_path(all, path);
        if (gm_streq(json_string_at(m, "message.internetMessageId"), internet_message_id)) {
            count++;
            *request_id_out = json_string_at(m, "request_id");
        }
    }
    return count;
}

/* The mail is sent, and the emulator got it exactly once, with its request id. */
static void check_sent_once(graphmailer_outbox *outbox, const char *id, const json_value *all) {
    graphmailer_queue_state state = GRAPHMAILER_QUEUE_NONE;
    char *json = NULL;
    CHECK_OK(graphmailer_outbox_status(outbox, id, &state, &json));
    CHECK(state == GRAPHMAILER_QUEUE_SENT, "state %u", (unsigned)state);
    json_value *record = json ? json_parse(json) : NULL;
    CHECK(record != NULL, "%s", json ? json : "(null)");
    if (record) {
        CHECK_STR(json_string_at(record, "id"), id);
        CHECK_STR(json_string_at(record, "state"), "sent");
        CHECK_STR(json_string_at(record, "sender"), "erp@contoso.test");
        const char *request_id = json_string_at(record, "request_id");
        CHECK(request_id && *request_id);
        const char *stored_request_id = NULL;
        CHECK(stored_with_id(all, json_string_at(record, "internet_message_id"), &stored_request_id) == 1);
        CHECK_STR(stored_request_id, request_id);
        json_free(record);
    }
    CHECK_OK(graphmailer_string_free(json));
}

void test_outbox_delivers_each_mail_once(void) {
    char dir[1024];
    graphmailer_outbox *outbox = fresh_outbox(dir, sizeof dir);
    graphmailer_mailer *mailer = gm_mailer();

    graphmailer_message *m = NULL;
    CHECK_OK(graphmailer_message_new("erp@contoso.test", &m));
    CHECK_OK(graphmailer_message_add_to(m, "accounts@example.com", NULL));
    CHECK_OK(graphmailer_message_set_subject(m, "Invoice 4711"));
    CHECK_OK(graphmailer_message_set_text(m, "Please pay."));
    char first[GRAPHMAILER_OUTBOX_ID_BYTES] = "", second[GRAPHMAILER_OUTBOX_ID_BYTES] = "";
    CHECK_OK(graphmailer_outbox_enqueue(outbox, m, first, sizeof first));
    CHECK_OK(graphmailer_message_free(m));
    CHECK_OK(graphmailer_outbox_enqueue_mime(outbox, NULL, (const uint8_t *)MIME, strlen(MIME), second, sizeof second));
    CHECK(strlen(first) > 0 && strlen(second) > 0 && strcmp(first, second) != 0, "%s %s", first, second);

    graphmailer_queue_state state = GRAPHMAILER_QUEUE_NONE;
    CHECK_OK(graphmailer_outbox_status(outbox, first, &state, NULL));
    CHECK(state == GRAPHMAILER_QUEUE_QUEUED, "state %u", (unsigned)state);
    CHECK(gm_counter("send_requests") == 0);

    graphmailer_run_summary summary = {0};
    CHECK_OK(graphmailer_outbox_run_until_empty(outbox, mailer, &summary));
    CHECK(summary.sent == 2 && summary.deferred == 0 && summary.failed == 0 && summary.uncertain == 0,
          "sent %llu deferred %llu failed %llu uncertain %llu", (unsigned long long)summary.sent,
          (unsigned long long)summary.deferred, (unsigned long long)summary.failed,
          (unsigned long long)summary.uncertain);
    json_value *all = gm_messages();
    CHECK(json_array_len(all, "messages") == 2);
    check_sent_once(outbox, first, all);
    check_sent_once(outbox, second, all);
    json_free(all);

    /* Nothing is sent twice; summary_out may be NULL. */
    CHECK_OK(graphmailer_outbox_run_until_empty(outbox, mailer, NULL));
    CHECK(gm_counter("send_requests") == 2);

    /* An id the queue never issued has no state and no record. */
    char *json = (char *)"untouched";
    CHECK_OK(graphmailer_outbox_status(outbox, "0123456789abcdef", &state, &json));
    CHECK(state == GRAPHMAILER_QUEUE_NONE && json == NULL);
    CHECK_STATUS(graphmailer_outbox_status(outbox, "not an id!", &state, NULL), GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_STR(graphmailer_last_error_field(), "id");

    CHECK_OK(graphmailer_outbox_free(outbox));
    CHECK_STATUS(graphmailer_outbox_free(outbox), GRAPHMAILER_ERR_INVALID_HANDLE);
    CHECK_OK(graphmailer_outbox_free(NULL));
    CHECK_OK(graphmailer_mailer_free(mailer));
    remove_queue(dir);
}

void test_outbox_refuses_bad_input_before_storing(void) {
    char dir[1024];
    graphmailer_outbox *outbox = fresh_outbox(dir, sizeof dir);
    graphmailer_mailer *mailer = gm_mailer();
    char id[GRAPHMAILER_OUTBOX_ID_BYTES] = "untouched";

    graphmailer_message *m = NULL;
    CHECK_OK(graphmailer_message_new("erp@contoso.test", &m));
    CHECK_OK(graphmailer_message_set_text(m, "to nobody"));
    CHECK_STATUS(graphmailer_outbox_enqueue(outbox, m, id, sizeof id), GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK(graphmailer_last_error_field() != NULL);
    CHECK_OK(graphmailer_message_add_to(m, "alice@example.com", NULL));
    /* A buffer too small for an id is refused before the mail is queued. */
    char small[8];
    CHECK_STATUS(graphmailer_outbox_enqueue(outbox, m, small, sizeof small), GRAPHMAILER_ERR_INVALID_ARGUMENT);
    CHECK_STR(graphmailer_last_error_field(), "id_len");
    CHECK_STATUS(graphmailer_outbox_enqueue(outbox, m, NULL, sizeof id), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_OK(graphmailer_message_free(m));

    const char no_to[] = "From: erp@contoso.test\r\nSubject: x\r\n\r\nbody\r\n";
    CHECK_STATUS(graphmailer_outbox_enqueue_mime(outbox, NULL, (const uint8_t *)no_to, strlen(no_to), id, sizeof id),
                 GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_STR(graphmailer_last_error_field(), "mime.To");
    CHECK_STATUS(graphmailer_outbox_enqueue_mime(outbox, NULL, NULL, 10, id, sizeof id), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_STATUS(graphmailer_outbox_enqueue(NULL, NULL, id, sizeof id), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_STATUS(graphmailer_outbox_run_until_empty(outbox, (const graphmailer_mailer *)outbox, NULL),
                 GRAPHMAILER_ERR_INVALID_HANDLE);
    CHECK_STR(id, "untouched");

    graphmailer_run_summary summary = {0};
    CHECK_OK(graphmailer_outbox_run_until_empty(outbox, mailer, &summary));
    CHECK(summary.sent == 0);
    CHECK(gm_counter("send_requests") == 0);

    CHECK_OK(graphmailer_outbox_free(outbox));
    CHECK_OK(graphmailer_mailer_free(mailer));
    remove_queue(dir);
}

void test_outbox_refuses_what_its_mailer_could_never_send(void) {
    char dir[1024];
    graphmailer_outbox *outbox = fresh_outbox(dir, sizeof dir);
    graphmailer_config c = gm_config();
    const char *alerts[] = {"alerts@contoso.test"};
    c.allowed_senders = alerts;
    c.allowed_senders_len = 1;
    graphmailer_mailer *alerts_only = NULL;
    CHECK_OK(graphmailer_mailer_new(&c, &alerts_only));
    graphmailer_mailer *mailer = gm_mailer(); /* large messages off */
    char id[GRAPHMAILER_OUTBOX_ID_BYTES] = "untouched";

    graphmailer_message *m = invoice();
    CHECK_STATUS(graphmailer_outbox_enqueue_for(outbox, alerts_only, m, id, sizeof id),
                 GRAPHMAILER_ERR_SENDER_NOT_ALLOWED);
    CHECK_CONTAINS(gm_last_message(), "erp@contoso.test");
    CHECK_STATUS(graphmailer_outbox_enqueue_mime_for(outbox, alerts_only, NULL, (const uint8_t *)MIME, strlen(MIME),
                                                     id, sizeof id),
                 GRAPHMAILER_ERR_SENDER_NOT_ALLOWED);
    size_t big_len = (size_t)4 << 20;
    uint8_t *big = calloc(big_len, 1);
    CHECK(big != NULL);
    graphmailer_message *large = NULL;
    CHECK_OK(graphmailer_message_new("erp@contoso.test", &large));
    CHECK_OK(graphmailer_message_add_to(large, "alice@example.com", NULL));
    CHECK_OK(graphmailer_message_attach_bytes(large, "ledger.bin", big, big_len, NULL));
    free(big);
    CHECK_STATUS(graphmailer_outbox_enqueue_for(outbox, mailer, large, id, sizeof id), GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_STR(graphmailer_last_error_code(), "RequestEntityTooLarge");
    CHECK_STATUS(graphmailer_outbox_enqueue_for(outbox, NULL, m, id, sizeof id), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_STATUS(graphmailer_outbox_enqueue_for(outbox, (const graphmailer_mailer *)outbox, m, id, sizeof id),
                 GRAPHMAILER_ERR_INVALID_HANDLE);
    CHECK_STR(id, "untouched");

    /* What the mailer can send is queued; the large one, queued without a
       mailer, can only fail in the queue. */
    char first[GRAPHMAILER_OUTBOX_ID_BYTES], second[GRAPHMAILER_OUTBOX_ID_BYTES], third[GRAPHMAILER_OUTBOX_ID_BYTES];
    CHECK_OK(graphmailer_outbox_enqueue_for(outbox, mailer, m, first, sizeof first));
    CHECK_OK(graphmailer_outbox_enqueue_mime_for(outbox, mailer, "", (const uint8_t *)MIME, strlen(MIME), second,
                                                 sizeof second));
    CHECK_OK(graphmailer_outbox_enqueue(outbox, large, third, sizeof third));
    graphmailer_run_summary summary = {0};
    CHECK_OK(graphmailer_outbox_run_until_empty(outbox, mailer, &summary));
    CHECK(summary.sent == 2 && summary.failed == 1, "sent %u, failed %u", (unsigned)summary.sent,
          (unsigned)summary.failed);
    graphmailer_queue_state state = GRAPHMAILER_QUEUE_NONE;
    CHECK_OK(graphmailer_outbox_status(outbox, third, &state, NULL));
    CHECK(state == GRAPHMAILER_QUEUE_FAILED);
    CHECK(gm_counter("send_requests") == 2);

    CHECK_OK(graphmailer_message_free(m));
    CHECK_OK(graphmailer_message_free(large));
    CHECK_OK(graphmailer_outbox_free(outbox));
    CHECK_OK(graphmailer_mailer_free(alerts_only));
    CHECK_OK(graphmailer_mailer_free(mailer));
    remove_queue(dir);
}

/* The ids in a graphmailer_outbox_list JSON array, and how many. */
static long listed(graphmailer_outbox *outbox, uint32_t state, size_t limit, const char *wanted) {
    char *json = NULL;
    CHECK_OK(graphmailer_outbox_list(outbox, state, limit, &json));
    json_value *all = json_parse(json);
    CHECK(all != NULL && all->type == JSON_ARRAY, "%s", json);
    long found = 0;
    for (size_t i = 0; all && i < all->count; i++) {
        if (wanted && gm_streq(json_string_at(all->items[i], "id"), wanted)) found++;
    }
    long count = all ? (long)all->count : -1;
    json_free(all);
    CHECK_OK(graphmailer_string_free(json));
    return wanted ? found : count;
}

void test_outbox_operator_commands(void) {
    char dir[1024];
    graphmailer_outbox *outbox = fresh_outbox(dir, sizeof dir);
    graphmailer_mailer *mailer = gm_mailer(); /* Mail.Send only: cannot look in Sent Items */
    graphmailer_message *m = invoice();

    char refused[GRAPHMAILER_OUTBOX_ID_BYTES], doomed[GRAPHMAILER_OUTBOX_ID_BYTES], lost[GRAPHMAILER_OUTBOX_ID_BYTES];
    CHECK_OK(graphmailer_outbox_enqueue(outbox, m, refused, sizeof refused));
    gm_put_faults("{\"send\": [{\"status\": 400, \"code\": \"ErrorInvalidRecipients\"}]}");
    graphmailer_run_summary summary = {0};
    CHECK_OK(graphmailer_outbox_run_until_empty(outbox, mailer, &summary));
    CHECK(summary.failed == 1);
    CHECK_OK(graphmailer_outbox_enqueue(outbox, m, doomed, sizeof doomed));
    CHECK(listed(outbox, GRAPHMAILER_QUEUE_FAILED, 0, refused) == 1);
    CHECK(listed(outbox, GRAPHMAILER_QUEUE_FAILED, 0, NULL) == 1);
    CHECK(listed(outbox, GRAPHMAILER_QUEUE_QUEUED, 0, doomed) == 1);
    CHECK(listed(outbox, GRAPHMAILER_QUEUE_NONE, 0, NULL) == 2);
    CHECK(listed(outbox, GRAPHMAILER_QUEUE_NONE, 1, NULL) == 1);

    /* A deleted mail is gone and never sent; a failed one is retried once. */
    CHECK_OK(graphmailer_outbox_delete(outbox, doomed));
    graphmailer_queue_state state = GRAPHMAILER_QUEUE_QUEUED;
    CHECK_OK(graphmailer_outbox_status(outbox, doomed, &state, NULL));
    CHECK(state == GRAPHMAILER_QUEUE_NONE);
    CHECK_STATUS(graphmailer_outbox_delete(outbox, doomed), GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_STR(graphmailer_last_error_field(), "id");
    CHECK_OK(graphmailer_outbox_retry(outbox, refused));
    CHECK_OK(graphmailer_outbox_run_until_empty(outbox, mailer, &summary));
    CHECK(summary.sent == 1);
    CHECK_STATUS(graphmailer_outbox_retry(outbox, refused), GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_CONTAINS(gm_last_message(), "sent");

    /* The answer is lost and Sent Items cannot be read: held until released. */
    gm_put_faults("{\"send\": [{\"drop_after_body\": true}]}");
    CHECK_OK(graphmailer_outbox_enqueue(outbox, m, lost, sizeof lost));
    CHECK_OK(graphmailer_outbox_run_until_empty(outbox, mailer, &summary));
    CHECK(summary.uncertain == 1);
    CHECK_STATUS(graphmailer_outbox_retry(outbox, lost), GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_OK(graphmailer_outbox_release(outbox, lost));
    CHECK_OK(graphmailer_outbox_run_until_empty(outbox, mailer, &summary));
    CHECK(summary.sent == 1);
    CHECK(listed(outbox, GRAPHMAILER_QUEUE_SENT, 0, NULL) == 2);
    CHECK(gm_counter("send_requests") == 4);

    char *json = (char *)"untouched";
    CHECK_STATUS(graphmailer_outbox_list(outbox, 7, 0, &json), GRAPHMAILER_ERR_INVALID_ARGUMENT);
    CHECK_STR(graphmailer_last_error_field(), "state");
    CHECK_STR(json, "untouched");
    CHECK_STATUS(graphmailer_outbox_list(outbox, 0, 0, NULL), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_STATUS(graphmailer_outbox_retry(outbox, "not an id!"), GRAPHMAILER_ERR_INVALID_MESSAGE);
    CHECK_STATUS(graphmailer_outbox_release(NULL, lost), GRAPHMAILER_ERR_NULL_ARGUMENT);

    CHECK_OK(graphmailer_message_free(m));
    CHECK_OK(graphmailer_outbox_free(outbox));
    CHECK_OK(graphmailer_mailer_free(mailer));
    remove_queue(dir);
}

/* Counts by state; after an outage, every deferred mail made due at once. */
void test_outbox_stats_and_retry_all_deferred(void) {
    char dir[1024];
    graphmailer_outbox *outbox = fresh_outbox(dir, sizeof dir);
    graphmailer_config c = gm_config();
    c.max_attempts = 1; /* a 503 defers the mail instead of being retried at once */
    graphmailer_mailer *mailer = NULL;
    CHECK_OK(graphmailer_mailer_new(&c, &mailer));
    graphmailer_message *m = invoice();

    graphmailer_queue_stats stats;
    memset(&stats, 0xff, sizeof stats);
    CHECK_OK(graphmailer_outbox_stats(outbox, &stats));
    for (size_t i = 0; i < GRAPHMAILER_QUEUE_STATES; i++) CHECK(stats.by_state[i] == 0, "state %zu", i);
    CHECK(stats.oldest_unsent_age_secs == -1);
    uint64_t retried = 99;
    CHECK_OK(graphmailer_outbox_retry_all_deferred(outbox, &retried));
    CHECK(retried == 0);

    char sent[GRAPHMAILER_OUTBOX_ID_BYTES], later[2][GRAPHMAILER_OUTBOX_ID_BYTES];
    CHECK_OK(graphmailer_outbox_enqueue(outbox, m, sent, sizeof sent));
    graphmailer_run_summary summary = {0};
    CHECK_OK(graphmailer_outbox_run_until_empty(outbox, mailer, &summary));
    CHECK(summary.sent == 1);
    /* Graph unavailable: both mails are deferred, their back-off ahead of them. */
    gm_put_faults("{\"send\": [{\"status\": 503}, {\"status\": 503}]}");
    for (int i = 0; i < 2; i++) CHECK_OK(graphmailer_outbox_enqueue(outbox, m, later[i], sizeof later[i]));
    CHECK_OK(graphmailer_outbox_run_until_empty(outbox, mailer, &summary));
    CHECK(summary.deferred == 2, "deferred %llu", (unsigned long long)summary.deferred);
    CHECK_OK(graphmailer_outbox_stats(outbox, &stats));
    CHECK(stats.by_state[GRAPHMAILER_QUEUE_SENT] == 1);
    CHECK(stats.by_state[GRAPHMAILER_QUEUE_DEFERRED] == 2);
    CHECK(stats.by_state[GRAPHMAILER_QUEUE_QUEUED] == 0);
    CHECK(stats.by_state[GRAPHMAILER_QUEUE_NONE] == 0);
    CHECK(stats.oldest_unsent_age_secs >= 0 && stats.oldest_unsent_age_secs < 300, "%lld",
          (long long)stats.oldest_unsent_age_secs);
    CHECK_OK(graphmailer_outbox_run_until_empty(outbox, mailer, &summary));
    CHECK(summary.sent == 0); /* not due yet */

    CHECK_OK(graphmailer_outbox_retry_all_deferred(outbox, &retried));
    CHECK(retried == 2, "retried %llu", (unsigned long long)retried);
    CHECK_OK(graphmailer_outbox_run_until_empty(outbox, mailer, &summary));
    CHECK(summary.sent == 2);
    json_value *all = gm_messages();
    for (int i = 0; i < 2; i++) check_sent_once(outbox, later[i], all);
    json_free(all);
    CHECK_OK(graphmailer_outbox_retry_all_deferred(outbox, NULL));
    CHECK_OK(graphmailer_outbox_stats(outbox, &stats));
    CHECK(stats.by_state[GRAPHMAILER_QUEUE_SENT] == 3 && stats.oldest_unsent_age_secs == -1);

    CHECK_STATUS(graphmailer_outbox_stats(outbox, NULL), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_STATUS(graphmailer_outbox_stats(NULL, &stats), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_STATUS(graphmailer_outbox_retry_all_deferred(NULL, &retried), GRAPHMAILER_ERR_NULL_ARGUMENT);

    CHECK_OK(graphmailer_message_free(m));
    CHECK_OK(graphmailer_outbox_free(outbox));
    CHECK_OK(graphmailer_mailer_free(mailer));
    remove_queue(dir);
}

void test_outbox_bad_url_is_a_config_error(void) {
    const char *urls[] = {"mysql://db/outbox", "sqlite:", "/var/spool/no-scheme.db"};
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        graphmailer_outbox *outbox = (graphmailer_outbox *)(void *)0x1;
        CHECK_STATUS(graphmailer_outbox_open(urls[i], &outbox), GRAPHMAILER_ERR_CONFIG);
        CHECK_STR(graphmailer_last_error_field(), "outbox");
        CHECK(graphmailer_last_error_hint() != NULL || strstr(gm_last_message(), "sqlite:") != NULL);
        CHECK(outbox == (graphmailer_outbox *)(void *)0x1, "the output was written on failure");
    }
    CHECK_STATUS(graphmailer_outbox_open(NULL, NULL), GRAPHMAILER_ERR_NULL_ARGUMENT);
}

/* graphmailer_outbox_run in a thread of its own, as a service runs it: mail
 * queued while it runs goes out once each, and setting the stop flag (what a
 * SIGTERM handler does) ends it with GRAPHMAILER_OK. */
struct worker {
    graphmailer_outbox *outbox;
    graphmailer_mailer *mailer;
    volatile int stop;
    int status;
};

static void *run_worker(void *arg) {
    struct worker *w = arg;
    w->status = (int)graphmailer_outbox_run(w->outbox, w->mailer, (const int *)&w->stop);
    return NULL;
}

void test_outbox_run_delivers_until_stopped(void) {
    gm_reset();
    char dir[1024], url[1100];
    queue_url(dir, sizeof dir, url, sizeof url);
    struct worker w = {NULL, gm_mailer(), 0, -1};
    CHECK_OK(graphmailer_outbox_open(url, &w.outbox));
    CHECK_STATUS(graphmailer_outbox_run(w.outbox, w.mailer, NULL), GRAPHMAILER_ERR_NULL_ARGUMENT);
    CHECK_STR(graphmailer_last_error_field(), "stop");

    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, run_worker, &w) == 0);
    char ids[3][GRAPHMAILER_OUTBOX_ID_BYTES];
    for (int i = 0; i < 3; i++) {
        CHECK_OK(graphmailer_outbox_enqueue_mime(w.outbox, NULL, (const uint8_t *)MIME, strlen(MIME), ids[i],
                                                 sizeof ids[i]));
    }
    /* Each mail reaches "sent" while the worker runs (up to 20 s). */
    for (int i = 0; i < 3; i++) {
        graphmailer_queue_state state = GRAPHMAILER_QUEUE_NONE;
        for (int tries = 0; tries < 400 && state != GRAPHMAILER_QUEUE_SENT; tries++) {
            CHECK_OK(graphmailer_outbox_status(w.outbox, ids[i], &state, NULL));
            if (state != GRAPHMAILER_QUEUE_SENT) usleep(50 * 1000);
        }
        CHECK(state == GRAPHMAILER_QUEUE_SENT, "mail %d is in state %u", i, (unsigned)state);
    }
    w.stop = 1;
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK(w.status == GRAPHMAILER_OK, "the worker ended with %d", w.status);
    CHECK(gm_counter("send_requests") == 3);

    CHECK_OK(graphmailer_outbox_free(w.outbox));
    CHECK_OK(graphmailer_mailer_free(w.mailer));
    remove_queue(dir);
}
