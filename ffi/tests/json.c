/* See json.h. Recursive descent over the RFC 8259 grammar. */
#include "json.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *p;
    int depth;
} reader;

static json_value *parse_value(reader *r);

static void skip_space(reader *r) {
    while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r') r->p++;
}

static json_value *new_value(json_type type) {
    json_value *v = calloc(1, sizeof *v);
    if (v) v->type = type;
    return v;
}

void json_free(json_value *v) {
    if (!v) return;
    for (size_t i = 0; i < v->count; i++) {
        if (v->keys) free(v->keys[i]);
        json_free(v->items[i]);
    }
    free(v->keys);
    free(v->items);
    free(v->string);
    free(v);
}

static int hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

static size_t put_utf8(char *out, unsigned cp) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12)); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18)); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F)); return 4;
}

/* Reads a string token; r->p is at the opening quote. */
static char *parse_string(reader *r, size_t *len_out) {
    const char *p = r->p + 1;
    size_t cap = 16, len = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    for (;;) {
        if (len + 8 > cap) {
            cap *= 2;
            char *bigger = realloc(out, cap);
            if (!bigger) { free(out); return NULL; }
            out = bigger;
        }
        unsigned char c = (unsigned char)*p;
        if (c == '"') break;
        if (c == 0 || c < 0x20) { free(out); return NULL; }
        if (c != '\\') { out[len++] = (char)c; p++; continue; }
        p++;
        switch (*p) {
        case '"': out[len++] = '"'; break;
        case '\\': out[len++] = '\\'; break;
        case '/': out[len++] = '/'; break;
        case 'b': out[len++] = '\b'; break;
        case 'f': out[len++] = '\f'; break;
        case 'n': out[len++] = '\n'; break;
        case 'r': out[len++] = '\r'; break;
        case 't': out[len++] = '\t'; break;
        case 'u': {
            unsigned cp;
            if (!hex4(p + 1, &cp)) { free(out); return NULL; }
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && p[1] == '\\' && p[2] == 'u') {
                unsigned low;
                if (hex4(p + 3, &low) && low >= 0xDC00 && low <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    p += 6;
                }
            }
            len += put_utf8(out + len, cp);
            break;
        }
        default: free(out); return NULL;
        }
        p++;
    }
    out[len] = 0;
    r->p = p + 1;
    *len_out = len;
    return out;
}

static int push(json_value *v, char *key, json_value *item) {
    size_t n = v->count + 1;
    json_value **items = realloc(v->items, n * sizeof *items);
    if (!items) return 0;
    v->items = items;
    if (v->type == JSON_OBJECT) {
        char **keys = realloc(v->keys, n * sizeof *keys);
        if (!keys) return 0;
        v->keys = keys;
        v->keys[v->count] = key;
    }
    v->items[v->count] = item;
    v->count = n;
    return 1;
}

static json_value *parse_container(reader *r, int object) {
    json_value *v = new_value(object ? JSON_OBJECT : JSON_ARRAY);
    if (!v || ++r->depth > 200) { json_free(v); return NULL; }
    r->p++;
    skip_space(r);
    char close = object ? '}' : ']';
    if (*r->p == close) { r->p++; r->depth--; return v; }
    for (;;) {
        char *key = NULL;
        if (object) {
            size_t klen;
            skip_space(r);
            if (*r->p != '"' || !(key = parse_string(r, &klen))) { json_free(v); return NULL; }
            skip_space(r);
            if (*r->p != ':') { free(key); json_free(v); return NULL; }
            r->p++;
        }
        json_value *item = parse_value(r);
        if (!item || !push(v, key, item)) { free(key); json_free(item); json_free(v); return NULL; }
        skip_space(r);
        if (*r->p == ',') { r->p++; continue; }
        if (*r->p == close) { r->p++; r->depth--; return v; }
        json_free(v);
        return NULL;
    }
}

static json_value *parse_value(reader *r) {
    skip_space(r);
    const char *p = r->p;
    if (*p == '{') return parse_container(r, 1);
    if (*p == '[') return parse_container(r, 0);
    if (*p == '"') {
        json_value *v = new_value(JSON_STRING);
        if (!v || !(v->string = parse_string(r, &v->string_len))) { json_free(v); return NULL; }
        return v;
    }
    if (strncmp(p, "true", 4) == 0 || strncmp(p, "false", 5) == 0) {
        json_value *v = new_value(JSON_BOOL);
        if (!v) return NULL;
        v->boolean = *p == 't';
        r->p += v->boolean ? 4 : 5;
        return v;
    }
    if (strncmp(p, "null", 4) == 0) {
        r->p += 4;
        return new_value(JSON_NULL);
    }
    if (*p == '-' || isdigit((unsigned char)*p)) {
        char *end;
        double d = strtod(p, &end);
        if (end == p) return NULL;
        json_value *v = new_value(JSON_NUMBER);
        if (!v) return NULL;
        v->number = d;
        r->p = end;
        return v;
    }
    return NULL;
}

json_value *json_parse(const char *text) {
    if (!text) return NULL;
    reader r = {text, 0};
    json_value *v = parse_value(&r);
    if (!v) return NULL;
    skip_space(&r);
    if (*r.p != 0) { json_free(v); return NULL; }
    return v;
}

const json_value *json_member(const json_value *o, const char *key) {
    if (!o || o->type != JSON_OBJECT) return NULL;
    for (size_t i = 0; i < o->count; i++)
        if (strcmp(o->keys[i], key) == 0) return o->items[i];
    return NULL;
}

const json_value *json_path(const json_value *root, const char *path) {
    const json_value *v = root;
    char part[256];
    while (v && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof part) return NULL;
        memcpy(part, path, n);
        part[n] = 0;
        path += n + (path[n] == '.');
        if (v->type == JSON_ARRAY) {
            char *end;
            unsigned long i = strtoul(part, &end, 10);
            v = (*end == 0 && n > 0 && i < v->count) ? v->items[i] : NULL;
        } else {
            v = json_member(v, part);
        }
    }
    return v;
}

const char *json_string_at(const json_value *root, const char *path) {
    const json_value *v = json_path(root, path);
    return v && v->type == JSON_STRING ? v->string : NULL;
}

long json_array_len(const json_value *root, const char *path) {
    const json_value *v = json_path(root, path);
    return v && v->type == JSON_ARRAY ? (long)v->count : -1;
}

int json_equal(const json_value *a, const json_value *b) {
    if (!a || !b || a->type != b->type) return 0;
    switch (a->type) {
    case JSON_NULL: return 1;
    case JSON_BOOL: return a->boolean == b->boolean;
    case JSON_NUMBER: return a->number == b->number;
    case JSON_STRING: return a->string_len == b->string_len && memcmp(a->string, b->string, a->string_len) == 0;
    case JSON_ARRAY:
        if (a->count != b->count) return 0;
        for (size_t i = 0; i < a->count; i++)
            if (!json_equal(a->items[i], b->items[i])) return 0;
        return 1;
    case JSON_OBJECT:
        if (a->count != b->count) return 0;
        for (size_t i = 0; i < a->count; i++)
            if (!json_equal(a->items[i], json_member(b, a->keys[i]))) return 0;
        return 1;
    }
    return 0;
}
