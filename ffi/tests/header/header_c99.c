/* The header compiles as strict C99 (test.sh: gcc -std=c99 -pedantic
 * -Werror) and as C11; every type and enum value is usable. */
#include <graphmailer.h>

#include <stdio.h>

int main(void) {
    graphmailer_config config = {0};
    graphmailer_policy_request request = {0};
    graphmailer_mailer *mailer = NULL;
    graphmailer_status status = graphmailer_mailer_new(&config, &mailer);
    (void)request;
    if (status != GRAPHMAILER_ERR_CONFIG) return 1;
    if (GRAPHMAILER_ERR_FORKED != 105 || GRAPHMAILER_POLICY_APPLICATION_ACCESS_POLICY != 1) return 2;
    config.large_messages = true;
    config.default_sender = "erp@contoso.test";
    if (GRAPHMAILER_MAX_MIME_BYTES != 3 * 1024 * 1024 || GRAPHMAILER_MAX_ATTACHMENT_BYTES < GRAPHMAILER_MAX_INPUT_BYTES)
        return 3;
    if (graphmailer_mailer_send_mime(NULL, NULL, NULL, 0, NULL) != GRAPHMAILER_ERR_NULL_ARGUMENT) return 4;
    if (graphmailer_mailer_send_mime_file(NULL, NULL, "x.eml", NULL) != GRAPHMAILER_ERR_NULL_ARGUMENT) return 5;
    if (graphmailer_mailer_send_mime_fd(NULL, NULL, 0, NULL) != GRAPHMAILER_ERR_NULL_ARGUMENT) return 6;
    printf("C sees libgraphmailer %s\n", graphmailer_version());
    return 0;
}
