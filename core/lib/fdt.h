/*
 * fdt.h — reading and writing flattened device trees (DTB, Devicetree
 * specification v0.4, blob version 17).
 *
 * The reader is what Umbra uses on the DTB OpenSBI/QEMU hands it (memory,
 * cpus, /chosen, the UART, the test/syscon device, PCIe); the writer builds
 * the DTB each guest VM boots with.  Portable: unit-tested on the host.
 *
 * Trust model of the reader: call fdt_check(fdt, buffer_size) once before
 * anything else.  It establishes that the header's totalsize fits the buffer;
 * from then on every other function trusts totalsize and nothing else: each
 * call re-validates the header and bounds-checks every offset and length it
 * follows, so a malformed blob makes calls fail instead of reading outside
 * the blob.  Nothing here allocates memory or recurses.
 */
#ifndef UMBRA_CORE_FDT_H
#define UMBRA_CORE_FDT_H

#include "core/lib/base.h"

#define FDT_MAGIC 0xd00dfeed
#define FDT_VERSION 17          /* the version the writer emits */
#define FDT_LAST_COMP_VERSION 16
#define FDT_HEADER_SIZE 40

/* Structure block tokens. */
#define FDT_BEGIN_NODE 1
#define FDT_END_NODE 2
#define FDT_PROP 3
#define FDT_NOP 4
#define FDT_END 9

/* fdt_check() results (all other reader functions just return -1/NULL/false). */
enum fdt_error {
    FDT_OK = 0,
    FDT_ERR_TRUNCATED = -1,   /* buffer smaller than the header or totalsize */
    FDT_ERR_BADMAGIC = -2,
    FDT_ERR_BADVERSION = -3,  /* version < 17 or last_comp_version > 17 */
    FDT_ERR_BADLAYOUT = -4,   /* a block lies outside the blob or is misaligned */
    FDT_ERR_BADRSVMAP = -5,   /* memory reservation map not terminated */
    FDT_ERR_BADSTRUCT = -6,   /* bad token, name, property or nesting */
};

/* ---- Reader.  Node handles are byte offsets into the structure block
 * (>= 0); "none" and "malformed" are both reported as -1. ---- */

/* 0 if the header is sane, every block lies inside min(totalsize, max_size)
 * and the structure block is one well-formed tree ending in FDT_END;
 * otherwise a negative enum fdt_error.  Never reads past max_size. */
int fdt_check(const void *fdt, size_t max_size);
/* The header's totalsize (read as-is: only meaningful after fdt_check). */
size_t fdt_total_size(const void *fdt);

/* "/", "/chosen", "/soc/serial@10000000".  A component without '@' also
 * matches a node of that name with any unit address.  -1 if not found. */
int fdt_path_offset(const void *fdt, const char *path);
int fdt_first_child(const void *fdt, int node);    /* -1 if none */
int fdt_next_sibling(const void *fdt, int node);   /* -1 if none */
int fdt_parent(const void *fdt, int node);         /* -1 for the root */
/* The node after `after` in document order (after = -1: the root); -1 at the end. */
int fdt_next_node(const void *fdt, int after);
/* Full name including "@unit" ("" for the root); NULL if `node` is not a node. */
const char *fdt_node_name(const void *fdt, int node);

/* Property value and its length in *len (len may be NULL); NULL if absent. */
const void *fdt_getprop(const void *fdt, int node, const char *name, int *len);
/* The first cell, host order; false if absent or shorter than 4 bytes. */
bool fdt_prop_u32(const void *fdt, int node, const char *name, uint32_t *out);
/* NULL if absent or not NUL-terminated within the property. */
const char *fdt_prop_string(const void *fdt, int node, const char *name);
/* True if any string of the node's "compatible" stringlist equals compat. */
bool fdt_is_compatible(const void *fdt, int node, const char *compat);
/* First node after offset `after` (-1 to start) in document order whose
 * compatible list contains compat / whose device_type equals device_type. */
int fdt_next_compatible(const void *fdt, int after, const char *compat);
int fdt_next_node_by_type(const void *fdt, int after, const char *device_type);

/* reg entry `index`, decoded with the parent's #address-cells (1 or 2) and
 * #size-cells (0..2), defaults 2/1 per the spec.  *size is 0 when
 * #size-cells is 0.  False if absent, too short, or cells unsupported. */
bool fdt_get_reg(const void *fdt, int node, int index, uint64_t *addr, uint64_t *size);
/* `count` big-endian cells -> integer (count 1 or 2; 0 gives 0). */
uint64_t fdt_read_cells(const void *cells, int count);

/* Memory reservation map entry `index`; false past the terminating entry. */
bool fdt_mem_rsv(const void *fdt, int index, uint64_t *addr, uint64_t *size);

/* ---- Writer: builds a complete DTB (version 17, empty memory reservation
 * map) in a caller buffer.  The structure block grows up from the front of
 * the buffer and the strings block down from the back; fdt_finish closes
 * the gap.  Errors are sticky and reported once, by fdt_finish.  Give it an
 * 8-byte-aligned buffer: Linux insists on that alignment for its DTB. ---- */
struct fdt_writer {
    uint8_t *buf;
    size_t cap;
    size_t struct_end;    /* offset in buf of the next structure-block byte */
    size_t strings_len;   /* bytes used by the strings block at buf[cap - strings_len..cap) */
    int depth;            /* nodes currently open */
    bool root_done;       /* the root node has been opened */
    bool props_closed;    /* the open node already has a child: no more properties */
    bool overflow;        /* the buffer was too small */
    bool misuse;          /* unbalanced nodes, property outside a node, second root... */
    int finished_size;    /* > 0 once fdt_finish succeeded */
};

void fdt_writer_init(struct fdt_writer *w, void *buf, size_t cap);
void fdt_begin_node(struct fdt_writer *w, const char *name);   /* "" for the root */
void fdt_end_node(struct fdt_writer *w);
void fdt_prop(struct fdt_writer *w, const char *name, const void *data, size_t len);
void fdt_prop_empty(struct fdt_writer *w, const char *name);
void fdt_prop_cell(struct fdt_writer *w, const char *name, uint32_t value);
void fdt_prop_cells(struct fdt_writer *w, const char *name, const uint32_t *cells, size_t count);
void fdt_prop_u64(struct fdt_writer *w, const char *name, uint64_t value);        /* two cells */
void fdt_prop_reg64(struct fdt_writer *w, const char *name, uint64_t addr, uint64_t size); /* 2+2 cells */
void fdt_prop_str(struct fdt_writer *w, const char *name, const char *s);
/* Property names are deduplicated in the strings block.  Returns the total
 * size, or -1 if the buffer was too small or nodes are unbalanced; nothing
 * is written past cap.  Calling it again returns the same result. */
int fdt_finish(struct fdt_writer *w);

#endif
