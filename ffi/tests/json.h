/* A small JSON reader for the C tests: parses a whole text into a tree and
 * looks values up by dotted path ("message.toRecipients.0.emailAddress.name").
 * Test support only; not part of libgraphmailer. */
#ifndef GM_TEST_JSON_H
#define GM_TEST_JSON_H

#include <stddef.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json_value {
    json_type type;
    int boolean;
    double number;
    char *string;              /* JSON_STRING: decoded UTF-8, NUL-terminated */
    size_t string_len;
    size_t count;              /* JSON_ARRAY / JSON_OBJECT: number of items */
    char **keys;               /* JSON_OBJECT: the keys, in order */
    struct json_value **items; /* JSON_ARRAY / JSON_OBJECT: the values */
} json_value;

/* NULL when the text is not one valid JSON value. Free with json_free. */
json_value *json_parse(const char *text);
void json_free(json_value *value);

/* The member `key` of an object, or NULL. */
const json_value *json_member(const json_value *object, const char *key);
/* Follows a dotted path; numbers index arrays. NULL when absent. */
const json_value *json_path(const json_value *root, const char *path);
/* The string at `path`, or NULL when absent or not a string. */
const char *json_string_at(const json_value *root, const char *path);
/* Number of items of the array at `path`, or -1. */
long json_array_len(const json_value *root, const char *path);
/* True when the value at `path` equals `expected` (a JSON value: the
 * scenario file's expectations), compared by type and value. */
int json_equal(const json_value *a, const json_value *b);

#endif
