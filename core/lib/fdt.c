/*
 * fdt.c — flattened device tree reader and writer (see fdt.h).
 *
 * The reader never trusts the blob beyond the header's totalsize: every
 * public call re-validates the header (a handful of loads) and every token
 * it follows goes through token_read(), the single place that bounds-checks
 * structure-block offsets, names, property lengths and string offsets.  Each
 * token read yields a strictly larger next offset, so every walk terminates;
 * depth is tracked with counters, never with recursion or a stack.
 *
 * All multi-byte fields are read and written a byte at a time, so neither
 * the blob nor the writer's buffer needs any particular alignment.
 */
#include "core/lib/fdt.h"
#include "core/lib/fmt.h"

/* Header field byte offsets (each a big-endian 32-bit word). */
enum {
    HDR_MAGIC = 0,
    HDR_TOTALSIZE = 4,
    HDR_OFF_STRUCT = 8,
    HDR_OFF_STRINGS = 12,
    HDR_OFF_RSVMAP = 16,
    HDR_VERSION = 20,
    HDR_LAST_COMP = 24,
    HDR_BOOT_CPUID = 28,
    HDR_SIZE_STRINGS = 32,
    HDR_SIZE_STRUCT = 36,
};

#define RSV_ENTRY_SIZE 16u                 /* two 64-bit words: address, size */
#define OFFSET_MAX 0x7fffffffu             /* offsets and sizes must fit an int */

static uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t load_be64(const uint8_t *p)
{
    return (uint64_t)load_be32(p) << 32 | load_be32(p + 4);
}

static void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Length of the string at p, or max if no NUL occurs in the first max bytes. */
static size_t bounded_strlen(const uint8_t *p, size_t max)
{
    size_t n = 0;
    while (n < max && p[n] != 0)
        n++;
    return n;
}

uint64_t fdt_read_cells(const void *cells, int count)
{
    const uint8_t *p = cells;
    uint64_t value = 0;
    for (int i = 0; i < count; i++)
        value = value << 32 | load_be32(p + 4 * i);
    return value;
}

/* ------------------------------------------------------------------------
 * Reader: header and token decoding
 * ------------------------------------------------------------------------ */

/* The validated geometry of a blob. */
struct fdt_view {
    const uint8_t *base;
    uint32_t total;
    uint32_t off_rsvmap;
    const uint8_t *structs;
    uint32_t struct_size;
    const uint8_t *strings;
    uint32_t strings_size;
};

/* Checks that the header is sane and every block lies inside totalsize,
 * which must itself be at most max_size.  Reads nothing when max_size is
 * too small to hold a header. */
static int header_validate(const void *fdt, size_t max_size, struct fdt_view *v)
{
    if (!fdt || max_size < FDT_HEADER_SIZE)
        return FDT_ERR_TRUNCATED;
    const uint8_t *h = fdt;
    if (load_be32(h + HDR_MAGIC) != FDT_MAGIC)
        return FDT_ERR_BADMAGIC;
    uint32_t total = load_be32(h + HDR_TOTALSIZE);
    if (total > max_size)
        return FDT_ERR_TRUNCATED;
    if (total < FDT_HEADER_SIZE || total > OFFSET_MAX)
        return FDT_ERR_BADLAYOUT;
    /* Version 17 is the first with size_dt_struct, which the bounds checks
     * need; a last_comp_version above 17 means a format we do not know. */
    if (load_be32(h + HDR_VERSION) < FDT_VERSION || load_be32(h + HDR_LAST_COMP) > FDT_VERSION)
        return FDT_ERR_BADVERSION;

    uint32_t off_struct = load_be32(h + HDR_OFF_STRUCT);
    uint32_t size_struct = load_be32(h + HDR_SIZE_STRUCT);
    uint32_t off_strings = load_be32(h + HDR_OFF_STRINGS);
    uint32_t size_strings = load_be32(h + HDR_SIZE_STRINGS);
    uint32_t off_rsvmap = load_be32(h + HDR_OFF_RSVMAP);
    /* 64-bit sums: a huge offset plus a huge size must not wrap back inside. */
    if (off_struct < FDT_HEADER_SIZE || !IS_ALIGNED(off_struct, 4) ||
        (uint64_t)off_struct + size_struct > total)
        return FDT_ERR_BADLAYOUT;
    if (off_strings < FDT_HEADER_SIZE || (uint64_t)off_strings + size_strings > total)
        return FDT_ERR_BADLAYOUT;
    if (off_rsvmap < FDT_HEADER_SIZE || !IS_ALIGNED(off_rsvmap, 8) ||
        (uint64_t)off_rsvmap + RSV_ENTRY_SIZE > total)
        return FDT_ERR_BADLAYOUT;

    v->base = h;
    v->total = total;
    v->off_rsvmap = off_rsvmap;
    v->structs = h + off_struct;
    v->struct_size = size_struct;
    v->strings = h + off_strings;
    v->strings_size = size_strings;
    return FDT_OK;
}

/* Every public reader call starts here; totalsize is trusted (see fdt.h). */
static bool view_open(const void *fdt, struct fdt_view *v)
{
    return header_validate(fdt, OFFSET_MAX, v) == FDT_OK;
}

/* One decoded structure-block token. */
struct fdt_token {
    uint32_t tag;
    int next;             /* offset of the following token; always > this one */
    const char *name;     /* node name (BEGIN_NODE) or property name (PROP) */
    const uint8_t *data;  /* property value (PROP) */
    uint32_t len;         /* property length (PROP) */
};

/* Decodes the token at `off`, or returns false if anything about it (offset,
 * tag, name termination, property extent, string offset) is out of bounds. */
static bool token_read(const struct fdt_view *v, int off, struct fdt_token *t)
{
    if (off < 0 || !IS_ALIGNED(off, 4) || (uint64_t)off + 4 > v->struct_size)
        return false;
    const uint8_t *p = v->structs + off;
    uint64_t next;

    t->tag = load_be32(p);
    switch (t->tag) {
    case FDT_BEGIN_NODE: {
        size_t room = v->struct_size - (uint32_t)off - 4;
        size_t n = bounded_strlen(p + 4, room);
        if (n == room)
            return false;
        t->name = (const char *)(p + 4);
        next = ALIGN_UP((uint64_t)off + 4 + n + 1, 4);
        break;
    }
    case FDT_PROP: {
        if ((uint64_t)off + 12 > v->struct_size)
            return false;
        uint32_t len = load_be32(p + 4);
        uint32_t nameoff = load_be32(p + 8);
        if ((uint64_t)off + 12 + len > v->struct_size || nameoff >= v->strings_size)
            return false;
        size_t room = v->strings_size - nameoff;
        if (bounded_strlen(v->strings + nameoff, room) == room)
            return false;
        t->name = (const char *)(v->strings + nameoff);
        t->data = p + 12;
        t->len = len;
        next = ALIGN_UP((uint64_t)off + 12 + len, 4);
        break;
    }
    case FDT_END_NODE:
    case FDT_NOP:
    case FDT_END:
        next = (uint64_t)off + 4;
        break;
    default:
        return false;
    }
    /* A node or property whose padding runs off the block cannot be followed
     * by the tokens that must come after it. */
    if (next > v->struct_size)
        return false;
    t->next = (int)next;
    return true;
}

/* Checks nesting: one root, balanced END_NODEs, properties only inside a node
 * and before its children, and a final FDT_END. */
static int struct_validate(const struct fdt_view *v)
{
    struct fdt_token t;
    int off = 0, depth = 0;
    bool seen_root = false, props_closed = false;

    for (;;) {
        if (!token_read(v, off, &t))
            return FDT_ERR_BADSTRUCT;
        switch (t.tag) {
        case FDT_BEGIN_NODE:
            if (depth == 0 && seen_root)
                return FDT_ERR_BADSTRUCT;
            seen_root = true;
            depth++;
            props_closed = false;
            break;
        case FDT_END_NODE:
            if (depth == 0)
                return FDT_ERR_BADSTRUCT;
            depth--;
            props_closed = true;
            break;
        case FDT_PROP:
            if (depth == 0 || props_closed)
                return FDT_ERR_BADSTRUCT;
            break;
        case FDT_END:
            return seen_root && depth == 0 ? FDT_OK : FDT_ERR_BADSTRUCT;
        default:
            break;
        }
        off = t.next;
    }
}

/* The reservation map must end with an all-zero entry inside the blob. */
static int rsvmap_validate(const struct fdt_view *v)
{
    for (uint64_t off = v->off_rsvmap; off + RSV_ENTRY_SIZE <= v->total; off += RSV_ENTRY_SIZE) {
        const uint8_t *e = v->base + off;
        if (load_be64(e) == 0 && load_be64(e + 8) == 0)
            return FDT_OK;
    }
    return FDT_ERR_BADRSVMAP;
}

int fdt_check(const void *fdt, size_t max_size)
{
    struct fdt_view v;
    int err = header_validate(fdt, max_size, &v);
    if (err == FDT_OK)
        err = rsvmap_validate(&v);
    if (err == FDT_OK)
        err = struct_validate(&v);
    return err;
}

size_t fdt_total_size(const void *fdt)
{
    return load_be32((const uint8_t *)fdt + HDR_TOTALSIZE);
}

bool fdt_mem_rsv(const void *fdt, int index, uint64_t *addr, uint64_t *size)
{
    struct fdt_view v;
    if (!view_open(fdt, &v) || index < 0)
        return false;
    for (int i = 0;; i++) {
        uint64_t off = v.off_rsvmap + (uint64_t)i * RSV_ENTRY_SIZE;
        if (off + RSV_ENTRY_SIZE > v.total)
            return false;
        uint64_t a = load_be64(v.base + off), s = load_be64(v.base + off + 8);
        if (a == 0 && s == 0)
            return false;
        if (i == index) {
            *addr = a;
            *size = s;
            return true;
        }
    }
}

/* ------------------------------------------------------------------------
 * Reader: tree navigation (internal versions work on an open view)
 * ------------------------------------------------------------------------ */

/* The first BEGIN_NODE at or after `off`, skipping NOPs; -1 otherwise. */
static int node_at_or_after_nops(const struct fdt_view *v, int off)
{
    struct fdt_token t;
    while (token_read(v, off, &t)) {
        if (t.tag == FDT_BEGIN_NODE)
            return off;
        if (t.tag != FDT_NOP)
            return -1;
        off = t.next;
    }
    return -1;
}

static int root_node(const struct fdt_view *v)
{
    return node_at_or_after_nops(v, 0);
}

/* Offset of the first token after the node's properties: its first child's
 * BEGIN_NODE or its own END_NODE.  -1 if `node` is not a node. */
static int node_props_end(const struct fdt_view *v, int node)
{
    struct fdt_token t;
    if (!token_read(v, node, &t) || t.tag != FDT_BEGIN_NODE)
        return -1;
    int off = t.next;
    while (token_read(v, off, &t)) {
        if (t.tag == FDT_BEGIN_NODE || t.tag == FDT_END_NODE)
            return off;
        if (t.tag != FDT_PROP && t.tag != FDT_NOP)
            return -1;
        off = t.next;
    }
    return -1;
}

/* Offset just past the node's matching END_NODE; -1 if the subtree is cut off. */
static int node_skip(const struct fdt_view *v, int node)
{
    struct fdt_token t;
    int off = node, depth = 0;
    if (!token_read(v, node, &t) || t.tag != FDT_BEGIN_NODE)
        return -1;
    while (token_read(v, off, &t)) {
        if (t.tag == FDT_BEGIN_NODE) {
            depth++;
        } else if (t.tag == FDT_END_NODE) {
            if (--depth == 0)
                return t.next;
        } else if (t.tag == FDT_END) {
            return -1;
        }
        off = t.next;
    }
    return -1;
}

static int first_child(const struct fdt_view *v, int node)
{
    int off = node_props_end(v, node);
    struct fdt_token t;
    if (off < 0 || !token_read(v, off, &t) || t.tag != FDT_BEGIN_NODE)
        return -1;
    return off;
}

static int next_sibling(const struct fdt_view *v, int node)
{
    int end = node_skip(v, node);
    return end < 0 ? -1 : node_at_or_after_nops(v, end);
}

/* Descends from the root towards `node`, choosing at each level the child
 * whose extent contains it: no parent pointers or stack needed. */
static int parent_of(const struct fdt_view *v, int node)
{
    int cur = root_node(v);
    if (cur < 0 || node <= cur)
        return -1;
    for (;;) {
        int child = first_child(v, cur);
        while (child >= 0) {
            if (child == node)
                return cur;
            int end = node_skip(v, child);
            if (end < 0)
                return -1;
            if (node > child && node < end)
                break;
            child = node_at_or_after_nops(v, end);
        }
        if (child < 0)
            return -1;
        cur = child;
    }
}

/* The next BEGIN_NODE after `after` (a node) in document order. */
static int next_node(const struct fdt_view *v, int after)
{
    struct fdt_token t;
    if (after < 0)
        return root_node(v);
    if (!token_read(v, after, &t) || t.tag != FDT_BEGIN_NODE)
        return -1;
    int off = t.next;
    while (token_read(v, off, &t)) {
        if (t.tag == FDT_BEGIN_NODE)
            return off;
        if (t.tag == FDT_END)
            return -1;
        off = t.next;
    }
    return -1;
}

static bool prop_find(const struct fdt_view *v, int node, const char *name, struct fdt_token *t)
{
    if (!token_read(v, node, t) || t->tag != FDT_BEGIN_NODE)
        return false;
    int off = t->next;
    while (token_read(v, off, t)) {
        if (t->tag == FDT_PROP) {
            if (strcmp(t->name, name) == 0)
                return true;
        } else if (t->tag != FDT_NOP) {
            return false;
        }
        off = t->next;
    }
    return false;
}

static bool prop_u32(const struct fdt_view *v, int node, const char *name, uint32_t *out)
{
    struct fdt_token t;
    if (!prop_find(v, node, name, &t) || t.len < 4)
        return false;
    *out = load_be32(t.data);
    return true;
}

/* True if `s` is one of the NUL-terminated strings packed in data[0..len). */
static bool stringlist_contains(const uint8_t *data, size_t len, const char *s)
{
    size_t want = strlen(s);
    size_t pos = 0;
    while (pos < len) {
        size_t n = bounded_strlen(data + pos, len - pos);
        if (n == len - pos)
            return false;   /* an unterminated tail is not a string */
        if (n == want && memcmp(data + pos, s, n) == 0)
            return true;
        pos += n + 1;
    }
    return false;
}

static bool prop_has_string(const struct fdt_view *v, int node, const char *prop, const char *s)
{
    struct fdt_token t;
    return prop_find(v, node, prop, &t) && stringlist_contains(t.data, t.len, s);
}

/* "serial" matches "serial" and "serial@10000000"; "serial@1" only itself. */
static bool name_matches(const char *node_name, const char *comp, size_t comp_len)
{
    size_t n = strlen(node_name);
    if (n < comp_len || memcmp(node_name, comp, comp_len) != 0)
        return false;
    if (n == comp_len)
        return true;
    for (size_t i = 0; i < comp_len; i++)
        if (comp[i] == '@')
            return false;
    return node_name[comp_len] == '@';
}

static int child_by_name(const struct fdt_view *v, int node, const char *comp, size_t comp_len)
{
    struct fdt_token t;
    for (int c = first_child(v, node); c >= 0; c = next_sibling(v, c))
        if (token_read(v, c, &t) && name_matches(t.name, comp, comp_len))
            return c;
    return -1;
}

/* ------------------------------------------------------------------------
 * Reader: public API
 * ------------------------------------------------------------------------ */

int fdt_path_offset(const void *fdt, const char *path)
{
    struct fdt_view v;
    if (!path || path[0] != '/' || !view_open(fdt, &v))
        return -1;
    int node = root_node(&v);
    const char *p = path;
    while (node >= 0) {
        while (*p == '/')
            p++;
        if (*p == '\0')
            return node;
        size_t len = 0;
        while (p[len] != '\0' && p[len] != '/')
            len++;
        node = child_by_name(&v, node, p, len);
        p += len;
    }
    return -1;
}

int fdt_first_child(const void *fdt, int node)
{
    struct fdt_view v;
    return view_open(fdt, &v) ? first_child(&v, node) : -1;
}

int fdt_next_sibling(const void *fdt, int node)
{
    struct fdt_view v;
    return view_open(fdt, &v) ? next_sibling(&v, node) : -1;
}

int fdt_parent(const void *fdt, int node)
{
    struct fdt_view v;
    return view_open(fdt, &v) ? parent_of(&v, node) : -1;
}

int fdt_next_node(const void *fdt, int after)
{
    struct fdt_view v;
    return view_open(fdt, &v) ? next_node(&v, after) : -1;
}

const char *fdt_node_name(const void *fdt, int node)
{
    struct fdt_view v;
    struct fdt_token t;
    if (!view_open(fdt, &v) || !token_read(&v, node, &t) || t.tag != FDT_BEGIN_NODE)
        return NULL;
    return t.name;
}

const void *fdt_getprop(const void *fdt, int node, const char *name, int *len)
{
    struct fdt_view v;
    struct fdt_token t;
    if (!view_open(fdt, &v) || !prop_find(&v, node, name, &t))
        return NULL;
    if (len)
        *len = (int)t.len;
    return t.data;
}

bool fdt_prop_u32(const void *fdt, int node, const char *name, uint32_t *out)
{
    struct fdt_view v;
    return view_open(fdt, &v) && prop_u32(&v, node, name, out);
}

const char *fdt_prop_string(const void *fdt, int node, const char *name)
{
    struct fdt_view v;
    struct fdt_token t;
    if (!view_open(fdt, &v) || !prop_find(&v, node, name, &t))
        return NULL;
    if (bounded_strlen(t.data, t.len) == t.len)
        return NULL;
    return (const char *)t.data;
}

bool fdt_is_compatible(const void *fdt, int node, const char *compat)
{
    struct fdt_view v;
    return view_open(fdt, &v) && prop_has_string(&v, node, "compatible", compat);
}

/* Shared by the two searches: the first node after `after` whose property
 * `prop` contains `s` as one of its strings. */
static int next_node_with_string(const void *fdt, int after, const char *prop, const char *s)
{
    struct fdt_view v;
    if (!view_open(fdt, &v))
        return -1;
    for (int n = next_node(&v, after); n >= 0; n = next_node(&v, n))
        if (prop_has_string(&v, n, prop, s))
            return n;
    return -1;
}

int fdt_next_compatible(const void *fdt, int after, const char *compat)
{
    return next_node_with_string(fdt, after, "compatible", compat);
}

int fdt_next_node_by_type(const void *fdt, int after, const char *device_type)
{
    /* device_type is a single string, so "contains" is "equals" here. */
    return next_node_with_string(fdt, after, "device_type", device_type);
}

bool fdt_get_reg(const void *fdt, int node, int index, uint64_t *addr, uint64_t *size)
{
    struct fdt_view v;
    struct fdt_token t;
    if (!view_open(fdt, &v) || index < 0 || !prop_find(&v, node, "reg", &t))
        return false;

    /* Defaults from the spec when the parent (or a root-level query) says nothing. */
    uint32_t addr_cells = 2, size_cells = 1;
    int parent = parent_of(&v, node);
    if (parent >= 0) {
        prop_u32(&v, parent, "#address-cells", &addr_cells);
        prop_u32(&v, parent, "#size-cells", &size_cells);
    }
    if (addr_cells < 1 || addr_cells > 2 || size_cells > 2)
        return false;

    uint64_t entry = (uint64_t)(addr_cells + size_cells) * 4;
    if (((uint64_t)index + 1) * entry > t.len)
        return false;
    const uint8_t *e = t.data + (uint64_t)index * entry;
    *addr = fdt_read_cells(e, (int)addr_cells);
    *size = fdt_read_cells(e + addr_cells * 4, (int)size_cells);
    return true;
}

/* ------------------------------------------------------------------------
 * Writer
 * ------------------------------------------------------------------------ */

/* Header, then the reservation map (just its terminating entry), then the
 * structure block. */
#define WRITER_RSVMAP_OFF FDT_HEADER_SIZE
#define WRITER_STRUCT_OFF (FDT_HEADER_SIZE + RSV_ENTRY_SIZE)

void fdt_writer_init(struct fdt_writer *w, void *buf, size_t cap)
{
    memset(w, 0, sizeof(*w));
    w->buf = buf;
    /* The finished size is returned as an int. */
    w->cap = MIN(cap, (size_t)OFFSET_MAX);
    w->struct_end = WRITER_STRUCT_OFF;
    if (!buf || w->cap < WRITER_STRUCT_OFF)
        w->overflow = true;
}

/* False if the writer already failed; using it after fdt_finish is misuse
 * because the strings block has been moved. */
static bool writer_active(struct fdt_writer *w)
{
    if (w->finished_size > 0)
        w->misuse = true;
    return !w->overflow && !w->misuse;
}

/* Makes sure the gap between the two growing blocks can take both amounts. */
static bool writer_reserve(struct fdt_writer *w, size_t struct_bytes, size_t string_bytes)
{
    size_t room = w->cap - w->strings_len - w->struct_end;
    if (struct_bytes > room || string_bytes > room - struct_bytes) {
        w->overflow = true;
        return false;
    }
    return true;
}

static void writer_put32(struct fdt_writer *w, uint32_t v)
{
    store_be32(w->buf + w->struct_end, v);
    w->struct_end += 4;
}

static void writer_put_padded(struct fdt_writer *w, const void *data, size_t len)
{
    size_t padded = ALIGN_UP(len, 4);
    if (len)
        memcpy(w->buf + w->struct_end, data, len);
    memset(w->buf + w->struct_end + len, 0, padded - len);
    w->struct_end += padded;
}

/* Strings are prepended below the ones already there, so a string's final
 * offset is unknown until fdt_finish.  Until then a property records the
 * string's distance from the end of the buffer ("tail"), which never
 * changes; 0 means not present. */
static size_t writer_find_string(const struct fdt_writer *w, const char *name)
{
    size_t pos = w->cap - w->strings_len;
    while (pos < w->cap) {
        const char *s = (const char *)w->buf + pos;
        if (strcmp(s, name) == 0)
            return w->cap - pos;
        pos += strlen(s) + 1;
    }
    return 0;
}

void fdt_begin_node(struct fdt_writer *w, const char *name)
{
    if (!writer_active(w))
        return;
    if (w->depth == 0 && w->root_done) {
        w->misuse = true;   /* a second root */
        return;
    }
    size_t n = strlen(name) + 1;
    if (!writer_reserve(w, 4 + ALIGN_UP(n, 4), 0))
        return;
    writer_put32(w, FDT_BEGIN_NODE);
    writer_put_padded(w, name, n);
    w->depth++;
    w->root_done = true;
    w->props_closed = false;
}

void fdt_end_node(struct fdt_writer *w)
{
    if (!writer_active(w))
        return;
    if (w->depth == 0) {
        w->misuse = true;
        return;
    }
    if (!writer_reserve(w, 4, 0))
        return;
    writer_put32(w, FDT_END_NODE);
    w->depth--;
    /* Back in the parent, after a child: the spec puts properties first. */
    w->props_closed = true;
}

/* Checks, reserves room for and writes a property's token, length and name
 * offset; the caller then writes exactly `len` value bytes (plus padding). */
static bool writer_prop_header(struct fdt_writer *w, const char *name, size_t len)
{
    if (!writer_active(w))
        return false;
    if (w->depth == 0 || w->props_closed || len > OFFSET_MAX) {
        w->misuse = true;
        return false;
    }
    size_t tail = writer_find_string(w, name);
    size_t name_bytes = tail ? 0 : strlen(name) + 1;
    if (!writer_reserve(w, 12 + ALIGN_UP(len, 4), name_bytes))
        return false;
    if (!tail) {
        w->strings_len += name_bytes;
        memcpy(w->buf + w->cap - w->strings_len, name, name_bytes);
        tail = w->strings_len;
    }
    writer_put32(w, FDT_PROP);
    writer_put32(w, (uint32_t)len);
    writer_put32(w, (uint32_t)tail);
    return true;
}

void fdt_prop(struct fdt_writer *w, const char *name, const void *data, size_t len)
{
    if (!data && len) {
        w->misuse = true;
        return;
    }
    if (writer_prop_header(w, name, len))
        writer_put_padded(w, data, len);
}

void fdt_prop_empty(struct fdt_writer *w, const char *name)
{
    fdt_prop(w, name, NULL, 0);
}

void fdt_prop_cells(struct fdt_writer *w, const char *name, const uint32_t *cells, size_t count)
{
    if (count > OFFSET_MAX / 4 || (!cells && count)) {
        w->misuse = true;
        return;
    }
    if (writer_prop_header(w, name, count * 4))
        for (size_t i = 0; i < count; i++)
            writer_put32(w, cells[i]);
}

void fdt_prop_cell(struct fdt_writer *w, const char *name, uint32_t value)
{
    fdt_prop_cells(w, name, &value, 1);
}

void fdt_prop_u64(struct fdt_writer *w, const char *name, uint64_t value)
{
    uint32_t cells[2] = { (uint32_t)(value >> 32), (uint32_t)value };
    fdt_prop_cells(w, name, cells, 2);
}

void fdt_prop_reg64(struct fdt_writer *w, const char *name, uint64_t addr, uint64_t size)
{
    uint32_t cells[4] = { (uint32_t)(addr >> 32), (uint32_t)addr, (uint32_t)(size >> 32), (uint32_t)size };
    fdt_prop_cells(w, name, cells, 4);
}

void fdt_prop_str(struct fdt_writer *w, const char *name, const char *s)
{
    fdt_prop(w, name, s, strlen(s) + 1);
}

/* Turns every property's provisional "tail" name offset into its real offset
 * in the strings block that starts right after the structure block. */
static void writer_fix_name_offsets(struct fdt_writer *w)
{
    size_t off = WRITER_STRUCT_OFF;
    while (off < w->struct_end) {
        uint8_t *p = w->buf + off;
        uint32_t tag = load_be32(p);
        if (tag == FDT_BEGIN_NODE) {
            off += 4 + ALIGN_UP(strlen((const char *)p + 4) + 1, 4);
        } else if (tag == FDT_PROP) {
            uint32_t len = load_be32(p + 4);
            uint32_t tail = load_be32(p + 8);
            store_be32(p + 8, (uint32_t)(w->strings_len - tail));
            off += 12 + ALIGN_UP(len, 4);
        } else {
            off += 4;
        }
    }
}

int fdt_finish(struct fdt_writer *w)
{
    if (w->misuse || w->overflow)
        return -1;
    if (w->finished_size > 0)
        return w->finished_size;
    if (!w->root_done || w->depth != 0)
        return -1;
    if (!writer_reserve(w, 4, 0))
        return -1;
    writer_put32(w, FDT_END);
    writer_fix_name_offsets(w);

    size_t struct_size = w->struct_end - WRITER_STRUCT_OFF;
    size_t strings_off = w->struct_end;
    memmove(w->buf + strings_off, w->buf + w->cap - w->strings_len, w->strings_len);
    size_t total = strings_off + w->strings_len;

    uint8_t *h = w->buf;
    memset(h, 0, WRITER_STRUCT_OFF);   /* header and the empty reservation map */
    store_be32(h + HDR_MAGIC, FDT_MAGIC);
    store_be32(h + HDR_TOTALSIZE, (uint32_t)total);
    store_be32(h + HDR_OFF_STRUCT, WRITER_STRUCT_OFF);
    store_be32(h + HDR_OFF_STRINGS, (uint32_t)strings_off);
    store_be32(h + HDR_OFF_RSVMAP, WRITER_RSVMAP_OFF);
    store_be32(h + HDR_VERSION, FDT_VERSION);
    store_be32(h + HDR_LAST_COMP, FDT_LAST_COMP_VERSION);
    store_be32(h + HDR_BOOT_CPUID, 0);
    store_be32(h + HDR_SIZE_STRINGS, (uint32_t)w->strings_len);
    store_be32(h + HDR_SIZE_STRUCT, (uint32_t)struct_size);

    w->finished_size = (int)total;
    return w->finished_size;
}
