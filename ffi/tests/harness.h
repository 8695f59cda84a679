/* Test support for the C tests of libgraphmailer: checks and counting, the
 * emulator as a child process, and a tiny HTTP/1.0 client for its test API.
 * Test support only; not part of libgraphmailer. */
#ifndef GM_TEST_HARNESS_H
#define GM_TEST_HARNESS_H

#include <stddef.h>

#include "graphmailer.h"
#include "json.h"

/* ---- checks ------------------------------------------------------------ */

extern int gm_check_failures; /* failed checks in the current test */

void gm_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A check that records a failure and carries on. */
#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) gm_fail(__FILE__, __LINE__, "CHECK(" #cond ") " __VA_ARGS__); \
    } while (0)

/* The status of a graphmailer call, with its last error shown on mismatch. */
#define CHECK_STATUS(call, expected)                                           \
    do {                                                                       \
        graphmailer_status gm_s_ = (call);                                     \
        if (gm_s_ != (graphmailer_status)(expected))                          \
            gm_fail(__FILE__, __LINE__, "%s returned %s (%u), expected %s: %s", #call, \
                    graphmailer_status_name(gm_s_), (unsigned)gm_s_,          \
                    graphmailer_status_name(expected), gm_last_message());    \
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, GRAPHMAILER_OK)

/* Strings: NULL-safe equality and containment. */
#define CHECK_STR(actual, expected)                                            \
    do {                                                                       \
        const char *gm_a_ = (actual), *gm_e_ = (expected);                     \
        if (!gm_streq(gm_a_, gm_e_))                                           \
            gm_fail(__FILE__, __LINE__, "%s is \"%s\", expected \"%s\"", #actual, \
                    gm_a_ ? gm_a_ : "(null)", gm_e_ ? gm_e_ : "(null)");       \
    } while (0)
#define CHECK_CONTAINS(haystack, needle)                                       \
    do {                                                                       \
        const char *gm_h_ = (haystack), *gm_n_ = (needle);                     \
        if (!gm_h_ || !strstr(gm_h_, gm_n_))                                   \
            gm_fail(__FILE__, __LINE__, "%s (\"%s\") does not contain \"%s\"", #haystack, \
                    gm_h_ ? gm_h_ : "(null)", gm_n_);                          \
    } while (0)

int gm_streq(const char *a, const char *b);
const char *gm_last_message(void); /* graphmailer_last_error_message or "" */

/* ---- tests ------------------------------------------------------------- */

typedef void (*gm_test_fn)(void);
typedef struct {
    const char *name;
    gm_test_fn fn;
} gm_test;

/* Runs one test (counting it passed when no check failed). */
void gm_run(const char *name, gm_test_fn fn);
/* Records the outcome of a test run without gm_run (scenario cases). */
void gm_record(const char *name, int failures);
int gm_summary(void); /* prints "N passed, N failed"; returns the exit code */

/* ---- the emulator ------------------------------------------------------ */

typedef struct {
    int pid;
    int port;
    char url[128];
    char ca_file[1024];
    char client_secret[256];
    char log[256]; /* its stderr */
    json_value *banner;
} gm_emulator;

/* Starts the emulator binary (GM_EMULATOR, or the workspace's debug build)
 * with `args` ("--http --port 0"), reads its first stdout line. 0 on success. */
int gm_emulator_start(gm_emulator *emu, const char *args);
void gm_emulator_stop(gm_emulator *emu);
extern int gm_emulator_crashed; /* set when the shared emulator died mid-run */

/* The emulator most tests share (started once by main). */
extern gm_emulator gm_emu;

/* An HTTP/1.0 request to the emulator at 127.0.0.1:port; the response body
 * is returned malloc'ed (caller frees) and the status written. NULL on a
 * connection failure. */
char *gm_http(int port, const char *method, const char *path, const char *body, int *status_out);

/* Test-API helpers on gm_emu. */
void gm_reset(void);                        /* POST /_emulator/reset (and no faults) */
void gm_put_faults(const char *json);       /* PUT /_emulator/faults */
json_value *gm_get_json(const char *path);  /* GET, parsed; NULL on failure */
double gm_now_ms(void);                     /* a monotonic clock, in milliseconds */
json_value *gm_messages(void);              /* GET /_emulator/messages */
long gm_counter(const char *name);          /* GET /_emulator/counters .name */

/* Base64 (RFC 4648, padded): the decoder skips '=' and whitespace. Both
 * return a malloc'ed buffer the caller frees; the encoder's is a C string. */
unsigned char *gm_base64_decode(const char *text, size_t *len_out);
char *gm_base64_encode(const unsigned char *data, size_t len);

/* A config pointing at gm_emu with the ERP app's secret (all else zero). */
graphmailer_config gm_config(void);
/* A mailer from gm_config(), or NULL (with a failed check). */
graphmailer_mailer *gm_mailer(void);

#endif
