/* Secretless credentials from C: a federated token file (and its rotation
 * mid-run) and a managed identity through graphmailer_mailer_new_from_env,
 * an assertion callback in graphmailer_config, each common failure with its
 * status, code and hint, and no token in any error text. */
#include "tests.h"

#include <stdint.h>
#include <unistd.h>

#define WORKLOAD_CLIENT "7e1d5a3c-9b2f-4c8e-a6d4-3f2b1c0e9d8a"
#define TENANT "7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c37"
#define NO_MAIL_SEND_IDENTITY "0f1e2d3c-4b5a-4968-8776-655443322110"

static graphmailer_message *invoice(void) {
    graphmailer_message *m = NULL;
    CHECK_OK(graphmailer_message_new("erp@contoso.test", &m));
    CHECK_OK(graphmailer_message_add_to(m, "accounts@example.com", NULL));
    CHECK_OK(graphmailer_message_set_subject(m, "Invoice 4711"));
    CHECK_OK(graphmailer_message_set_text(m, "Please pay."));
    return m;
}

#define AUDIENCE "api://AzureADTokenExchange"

/* A workload token from the emulator's issuer (malloc'ed), or NULL. */
static char *mint(long lifetime, const char *subject, const char *audience) {
    char body[512];
    snprintf(body, sizeof body, "{\"subject\":\"%s\",\"audience\":\"%s\",\"lifetime_seconds\":%ld}",
             subject, audience, lifetime);
    int status = 0;
    char *answer = gm_http(gm_emu.port, "POST", "/_emulator/oidc/token", body, &status);
    CHECK(answer && status == 200, "minting a token: %d", status);
    json_value *json = answer ? json_parse(answer) : NULL;
    free(answer);
    const char *token = json ? json_string_at(json, "token") : NULL;
    char *copy = token ? strdup(token) : NULL;
    json_free(json);
    return copy;
}

#define SUBJECT "system:serviceaccount:erp:graphmailer"

/* As the platform does: a new file moved over the old one. */
static void rotate(const char *path, const char *token) {
    char next[300];
    snprintf(next, sizeof next, "%s.next", path);
    FILE *f = fopen(next, "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f, "%s\n", token);
    fclose(f);
    CHECK(rename(next, path) == 0);
}

/* The token's signature (its last part) must be in none of the error texts. */
static void check_no_token(const char *token) {
    const char *signature = strrchr(token, '.');
    signature = signature ? signature + 1 : token;
    const char *texts[] = {graphmailer_last_error_message(), graphmailer_last_error_hint(),
                           graphmailer_last_error_code()};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        CHECK(!texts[i] || !strstr(texts[i], signature), "a token in an error text");
}

static void federated_env(const char *path) {
    setenv("AZURE_TENANT_ID", TENANT, 1);
    setenv("AZURE_CLIENT_ID", WORKLOAD_CLIENT, 1);
    setenv("AZURE_FEDERATED_TOKEN_FILE", path, 1);
    setenv("AZURE_AUTHORITY_HOST", gm_emu.url, 1);
    setenv("GRAPHMAILER_GRAPH_ENDPOINT", gm_emu.url, 1);
    setenv("GRAPHMAILER_MAX_ATTEMPTS", "1", 1);
}

static void clear_env(void) {
    const char *names[] = {"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE",
                           "AZURE_AUTHORITY_HOST", "GRAPHMAILER_GRAPH_ENDPOINT", "GRAPHMAILER_MAX_ATTEMPTS",
                           "GRAPHMAILER_CREDENTIAL", "AZURE_POD_IDENTITY_AUTHORITY_HOST", "IDENTITY_ENDPOINT",
                           "IDENTITY_HEADER"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) unsetenv(names[i]);
}

/* The one message each test sends, freed at its end: freeing it right after
 * a send would clear the send's last error before the checks read it. */
static graphmailer_message *the_invoice;

static graphmailer_status send_one(graphmailer_mailer *mailer) {
    if (!the_invoice) the_invoice = invoice();
    return graphmailer_mailer_send(mailer, the_invoice, NULL);
}

static void forget_invoice(void) {
    graphmailer_message_free(the_invoice);
    the_invoice = NULL;
}

void test_federated_token_file_and_rotation(void) {
    gm_reset();
    char path[] = "/tmp/gm-ffi-federated-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    char *first = mint(600, SUBJECT, AUDIENCE);
    if (!first) return;
    rotate(path, first);
    federated_env(path);
    graphmailer_mailer *mailer = NULL;
    CHECK_OK(graphmailer_mailer_new_from_env(&mailer));
    CHECK_OK(send_one(mailer));
    char *second = mint(7200, SUBJECT, AUDIENCE);
    rotate(path, second);
    int status = 0;
    free(gm_http(gm_emu.port, "POST", "/_emulator/clock/advance", "{\"secs\":3700}", &status));
    CHECK(status == 200);
    CHECK_OK(send_one(mailer));
    uint64_t requests = 0;
    CHECK_OK(graphmailer_mailer_token_requests(mailer, &requests));
    CHECK(requests == 2, "%llu token requests", (unsigned long long)requests);
    CHECK_OK(graphmailer_mailer_free(mailer));

    /* Each mismatch: its status, code and hint, and no token in them. */
    struct {
        long lifetime;
        const char *subject, *audience, *code, *hint;
    } cases[] = {
        {3600, "system:serviceaccount:erp:other", AUDIENCE, "AADSTS700213", "system:serviceaccount:<namespace>"},
        {3600, SUBJECT, "api://SomethingElse", "AADSTS700212", "api://AzureADTokenExchange"},
        {-60, SUBJECT, AUDIENCE, "AADSTS700024", "stopped refreshing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *token = mint(cases[i].lifetime, cases[i].subject, cases[i].audience);
        if (!token) continue;
        rotate(path, token);
        mailer = NULL;
        CHECK_OK(graphmailer_mailer_new_from_env(&mailer));
        CHECK_STATUS(send_one(mailer), GRAPHMAILER_ERR_AUTHENTICATION);
        CHECK_STR(graphmailer_last_error_code(), cases[i].code);
        CHECK_CONTAINS(graphmailer_last_error_hint(), cases[i].hint);
        check_no_token(token);
        graphmailer_mailer_free(mailer);
        free(token);
    }

    /* A missing file: a configuration error naming the variable. */
    unlink(path);
    mailer = NULL;
    CHECK_OK(graphmailer_mailer_new_from_env(&mailer));
    CHECK_STATUS(send_one(mailer), GRAPHMAILER_ERR_CONFIG);
    CHECK_STR(graphmailer_last_error_field(), "AZURE_FEDERATED_TOKEN_FILE");
    CHECK_CONTAINS(graphmailer_last_error_message(), path);
    graphmailer_mailer_free(mailer);
    free(first);
    free(second);
    forget_invoice();
    clear_env();
}

/* userdata: the token to hand out, and how often it was asked for. */
typedef struct {
    const char *token;
    int calls;
} assertion_source;

static ptrdiff_t give_assertion(char *buffer, size_t buffer_len, void *userdata) {
    assertion_source *source = userdata;
    __atomic_add_fetch(&source->calls, 1, __ATOMIC_SEQ_CST);
    size_t len = strlen(source->token);
    if (len > buffer_len) return (ptrdiff_t)len;
    memcpy(buffer, source->token, len);
    return (ptrdiff_t)len;
}

static ptrdiff_t refuse_assertion(char *buffer, size_t buffer_len, void *userdata) {
    (void)buffer, (void)buffer_len, (void)userdata;
    return -1;
}

void test_assertion_callback(void) {
    gm_reset();
    char *token = mint(3600, SUBJECT, AUDIENCE);
    if (!token) return;
    assertion_source source = {token, 0};
    graphmailer_config config = gm_config();
    config.client_id = WORKLOAD_CLIENT;
    config.client_secret = NULL;
    config.assertion_callback = give_assertion;
    config.assertion_userdata = &source;
    graphmailer_mailer *mailer = NULL;
    CHECK_OK(graphmailer_mailer_new(&config, &mailer));
    CHECK_OK(send_one(mailer));
    CHECK_OK(send_one(mailer));
    CHECK(source.calls == 1, "asked %d times", source.calls);
    char *description = NULL;
    CHECK_OK(graphmailer_mailer_describe(mailer, &description));
    CHECK_CONTAINS(description, "assertion callback");
    CHECK(!strstr(description, strrchr(token, '.') + 1));
    graphmailer_string_free(description);
    graphmailer_mailer_free(mailer);

    config.assertion_callback = refuse_assertion;
    mailer = NULL;
    CHECK_OK(graphmailer_mailer_new(&config, &mailer));
    CHECK_STATUS(send_one(mailer), GRAPHMAILER_ERR_AUTHENTICATION);
    CHECK_CONTAINS(graphmailer_last_error_message(), "assertion_callback returned -1");
    graphmailer_mailer_free(mailer);
    forget_invoice();
    free(token);
}

void test_managed_identity(void) {
    gm_reset();
    setenv("GRAPHMAILER_CREDENTIAL", "managed_identity", 1);
    setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", gm_emu.url, 1);
    setenv("GRAPHMAILER_GRAPH_ENDPOINT", gm_emu.url, 1);
    setenv("GRAPHMAILER_MAX_ATTEMPTS", "1", 1);
    graphmailer_mailer *mailer = NULL;
    CHECK_OK(graphmailer_mailer_new_from_env(&mailer));
    CHECK_OK(send_one(mailer));
    graphmailer_mailer_free(mailer);

    /* App Service's endpoint, with the header the banner gives. */
    const char *header = json_string_at(gm_emu.banner, "identity_header");
    CHECK(header != NULL);
    if (header) {
        char endpoint[256];
        snprintf(endpoint, sizeof endpoint, "%s/msi/token", gm_emu.url);
        unsetenv("AZURE_POD_IDENTITY_AUTHORITY_HOST");
        setenv("IDENTITY_ENDPOINT", endpoint, 1);
        setenv("IDENTITY_HEADER", header, 1);
        mailer = NULL;
        CHECK_OK(graphmailer_mailer_new_from_env(&mailer));
        CHECK_OK(send_one(mailer));
        graphmailer_mailer_free(mailer);
        unsetenv("IDENTITY_ENDPOINT");
        unsetenv("IDENTITY_HEADER");
    }

    /* An identity without Mail.Send: access denied, with the grant. */
    setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", gm_emu.url, 1);
    setenv("AZURE_CLIENT_ID", NO_MAIL_SEND_IDENTITY, 1);
    mailer = NULL;
    CHECK_OK(graphmailer_mailer_new_from_env(&mailer));
    CHECK_STATUS(send_one(mailer), GRAPHMAILER_ERR_ACCESS_DENIED);
    CHECK_CONTAINS(graphmailer_last_error_hint(), "New-MgServicePrincipalAppRoleAssignment");
    graphmailer_mailer_free(mailer);
    CHECK(gm_counter("sends_accepted") == 2);
    forget_invoice();
    clear_env();
    unsetenv("AZURE_CLIENT_ID");
}
