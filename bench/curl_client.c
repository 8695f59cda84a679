/* The hand-written libcurl client the benchmark measures graphmailer against:
 * the token request, then sendMail with the same JSON body, HTTP/2 over TLS,
 * one easy handle (so one connection) per thread.
 *
 *   curl_client cold|serial|parallel [COUNT]
 *
 * Reads the settings graphmailer reads: AZURE_AUTHORITY_HOST, AZURE_TENANT_ID,
 * AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, GRAPHMAILER_GRAPH_ENDPOINT and
 * GRAPHMAILER_CA_BUNDLE. Prints the same JSON line as every client of the
 * benchmark (see bench/README.md). */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define IN_FLIGHT 16
static const char *BODY =
    "{\"message\":{\"subject\":\"bench\",\"body\":{\"contentType\":\"Text\",\"content\":\"x\"},"
    "\"toRecipients\":[{\"emailAddress\":{\"address\":\"bench@example.com\"}}]},\"saveToSentItems\":true}";
static const char *MAILBOXES[4] = {"bench1@contoso.test", "bench2@contoso.test", "bench3@contoso.test",
                                   "bench4@contoso.test"};

static char send_urls[4][512];
static char authorization[8192];
static const char *ca_file;
static atomic_long next_send;
static long send_limit;
static atomic_int failures;

static const char *need(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "%s is not set\n", name);
        exit(2);
    }
    return v;
}

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

struct buffer {
    char data[16384];
    size_t len;
};

static size_t keep(char *p, size_t size, size_t n, void *userdata) {
    struct buffer *b = userdata;
    size_t total = size * n;
    if (b->len + total >= sizeof b->data) return 0;
    memcpy(b->data + b->len, p, total);
    b->len += total;
    b->data[b->len] = 0;
    return total;
}

static size_t discard(char *p, size_t size, size_t n, void *userdata) {
    (void)p;
    (void)userdata;
    return size * n;
}

static CURL *handle(void) {
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    if (ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    return c;
}

static void fetch_token(CURL *c) {
    char url[1024], *form;
    snprintf(url, sizeof url, "%s/%s/oauth2/v2.0/token", need("AZURE_AUTHORITY_HOST"), need("AZURE_TENANT_ID"));
    char *id = curl_easy_escape(c, need("AZURE_CLIENT_ID"), 0);
    char *secret = curl_easy_escape(c, need("AZURE_CLIENT_SECRET"), 0);
    if (asprintf(&form,
                 "grant_type=client_credentials&client_id=%s&client_secret=%s"
                 "&scope=https%%3A%%2F%%2Fgraph.microsoft.com%%2F.default",
                 id, secret) < 0)
        exit(1);
    curl_free(id);
    curl_free(secret);
    struct buffer *b = calloc(1, sizeof *b);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    const char *at = strstr(b->data, "\"access_token\":\"");
    if (rc != CURLE_OK || status != 200 || !at) {
        fprintf(stderr, "token request failed: %s, status %ld\n", curl_easy_strerror(rc), status);
        exit(1);
    }
    at += strlen("\"access_token\":\"");
    const char *end = strchr(at, '"');
    snprintf(authorization, sizeof authorization, "Authorization: Bearer %.*s", (int)(end - at), at);
    free(form);
    free(b);
    curl_easy_reset(c);
}

struct sender {
    CURL *curl;
    struct curl_slist *headers;
};

static void sender_init(struct sender *s) {
    s->curl = handle();
    s->headers = curl_slist_append(NULL, authorization);
    s->headers = curl_slist_append(s->headers, "Content-Type: application/json");
    curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, BODY);
    curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, discard);
}

static int send_one(struct sender *s, long i) {
    curl_easy_setopt(s->curl, CURLOPT_URL, send_urls[i % 4]);
    CURLcode rc = curl_easy_perform(s->curl);
    long status = 0;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status != 202) {
        fprintf(stderr, "sendMail failed: %s, status %ld\n", curl_easy_strerror(rc), status);
        return 1;
    }
    return 0;
}

static void sender_free(struct sender *s) {
    curl_easy_cleanup(s->curl);
    curl_slist_free_all(s->headers);
}

static void *worker(void *arg) {
    struct sender *s = arg;
    long i;
    while ((i = atomic_fetch_add(&next_send, 1)) < send_limit)
        if (send_one(s, i)) atomic_fetch_add(&failures, 1);
    return NULL;
}

static void burst(struct sender *senders, long count) {
    pthread_t threads[IN_FLIGHT];
    atomic_store(&next_send, 0);
    send_limit = count;
    for (int t = 0; t < IN_FLIGHT; t++) pthread_create(&threads[t], NULL, worker, &senders[t]);
    for (int t = 0; t < IN_FLIGHT; t++) pthread_join(threads[t], NULL);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "serial";
    long count = argc > 2 ? atol(argv[2]) : 1000;
    ca_file = getenv("GRAPHMAILER_CA_BUNDLE");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *graph = need("GRAPHMAILER_GRAPH_ENDPOINT");
    for (int m = 0; m < 4; m++)
        snprintf(send_urls[m], sizeof send_urls[m], "%s/v1.0/users/%s/sendMail", graph, MAILBOXES[m]);
    CURL *first = handle();
    fetch_token(first);
    curl_easy_cleanup(first);

    if (strcmp(mode, "cold") == 0) {
        struct sender s;
        sender_init(&s);
        if (send_one(&s, 0)) return 1;
        printf("{\"first_accepted_ns\":%llu}\n", monotonic_ns());
        sender_free(&s);
    } else if (strcmp(mode, "serial") == 0) {
        struct sender s;
        sender_init(&s);
        if (send_one(&s, 0)) return 1;
        long long cpu = cpu_us();
        unsigned long long t0 = monotonic_ns();
        for (long i = 0; i < count; i++)
            if (send_one(&s, 0)) return 1;
        printf("{\"count\":%ld,\"seconds\":%.6f,\"cpu_us\":%lld}\n", count, (double)(monotonic_ns() - t0) / 1e9,
               cpu_us() - cpu);
        sender_free(&s);
    } else if (strcmp(mode, "parallel") == 0) {
        struct sender senders[IN_FLIGHT];
        for (int t = 0; t < IN_FLIGHT; t++) sender_init(&senders[t]);
        burst(senders, IN_FLIGHT);
        long long cpu = cpu_us();
        unsigned long long t0 = monotonic_ns();
        burst(senders, count);
        printf("{\"count\":%ld,\"seconds\":%.6f,\"cpu_us\":%lld}\n", count, (double)(monotonic_ns() - t0) / 1e9,
               cpu_us() - cpu);
        for (int t = 0; t < IN_FLIGHT; t++) sender_free(&senders[t]);
        if (atomic_load(&failures)) return 1;
    } else {
        fprintf(stderr, "usage: curl_client cold|serial|parallel [COUNT]\n");
        return 2;
    }
    curl_global_cleanup();
    return 0;
}
