/*
 * fmt.c — the formatter behind every message Umbra prints, and the byte and
 * string helpers a freestanding C image needs.  Portable so it is unit-tested
 * on the host (where the libc versions of the helpers are used instead).
 */
#include "core/lib/fmt.h"

struct fmt_out {
    char *buf;
    size_t cap;
    size_t len;
};

static void out_char(struct fmt_out *o, char c)
{
    if (o->len + 1 < o->cap)
        o->buf[o->len] = c;
    o->len++;
}

static void out_padded(struct fmt_out *o, const char *s, size_t n, int width, bool left, char pad)
{
    int fill = width > (int)n ? width - (int)n : 0;
    if (!left)
        while (fill-- > 0)
            out_char(o, pad);
    for (size_t i = 0; i < n; i++)
        out_char(o, s[i]);
    if (left)
        while (fill-- > 0)
            out_char(o, ' ');
}

/* Render an unsigned value in `base` into the tail of tmp; returns start. */
static char *render_unsigned(char *end, unsigned long long v, unsigned base, bool upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char *p = end;
    do {
        *--p = digits[v % base];
        v /= base;
    } while (v);
    return p;
}

static void out_number(struct fmt_out *o, unsigned long long v, bool negative, unsigned base,
                       bool upper, int width, bool left, bool zero)
{
    char tmp[24];
    char *end = tmp + sizeof(tmp);
    char *p = render_unsigned(end, v, base, upper);
    if (negative) {
        if (zero) {               /* sign goes before the zero padding */
            out_char(o, '-');
            width = width > 0 ? width - 1 : 0;
        } else {
            *--p = '-';
        }
    }
    out_padded(o, p, (size_t)(end - p), width, left, zero && !left ? '0' : ' ');
}

int fmt_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap)
{
    struct fmt_out o = { buf, cap, 0 };
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            out_char(&o, *f);
            continue;
        }
        f++;
        bool left = false, zero = false;
        for (;; f++) {
            if (*f == '-') left = true;
            else if (*f == '0') zero = true;
            else break;
        }
        int width = 0;
        while (*f >= '0' && *f <= '9')
            width = width * 10 + (*f++ - '0');
        int longs = 0;
        while (*f == 'l') { longs++; f++; }
        if (*f == 'z') { longs = 1; f++; }
        switch (*f) {
        case 'd': case 'i': {
            long long v = longs ? va_arg(ap, long long) : va_arg(ap, int);
            unsigned long long mag = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
            out_number(&o, mag, v < 0, 10, false, width, left, zero);
            break;
        }
        case 'u': case 'x': case 'X': {
            unsigned long long v = longs ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
            out_number(&o, v, false, *f == 'u' ? 10 : 16, *f == 'X', width, left, zero);
            break;
        }
        case 'p':
            out_char(&o, '0');
            out_char(&o, 'x');
            out_number(&o, (uintptr_t)va_arg(ap, void *), false, 16, false, width, left, zero);
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            out_padded(&o, s, strlen(s), width, left, ' ');
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            out_padded(&o, &c, 1, width, left, ' ');
            break;
        }
        case '%':
            out_char(&o, '%');
            break;
        default:                  /* unknown conversion: show it verbatim */
            out_char(&o, '%');
            if (!*f)
                goto done;
            out_char(&o, *f);
        }
    }
done:
    if (cap)
        buf[o.len < cap ? o.len : cap - 1] = '\0';
    return (int)o.len;
}

int fmt_snprintf(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

const char *strchr_k(const char *s, int c)
{
    for (; *s; s++)
        if (*s == (char)c)
            return s;
    return c ? NULL : s;
}

#ifndef UMBRA_HOST
void *memcpy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (IS_ALIGNED((uintptr_t)d | (uintptr_t)s | n, 8)) {
        for (size_t i = 0; i < n; i += 8)
            *(uint64_t *)(d + i) = *(const uint64_t *)(s + i);
        return dst;
    }
    for (size_t i = 0; i < n; i++)
        d[i] = s[i];
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d <= s || d >= s + n)
        return memcpy(dst, src, n);
    while (n--)
        d[n] = s[n];
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    if (c == 0 && IS_ALIGNED((uintptr_t)d | n, 8)) {
        for (size_t i = 0; i < n; i += 8)
            *(uint64_t *)(d + i) = 0;
        return dst;
    }
    for (size_t i = 0; i < n; i++)
        d[i] = (unsigned char)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] - y[i];
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i] || !a[i])
            return (unsigned char)a[i] - (unsigned char)b[i];
    }
    return 0;
}
#endif
