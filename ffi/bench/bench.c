/* Sends N mails with C threads sharing one mailer and prints one JSON line,
 * the same figures as the core's send_throughput example:
 *   bench [--count N] [--concurrency C]
 * Configuration from the environment (AZURE_*, GRAPHMAILER_*); the sender
 * from GRAPHMAILER_BENCH_SENDER (default erp@contoso.test). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <graphmailer.h>

static graphmailer_mailer *mailer;
static graphmailer_message *message;
static atomic_long next_send;
static atomic_long failures;
static long count = 2000;

static void *worker(void *arg) {
    (void)arg;
    while (atomic_fetch_add(&next_send, 1) < count)
        if (graphmailer_mailer_send(mailer, message, NULL) != GRAPHMAILER_OK) atomic_fetch_add(&failures, 1);
    return NULL;
}

static long arg(int argc, char **argv, const char *name, long fallback) {
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return atol(argv[i + 1]);
    return fallback;
}

int main(int argc, char **argv) {
    count = arg(argc, argv, "--count", 2000);
    long concurrency = arg(argc, argv, "--concurrency", 16);
    if (concurrency < 1) concurrency = 1;
    const char *sender = getenv("GRAPHMAILER_BENCH_SENDER");
    graphmailer_status s = graphmailer_mailer_new_from_env(&mailer);
    if (s == GRAPHMAILER_OK) s = graphmailer_message_new(sender ? sender : "erp@contoso.test", &message);
    if (s == GRAPHMAILER_OK) s = graphmailer_message_add_to(message, "bench@example.com", NULL);
    if (s == GRAPHMAILER_OK) s = graphmailer_message_set_subject(message, "throughput");
    if (s == GRAPHMAILER_OK) s = graphmailer_message_set_text(message, "x");
    /* one send outside the clock, so the token request is not measured */
    if (s == GRAPHMAILER_OK) s = graphmailer_mailer_send(mailer, message, NULL);
    if (s != GRAPHMAILER_OK) {
        fprintf(stderr, "%s: %s\n", graphmailer_status_name(s), graphmailer_last_error_message());
        return 1;
    }
    pthread_t *threads = calloc((size_t)concurrency, sizeof *threads);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < concurrency; i++) pthread_create(&threads[i], NULL, worker, NULL);
    for (long i = 0; i < concurrency; i++) pthread_join(threads[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("{\"count\":%ld,\"concurrency\":%ld,\"seconds\":%.4f,\"sends_per_sec\":%.1f,\"failures\":%ld}\n", count,
           concurrency, seconds, (double)count / seconds, (long)atomic_load(&failures));
    free(threads);
    graphmailer_message_free(message);
    graphmailer_mailer_free(mailer);
    return atomic_load(&failures) == 0 ? 0 : 1;
}
