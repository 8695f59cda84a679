// The header compiles as C++ (test.sh builds this with g++ -std=c++11
// -pedantic -Werror) and links: the same calls a C program makes.
#include <graphmailer.h>

#include <cstdio>
#include <cstring>

int main() {
    graphmailer_config config{};  // zero-initialized: every setting "not given"
    graphmailer_mailer *mailer = nullptr;
    graphmailer_status status = graphmailer_mailer_new(&config, &mailer);
    if (status != GRAPHMAILER_ERR_CONFIG || mailer != nullptr) return 1;
    if (std::strcmp(graphmailer_last_error_field(), "AZURE_TENANT_ID") != 0) return 2;
    graphmailer_message *message = nullptr;
    if (graphmailer_message_new("erp@contoso.test", &message) != GRAPHMAILER_OK) return 3;
    if (graphmailer_message_validate(message) != GRAPHMAILER_ERR_INVALID_MESSAGE) return 4;
    if (graphmailer_message_free(message) != GRAPHMAILER_OK) return 5;
    config.large_messages = true;
    config.default_sender = "erp@contoso.test";
    const uint8_t mime[] = "To: alice@example.com\r\n\r\nHi\r\n";
    if (graphmailer_mailer_send_mime(nullptr, nullptr, mime, sizeof mime - 1, nullptr) !=
        GRAPHMAILER_ERR_NULL_ARGUMENT)
        return 6;
    graphmailer_policy_style style = GRAPHMAILER_POLICY_RBAC;
    (void)style;
    std::printf("C++ sees libgraphmailer %s, max input %d bytes, max MIME %d bytes\n", graphmailer_version(),
                GRAPHMAILER_MAX_INPUT_BYTES, GRAPHMAILER_MAX_MIME_BYTES);
    return 0;
}
