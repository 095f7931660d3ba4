/* Framing and encoding of the warm server's protocol (see wire.h). */
#include "wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void grow(struct cw_buf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    unsigned char *d = realloc(b->data, cap);
    if (!d)
        abort();
    b->data = d;
    b->cap = cap;
}

void cw_start(struct cw_buf *b, uint32_t type)
{
    b->len = 0;
    cw_u32(b, type);
    cw_u32(b, 0);
}

void cw_u32(struct cw_buf *b, uint32_t v)
{
    grow(b, 4);
    memcpy(b->data + b->len, &v, 4);
    b->len += 4;
}

void cw_str(struct cw_buf *b, const char *s, size_t n)
{
    cw_u32(b, (uint32_t)n);
    grow(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

void cw_strs(struct cw_buf *b, char *const *v, size_t n)
{
    cw_u32(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        cw_str(b, v[i], strlen(v[i]));
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int cw_send(int fd, struct cw_buf *b)
{
    uint32_t len = (uint32_t)(b->len - 8);
    memcpy(b->data + 4, &len, 4);
    return write_all(fd, b->data, b->len);
}

/* 1 when all n bytes were read, 0 at end of stream before the first, -1 otherwise. */
static int read_all(int fd, unsigned char *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            return got == 0 ? 0 : -1;
        got += (size_t)r;
    }
    return 1;
}

int cw_read(int fd, struct cw_frame *f)
{
    uint32_t h[2];
    int r = read_all(fd, (unsigned char *)h, sizeof h);
    if (r <= 0)
        return r;
    if (h[1] > CW_MAX_FRAME)
        return -1;
    f->type = h[0];
    f->len = h[1];
    f->pos = 0;
    f->bad = 0;
    f->data = malloc(h[1] + 1);
    if (!f->data)
        return -1;
    if (h[1] > 0 && read_all(fd, f->data, h[1]) != 1) {
        free(f->data);
        return -1;
    }
    return 1;
}

uint32_t cw_get_u32(struct cw_frame *f)
{
    uint32_t v = 0;
    if (f->len - f->pos < 4) {
        f->bad = 1;
        return 0;
    }
    memcpy(&v, f->data + f->pos, 4);
    f->pos += 4;
    return v;
}

char *cw_get_str(struct cw_frame *f)
{
    uint32_t n = cw_get_u32(f);
    if (f->bad || f->len - f->pos < n) {
        f->bad = 1;
        return strdup("");
    }
    char *s = malloc((size_t)n + 1);
    if (!s)
        abort();
    memcpy(s, f->data + f->pos, n);
    s[n] = 0;
    f->pos += n;
    return s;
}

char **cw_get_strs(struct cw_frame *f)
{
    uint32_t n = cw_get_u32(f);
    if (f->bad || n > f->len) { /* every string takes at least its 4-byte length */
        f->bad = 1;
        n = 0;
    }
    char **v = calloc((size_t)n + 1, sizeof *v);
    if (!v)
        abort();
    for (uint32_t i = 0; i < n; i++)
        v[i] = cw_get_str(f);
    return v;
}
