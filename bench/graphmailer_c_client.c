/* graphmailer's C library, configured from the environment as its README
 * says; threads share one mailer, as the library's documentation advises.
 *
 *   graphmailer_c_client cold|serial|parallel [COUNT]
 *
 * Prints the same JSON line as every client of the benchmark. */
#define _GNU_SOURCE
#include <graphmailer.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define IN_FLIGHT 16
static const char *MAILBOXES[4] = {"bench1@contoso.test", "bench2@contoso.test", "bench3@contoso.test",
                                   "bench4@contoso.test"};
static graphmailer_mailer *mailer;
static graphmailer_message *messages[4];
static atomic_long next_send;
static long send_limit;
static atomic_int failures;

static unsigned long long monotonic_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (unsigned long long)t.tv_sec * 1000000000ULL + (unsigned long long)t.tv_nsec;
}

static long long cpu_us(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (long long)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000000LL + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
}

static int send_one(long i) {
    graphmailer_status s = graphmailer_mailer_send(mailer, messages[i % 4], NULL);
    if (s != GRAPHMAILER_OK) {
        fprintf(stderr, "%s: %s\n", graphmailer_status_name(s), graphmailer_last_error_message());
        return 1;
    }
    return 0;
}

static void *worker(void *arg) {
    (void)arg;
    long i;
    while ((i = atomic_fetch_add(&next_send, 1)) < send_limit)
        if (send_one(i)) atomic_fetch_add(&failures, 1);
    return NULL;
}

static void burst(long count) {
    pthread_t threads[IN_FLIGHT];
    atomic_store(&next_send, 0);
    send_limit = count;
    for (int t = 0; t < IN_FLIGHT; t++) pthread_create(&threads[t], NULL, worker, NULL);
    for (int t = 0; t < IN_FLIGHT; t++) pthread_join(threads[t], NULL);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "serial";
    long count = argc > 2 ? atol(argv[2]) : 1000;
    graphmailer_status s = graphmailer_mailer_new_from_env(&mailer);
    for (int m = 0; m < 4 && s == GRAPHMAILER_OK; m++) {
        s = graphmailer_message_new(MAILBOXES[m], &messages[m]);
        if (s == GRAPHMAILER_OK) s = graphmailer_message_add_to(messages[m], "bench@example.com", NULL);
        if (s == GRAPHMAILER_OK) s = graphmailer_message_set_subject(messages[m], "bench");
        if (s == GRAPHMAILER_OK) s = graphmailer_message_set_text(messages[m], "x");
    }
    if (s != GRAPHMAILER_OK) {
        fprintf(stderr, "%s: %s\n", graphmailer_status_name(s), graphmailer_last_error_message());
        return 1;
    }
    if (strcmp(mode, "cold") == 0) {
        if (send_one(0)) return 1;
        printf("{\"first_accepted_ns\":%llu}\n", monotonic_ns());
    } else if (strcmp(mode, "serial") == 0 || strcmp(mode, "parallel") == 0) {
        int serial = strcmp(mode, "serial") == 0;
        if (serial) {
            if (send_one(0)) return 1;
        } else {
            burst(IN_FLIGHT);
        }
        long long cpu = cpu_us();
        unsigned long long t0 = monotonic_ns();
        if (serial) {
            for (long i = 0; i < count; i++)
                if (send_one(0)) return 1;
        } else {
            burst(count);
        }
        printf("{\"count\":%ld,\"seconds\":%.6f,\"cpu_us\":%lld}\n", count, (double)(monotonic_ns() - t0) / 1e9,
               cpu_us() - cpu);
    } else {
        fprintf(stderr, "usage: graphmailer_c_client cold|serial|parallel [COUNT]\n");
        return 2;
    }
    for (int m = 0; m < 4; m++) graphmailer_message_free(messages[m]);
    graphmailer_mailer_free(mailer);
    return atomic_load(&failures) == 0 ? 0 : 1;
}
