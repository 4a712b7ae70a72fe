/*
 * shadow.h — the shadow-paging core shared by tsp and ssp: shadow page
 * tables (guest-virtual -> host-physical) built lazily from the guest's own
 * Sv39 tables and the VM's GPA->HPA map, in a bounded per-VM pool.
 *
 * A shadow is keyed by the satp value the guest wrote (root PPN + ASID), or
 * is the "physical" shadow standing in for satp = Bare.  Each has its own
 * hardware ASID.  Shadow leaves copy the guest leaf's R/X/U, grant W only
 * once the guest PTE is dirty (and, under write protection, never for a page
 * that is a guest page table), and never map outside the VM's RAM.
 *
 * Guest RAM is whatever the VM's map (mm/guest_mem.h) says, looked up
 * there for every leaf; the core keeps only a pointer to it.  Its
 * per-guest-frame bookkeeping (tsp) is indexed over one guest-physical
 * range given to shadow_vm_init, which every region of the map must lie
 * inside.  A page of that RAM that is not backed is treated like a hole
 * (an access fault): whoever backs RAM lazily must back a page before the
 * guest's access reaches the core.
 *
 * Portable: the hypervisor and host unit tests build the same code.  The
 * only hardware effect, flushing translations, goes through a callback.
 */
#ifndef UMBRA_MM_SHADOW_H
#define UMBRA_MM_SHADOW_H

#include "core/lib/base.h"
#include "mm/frame.h"
#include "mm/gwalk.h"

#define SHADOW_MAX_ROOTS 128
#define SHADOW_MAX_PASSTHROUGH 24   /* every memory BAR of 4 functions (iommu/passthrough/vpci.h) */
#define SHADOW_NO_ROOT (-1)
/* Without write protection (ssp) each shadow logs the VAs of the leaves it
 * fills, up to this many, so an ASID-wide fence resyncs those leaves
 * against the guest instead of emptying the tree. */
#define SHADOW_FILL_LOG 128
/* ssp: a one-page fence for every ASID ("sfence.vma va, x0") reaches at
 * once only the shadows some vCPU is on; the others find it in a ring of
 * this many fences when next switched to (or are emptied, if the ring
 * moved past them meanwhile). */
#define SHADOW_DROP_LOG 512

/*
 * What the caller wants flushed from the hardware TLB: one VA (all == false)
 * or everything (all == true) tagged with hw_asid, and where.
 *
 * every_hart == false: a leaf changed; only this hart must stop using the old
 * entry now.  Other harts may keep a stale copy until their guest fences,
 * exactly as with a real TLB (the caller turns guest fences into hardware
 * ones on the harts they name).
 * every_hart == true: the change must reach every hart running the VM before
 * the core goes on: shadow table pages were freed (a stale walk cache could
 * read a reused page), a hardware ASID is changing hands, or write access to
 * a frame that just became a guest page table was revoked (tsp).  The other
 * harts then drop every entry of the VM, not only this one (a shootdown
 * flushes their whole guest TLB), so one such call covers every change
 * made before it: the core batches revocations into one.
 */
typedef void (*shadow_flush_fn)(void *arg, uint16_t hw_asid, uint64_t va, bool all, bool every_hart);

struct shadow_config {
    bool write_protect;     /* tsp: guest page-table pages are read-only in every shadow */
    bool superpages;        /* 2 MiB shadow leaves allowed (ssp); else 4 KiB only */
    uint16_t first_hw_asid; /* hardware ASIDs used: first_hw_asid + root index */
    uint8_t write_flood_limit; /* tsp: unshadow a frame after this many emulated writes
                                * in a row with no fill walking through it; 0 = never */
    shadow_flush_fn flush;
    void *flush_arg;        /* also passed to refresh_pins */
    /* Called before the core picks a root it may free, so the caller can
     * bring shadow_root.pins up to date first (NULL: pins are always current). */
    void (*refresh_pins)(void *arg);
    /* Called before the core picks the least recently used shadow, so the
     * caller can bring shadow_root.last_used up to date for the shadows it
     * switched to without the core, as the satp fast path does (NULL: none). */
    void (*refresh_lru)(void *arg);
    /* How a new table page is zeroed (the pool's frame_pool.zero; NULL:
     * memset).  Every table a fill builds is zeroed first. */
    void (*zero)(void *p, uint64_t bytes);
};

struct shadow_root {
    bool live;
    uint64_t guest_satp;    /* the key: exactly what the guest wrote (Bare = 0) */
    paddr_t table;          /* shadow root table (host-physical) */
    uint16_t hw_asid;
    uint32_t tables;        /* shadow tables below the root (0 = empty tree) */
    uint16_t log_len;       /* ssp: fill-log entries in use */
    bool log_over;          /* ssp: a fill found the log full; the next wide fence empties */
    uint64_t last_used;     /* LRU stamp for reclaim (shadow_vm.clock) */
    uint64_t drop_seen;     /* ssp: global one-page fences (shadow_vm.drop_gen) taken */
    uint32_t pins;          /* shadow_root_pin/unpin: vCPUs running on this shadow; a pinned
                               root's slot is never reused (its tree may still be emptied),
                               and it takes every global one-page fence at once (ssp; the
                               others catch up when next switched to); see
                               shadow_config.refresh_pins.
                               A vCPU that is not running starts again through a switch */
};

/* Figures for the exit report. */
struct shadow_stats {
    uint64_t pages_in_use, pages_peak;   /* shadow table pages */
    uint64_t roots_built, roots_reclaimed, pool_exhausted;
    uint64_t sync_va, sync_asid, sync_all;   /* ssp fences by kind */
    uint64_t resync_kept;                    /* ssp: leaves a wide fence found current and kept */
    uint64_t resync_emptied;                 /* ssp: wide fences that emptied a tree (log full) */
    uint64_t fences_deferred;                 /* ssp: one-page fences left for a shadow no vCPU is on */
    uint64_t fences_replayed;                 /* ssp: of those, applied when the shadow was next used */
    uint64_t catchups_emptied;               /* ssp: shadows emptied because the ring moved past them */
    uint64_t faults_quick;                   /* faults decided along an existing shadow path (fault_quick) */
    uint64_t entries_dropped;
    uint64_t wp_emulated;                    /* tsp guest page-table writes */
    uint64_t protected_pages;                /* tsp: guest frames currently write-protected */
    uint64_t trees_reclaimed;                /* shadows emptied to make room in the pool */
    uint64_t pages_reclaimed;                /* table pages freed by reclaim (trees and roots) */
    uint64_t wp_unshadowed;                  /* tsp: frames unshadowed after a write flood */
    uint64_t wp_revoked;                     /* tsp: writable leaves made read-only on protection */
};

/* Per-shadow-table-page bookkeeping (one per pool page; opaque to callers). */
struct shadow_page_meta;

/* A passthrough range: guest-physical [gpa, gpa + size) is host-physical
 * [hpa, hpa + size) (size 0 = a free slot). */
struct shadow_range {
    gpaddr_t gpa;
    uint64_t size;
    paddr_t hpa;
};

struct shadow_vm {
    const struct guest_mem *mem;         /* the VM's map (not a copy: it must outlive s) */
    gpaddr_t ram_gpa;                    /* the range per-frame bookkeeping covers: */
    uint64_t ram_size;                   /*   [ram_gpa, ram_gpa + ram_size) */
    struct shadow_config cfg;
    struct frame_pool pool;              /* bounded: all shadow tables come from here */
    struct shadow_page_meta *meta;       /* indexed by (page - pool.base) / 4 KiB */
    uint16_t *pt_refs;                   /* tsp: per guest frame, shadow tables shadowing it */
    uint8_t *flood;                      /* tsp: per guest frame, emulated writes since a fill used it */
    uint16_t *chunk_protected;           /* tsp: per 2 MiB of RAM, protected frames inside it */
    uint32_t *hash_heads;                /* guest table frame -> shadow tables (tsp updates) */
    uint32_t *wr_heads;                  /* tsp: per guest frame, its writable shadow leaves */
    uint32_t *fill_log;                  /* ssp: SHADOW_FILL_LOG VPNs per root slot */
    uint64_t *drop_log;                  /* ssp: the last SHADOW_DROP_LOG one-page fences */
    uint32_t *wr_next;                   /* tsp: per shadow PTE slot, the next one in its chain
                                            (the last one names the frame; 0 = on no chain) */
    uint32_t hash_mask;                  /* hash_heads has hash_mask + 1 buckets */
    uint64_t frames;                     /* guest RAM frames (ram_size / 4 KiB) */
    int max_roots;                       /* live roots the pool can hold (<= SHADOW_MAX_ROOTS) */
    int roots_end;                       /* every live root's slot is below this: the searches
                                            every satp miss and fence make stop here */
    struct shadow_root roots[SHADOW_MAX_ROOTS];
    int pinned[SHADOW_MAX_ROOTS];        /* the roots with pins > 0, in no order: what a
                                            global one-page fence visits */
    int npinned;
    int live_paged;                      /* live roots of a paged (not Bare) guest satp */
    bool idle_all_behind;                /* ssp: every paged shadow no vCPU runs on is behind
                                            on global one-page fences (none can fall behind) */
    uint64_t drop_gen;                   /* ssp: global one-page fences logged, ever */
    uint64_t clock;
    uint64_t roots_epoch;                /* bumped whenever a root slot is freed or a root
                                            falls behind on global one-page fences
                                            (shadow_root_current), so callers caching
                                            root indexes can revalidate */
    uint64_t protections;                /* tsp: frames that became protected, ever */
    struct shadow_range passthrough[SHADOW_MAX_PASSTHROUGH]; /* device memory ranges (size 0 = free) */
    struct shadow_stats stats;
};

/*
 * Bytes of bookkeeping shadow_vm_init needs besides the pool, for a RAM
 * range of mem_size bytes (its ram_size) and a pool of pool_bytes (the
 * caller allocates both).
 */
uint64_t shadow_meta_bytes(uint64_t mem_size, uint64_t pool_bytes);
/* The same for one configuration: without write_protect the reverse map
 * and per-frame counts are not needed (about 2 KiB less per pool page). */
uint64_t shadow_meta_bytes_for(const struct shadow_config *cfg, uint64_t mem_size, uint64_t pool_bytes);
/*
 * Set up s for the VM whose RAM map is *mem (kept by pointer: it must stay
 * valid, and may change only in ways that drop no page a shadow maps).
 * Per-frame bookkeeping covers guest-physical [ram_gpa, ram_gpa + ram_size):
 * page aligned, non-empty, inside Sv39's lower half (the physical shadow
 * maps GPA = VA), 2 MiB aligned under write_protect with superpages (its
 * per-2 MiB counts follow guest chunks), and holding every region of *mem.
 * A map it cannot index panics (ASSERT): that is the caller's mistake.
 * meta_zeroed: the caller's meta is already all zeros (fresh pool frames),
 * so it is not cleared again — for a 256 MiB tsp VM that is 17 MiB.
 */
void shadow_vm_init(struct shadow_vm *s, const struct guest_mem *mem, gpaddr_t ram_gpa, uint64_t ram_size,
                    const struct shadow_config *cfg, paddr_t pool_base, uint64_t pool_bytes, void *meta,
                    uint64_t meta_bytes, bool meta_zeroed);

/* The shadow for a guest satp value (found, or built empty); *built says
 * which.  A found one first takes the one-page fences it was left out of.  Reclaims the least recently used shadow when all slots are live,
 * but never `keep` (the shadow currently in use, or SHADOW_NO_ROOT).
 * Returns the root index. */
int shadow_root_get(struct shadow_vm *s, uint64_t guest_satp, int keep, bool *built);
/* Shadow idx was just switched to by the caller alone (the SPT base
 * buffer's fast path): give it a fresh LRU stamp. */
void shadow_root_touch(struct shadow_vm *s, int idx);
/* May the caller switch to shadow idx without shadow_root_get?  False when
 * it missed fences and must catch up first (then shadow_root_get does). */
bool shadow_root_current(const struct shadow_vm *s, int idx);
/* The vsatp value that runs shadow idx. */
uint64_t shadow_root_vsatp(const struct shadow_vm *s, int idx);

/* Free every shadow, as destroying the VM would; only once no hart can run
 * on them again (it flushes nothing).  Afterwards the pool is back at its
 * level after shadow_vm_init, unless a table leaked. */
void shadow_vm_release(struct shadow_vm *s);

enum shadow_fault_kind {
    SHADOW_FAULT_HIDDEN,        /* shadow entry was missing or stale: filled; retry */
    SHADOW_FAULT_AD_UPDATE,     /* like hidden, and the guest PTE's A/D bits were set */
    SHADOW_FAULT_WRITE_PROTECT, /* tsp: a permitted store to a guest page table: emulate it */
    SHADOW_FAULT_GUEST,         /* the guest's own tables fault: inject `inject_cause` */
};

struct shadow_fault {
    enum shadow_fault_kind kind;
    uint64_t inject_cause;      /* SHADOW_FAULT_GUEST: 12/13/15 or 1/5/7 */
    struct walk walk;           /* the guest walk behind the decision (for the trace); after
                                   a page fault only its result, depth and tables */
    paddr_t hpa;                /* hidden/A-D: what the filled entry maps */
    pte_t shadow_pte;           /* hidden/A-D: the entry written */
};

/* A vCPU starts, or stops, running on shadow idx (see shadow_root.pins;
 * the caller does this from shadow_config.refresh_pins). */
void shadow_root_pin(struct shadow_vm *s, int idx);
void shadow_root_unpin(struct shadow_vm *s, int idx);

/* A page fault taken at va while shadow idx ran. */
void shadow_page_fault(struct shadow_vm *s, int idx, uint64_t va, const struct access_ctx *ctx,
                       struct shadow_fault *out);

/*
 * tsp: perform a guest store of `size` bytes (1, 2, 4, 8) of `value` at
 * guest-physical gpa, which is a write-protected guest page table, and keep
 * every shadow coherent with it (entries it changes are dropped and
 * flushed).  Returns the old value at gpa (for AMOs).
 */
uint64_t shadow_guest_pt_write(struct shadow_vm *s, gpaddr_t gpa, uint64_t value, unsigned size);
/* tsp: is this guest frame currently a write-protected page table? */
bool shadow_gpa_protected(const struct shadow_vm *s, gpaddr_t gpa);

/*
 * ssp: the guest executed sfence.vma (or asked for it through SBI RFENCE).
 * has_va/has_asid mirror rs1 != x0 / rs2 != x0.  Drops exactly what the
 * fence covers from every shadow it applies to (global mappings included,
 * as the RISC-V rules say) and flushes those hardware translations.
 */
void shadow_sfence(struct shadow_vm *s, bool has_va, uint64_t va, bool has_asid, uint16_t asid);
/* Empty every shadow tree, the MMU-off one included (roots stay live and
 * refill on demand): for reclaim, which takes guest pages away that any
 * leaf may point at.  Returns the entries dropped. */
uint64_t shadow_drop_all(struct shadow_vm *s);

/*
 * Map (size > 0) or unmap (size 0) passthrough range `slot`: guest-physical
 * [gpa, gpa + size) outside RAM that shadows map straight to host-physical
 * hpa (an assigned device's BAR).  Its leaves are 4 KiB, copy the guest's
 * R/W/U but never X, and take no part in write protection.  Replacing or
 * removing a range empties every shadow, flushing every hart.  -1 (nothing
 * changed) for a bad slot, unaligned or overflowing range, or one that
 * overlaps RAM or another range.
 */
int shadow_passthrough_set(struct shadow_vm *s, unsigned slot, gpaddr_t gpa, uint64_t size, paddr_t hpa);

/* For tests and the report: does shadow idx map va, and to what? */
bool shadow_translate(const struct shadow_vm *s, int idx, uint64_t va, paddr_t *hpa, pte_t *pte);

#endif
