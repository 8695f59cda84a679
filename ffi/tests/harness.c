/* See harness.h. */
#define _GNU_SOURCE
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int gm_check_failures = 0;
static int passed = 0, failed = 0;
gm_emulator gm_emu;

void gm_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    gm_check_failures++;
}

int gm_streq(const char *a, const char *b) {
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

const char *gm_last_message(void) {
    const char *m = graphmailer_last_error_message();
    return m ? m : "";
}

double gm_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static double test_started;

void gm_record(const char *name, int failures) {
    double took = gm_now_ms() - test_started;
    if (failures == 0) {
        passed++;
        printf("ok   %s (%.0f ms)\n", name, took);
    } else {
        failed++;
        printf("FAIL %s (%.0f ms)\n", name, took);
    }
    fflush(stdout);
    test_started = gm_now_ms();
}

/* A test that hangs (a deadlock is what some of them look for) fails by
 * name after GM_TEST_TIMEOUT seconds (300 by default: valgrind is slow)
 * instead of holding the suite until the CI's own limit. */
static char timed_out_line[512];
static pid_t harness_pid;

static void on_alarm(int sig) {
    if (getpid() != harness_pid) {
        /* A test's forked child with its own alarm: the default, as before. */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    /* Only async-signal-safe calls: the line was formatted before the test. */
    ssize_t ignored = write(STDOUT_FILENO, timed_out_line, strlen(timed_out_line));
    (void)ignored;
    if (gm_emu.pid > 0) kill(gm_emu.pid, SIGTERM);
    _exit(1);
}

void gm_run(const char *name, gm_test_fn fn) {
    static unsigned limit = 0;
    if (limit == 0) {
        const char *set = getenv("GM_TEST_TIMEOUT");
        limit = set && atoi(set) > 0 ? (unsigned)atoi(set) : 300;
        harness_pid = getpid();
        signal(SIGALRM, on_alarm);
    }
    snprintf(timed_out_line, sizeof timed_out_line,
             "FAIL %s (still running after %u s)\n%d passed, %d failed\n", name, limit, passed,
             failed + 1);
    gm_check_failures = 0;
    test_started = gm_now_ms();
    alarm(limit);
    fn();
    alarm(0);
    gm_record(name, gm_check_failures);
}

int gm_summary(void) {
    printf("%d passed, %d failed\n", passed, failed);
    fflush(stdout);
    return failed == 0 && passed > 0 ? 0 : 1;
}

/* ---- the emulator ------------------------------------------------------ */

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int gm_emulator_start(gm_emulator *emu, const char *args) {
    memset(emu, 0, sizeof *emu);
    const char *bin = getenv("GM_EMULATOR");
    if (!bin || !*bin) bin = "target/x86_64-unknown-linux-gnu/debug/graphmailer-emulator";
    char out_path[] = "/tmp/gm-ffi-emulator-XXXXXX";
    int out_fd = mkstemp(out_path);
    if (out_fd < 0) return -1;
    unlink(out_path); /* the file lives while both ends hold it */

    /* argv: bin + whitespace-split args */
    char *copy = strdup(args ? args : "");
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)bin;
    for (char *tok = strtok(copy, " "); tok && argc < 31; tok = strtok(NULL, " ")) argv[argc++] = tok;
    argv[argc] = NULL;

    static int started = 0;
    snprintf(emu->log, sizeof emu->log, "/tmp/gm-ffi-emulator-%d-%d.log", (int)getpid(), ++started);
    pid_t pid = fork();
    if (pid < 0) { free(copy); close(out_fd); return -1; }
    if (pid == 0) {
        int log = open(emu->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(out_fd, 1);
        if (log >= 0) dup2(log, 2);
        execv(bin, argv);
        _exit(127);
    }
    free(copy);
    emu->pid = pid;

    /* Wait for the first line. */
    char buf[8192];
    for (int waited = 0; waited < 30000; waited += 20) {
        ssize_t n = pread(out_fd, buf, sizeof buf - 1, 0);
        if (n > 0) {
            buf[n] = 0;
            char *nl = strchr(buf, '\n');
            if (nl) {
                *nl = 0;
                close(out_fd);
                emu->banner = json_parse(buf);
                const char *url = json_string_at(emu->banner, "url");
                const char *secret = json_string_at(emu->banner, "client_secret");
                const char *ca = json_string_at(emu->banner, "ca_file");
                if (!url || !secret) { gm_emulator_stop(emu); return -1; }
                snprintf(emu->url, sizeof emu->url, "%s", url);
                snprintf(emu->client_secret, sizeof emu->client_secret, "%s", secret);
                if (ca) snprintf(emu->ca_file, sizeof emu->ca_file, "%s", ca);
                const char *colon = strrchr(url, ':');
                emu->port = colon ? atoi(colon + 1) : 0;
                return emu->port > 0 ? 0 : -1;
            }
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) { emu->pid = 0; close(out_fd); return -1; }
        sleep_ms(20);
    }
    close(out_fd);
    gm_emulator_stop(emu);
    return -1;
}

void gm_emulator_stop(gm_emulator *emu) {
    if (emu->pid > 0) {
        kill(emu->pid, SIGTERM);
        int status;
        waitpid(emu->pid, &status, 0);
        emu->pid = 0;
        if (!gm_emulator_crashed) unlink(emu->log); /* kept to read after a crash */
    }
    json_free(emu->banner);
    emu->banner = NULL;
}

/* ---- HTTP -------------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

char *gm_http(int port, const char *method, const char *path, const char *body, int *status_out) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return NULL;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) { close(fd); return NULL; }
    size_t body_len = body ? strlen(body) : 0;
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     method, path, port, body_len);
    if (write_all(fd, head, (size_t)n) != 0 || (body_len && write_all(fd, body, body_len) != 0)) {
        close(fd);
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *resp = malloc(cap);
    for (;;) {
        if (len + 1024 >= cap) {
            cap *= 2;
            char *bigger = realloc(resp, cap);
            if (!bigger) { free(resp); close(fd); return NULL; }
            resp = bigger;
        }
        ssize_t r = read(fd, resp + len, cap - len - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
    }
    close(fd);
    resp[len] = 0;
    int status = 0;
    if (sscanf(resp, "HTTP/%*s %d", &status) != 1) { free(resp); return NULL; }
    if (status_out) *status_out = status;
    char *start = strstr(resp, "\r\n\r\n");
    char *out = strdup(start ? start + 4 : "");
    free(resp);
    return out;
}

int gm_emulator_crashed = 0;

/* Says so when the shared emulator has died (its log is kept). */
static void report_if_dead(void) {
    int status;
    if (gm_emu.pid > 0 && waitpid(gm_emu.pid, &status, WNOHANG) == gm_emu.pid) {
        fprintf(stderr, "    the emulator died (wait status %d); its stderr: %s\n", status, gm_emu.log);
        gm_emu.pid = 0;
        gm_emulator_crashed = 1;
    }
}

static int request_ok(const char *method, const char *path, const char *body) {
    int status = 0;
    char *resp = gm_http(gm_emu.port, method, path, body, &status);
    int ok = resp && status >= 200 && status < 300;
    if (!ok) gm_fail(__FILE__, __LINE__, "%s %s -> %d %s", method, path, status, resp ? resp : "(no answer)");
    if (!resp) report_if_dead();
    free(resp);
    return ok;
}

void gm_reset(void) {
    request_ok("POST", "/_emulator/reset", NULL);
    request_ok("PUT", "/_emulator/faults", "{}");
}

void gm_put_faults(const char *json) { request_ok("PUT", "/_emulator/faults", json); }

json_value *gm_get_json(const char *path) {
    int status = 0;
    char *resp = gm_http(gm_emu.port, "GET", path, NULL, &status);
    json_value *v = resp ? json_parse(resp) : NULL;
    if (!v) gm_fail(__FILE__, __LINE__, "GET %s -> %d, not JSON: %s", path, status, resp ? resp : "(no answer)");
    if (!resp) report_if_dead();
    free(resp);
    return v;
}

json_value *gm_messages(void) { return gm_get_json("/_emulator/messages"); }

long gm_counter(const char *name) {
    json_value *c = gm_get_json("/_emulator/counters");
    const json_value *v = json_member(c, name);
    long n = v && v->type == JSON_NUMBER ? (long)v->number : -1;
    json_free(c);
    return n;
}

graphmailer_config gm_config(void) {
    graphmailer_config c;
    memset(&c, 0, sizeof c);
    c.tenant_id = "7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c37";
    c.client_id = "3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14";
    c.client_secret = gm_emu.client_secret;
    c.authority_host = gm_emu.url;
    c.graph_endpoint = gm_emu.url;
    return c;
}

graphmailer_mailer *gm_mailer(void) {
    graphmailer_config c = gm_config();
    graphmailer_mailer *m = NULL;
    CHECK_OK(graphmailer_mailer_new(&c, &m));
    return m;
}

/* ---- base64 ------------------------------------------------------------ */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

unsigned char *gm_base64_decode(const char *text, size_t *len_out) {
    size_t n = strlen(text);
    unsigned char *out = malloc(n / 4 * 3 + 3);
    if (!out) return NULL;
    size_t len = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(text[i]);
        if (v < 0) continue; /* '=' and whitespace */
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[len++] = (unsigned char)(acc >> bits);
        }
    }
    *len_out = len;
    return out;
}

char *gm_base64_encode(const unsigned char *data, size_t len) {
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)data[i] << 16;
        if (i + 1 < len) v |= (unsigned)data[i + 1] << 8;
        if (i + 2 < len) v |= data[i + 2];
        out[o++] = B64[(v >> 18) & 63];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = i + 1 < len ? B64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? B64[v & 63] : '=';
    }
    out[o] = 0;
    return out;
}
