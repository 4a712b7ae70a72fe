/* test_coiommu.c — coIOMMU's hypervisor side on a fake VM: registers (ID,
 * RAM base, a DTT root that must be a RAM page), smart pinning by single
 * and batch notification (PINNED set only once the page is pinned, a
 * second notification pins nothing twice), every refusal (no DTT, a leaf
 * pointer with junk bits, a page outside RAM, a failing pin, a batch list
 * outside RAM), lazy unpinning (count > 0 kept, ACCESSED gets a second
 * chance, then unpin through unmap + unpin in that order), a guest that
 * scribbles on its DTT losing only its own pins, and a race: a guest thread
 * mapping and unmapping while scans run, where a page the guest holds
 * mapped must never be out of Umbra's pinned set. */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include "iommu/coiommu/coiommu.h"
#include "tests/unit/unit.h"

#define RAM_GPA 0x80000000ull
#define RAM_PAGES 4096u           /* 16 MiB: four DTT leaves */

static uint8_t *ram;
static paddr_t frames[RAM_PAGES];
static struct guest_mem mem;
static uint64_t bits[RAM_PAGES / 64];
static struct coiommu co;

/* What the fake machine saw. */
static bool mapped[RAM_PAGES];     /* in the "DMA table" */
static unsigned pins_held[RAM_PAGES];
static unsigned unmap_calls, unpin_calls;
static bool fail_pins;
static volatile bool unpinned_while_mapped_unmap_first;

static uint64_t page_of(gpaddr_t gpa) { return (gpa - RAM_GPA) / PAGE_SIZE; }

static bool fake_pin(void *arg, gpaddr_t gpa)
{
    (void)arg;
    if (fail_pins)
        return false;
    __atomic_store_n(&mapped[page_of(gpa)], true, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&pins_held[page_of(gpa)], 1, __ATOMIC_SEQ_CST);
    return true;
}

static void fake_unmap(void *arg, gpaddr_t gpa)
{
    (void)arg;
    __atomic_store_n(&mapped[page_of(gpa)], false, __ATOMIC_SEQ_CST);
    unmap_calls++;
}

static void fake_unpin(void *arg, const gpaddr_t *gpas, unsigned n)
{
    (void)arg;
    for (unsigned i = 0; i < n; i++) {
        /* Unmapped (and invalidated) before the pin goes. */
        if (__atomic_load_n(&mapped[page_of(gpas[i])], __ATOMIC_SEQ_CST) && pins_held[page_of(gpas[i])] == 1)
            unpinned_while_mapped_unmap_first = true;
        __atomic_fetch_sub(&pins_held[page_of(gpas[i])], 1, __ATOMIC_SEQ_CST);
        unpin_calls++;
    }
}

/* Guest layout: DTT root in page 0, leaves in pages 1-4, a batch list in
 * page 5; the rest is ordinary RAM. */
#define ROOT_GPA (RAM_GPA)
#define LEAF_GPA(i) (RAM_GPA + (1 + (i)) * PAGE_SIZE)
#define LIST_GPA (RAM_GPA + 5 * PAGE_SIZE)

static void *gpa_ptr(gpaddr_t gpa) { return ram + (gpa - RAM_GPA); }
static uint32_t *dtte(uint64_t page) { return (uint32_t *)gpa_ptr(LEAF_GPA(page / 1024)) + page % 1024; }

static void setup(void)
{
    memset(ram, 0, RAM_PAGES * PAGE_SIZE);
    memset(bits, 0, sizeof(bits));
    memset(mapped, 0, sizeof(mapped));
    memset(pins_held, 0, sizeof(pins_held));
    unmap_calls = unpin_calls = 0;
    fail_pins = false;
    guest_mem_init(&mem);
    for (unsigned i = 0; i < RAM_PAGES; i++)
        frames[i] = ptr_to_pa(ram) + i * PAGE_SIZE;
    CHECK_EQ(guest_mem_add_paged(&mem, RAM_GPA, RAM_PAGES * PAGE_SIZE, frames), 0);
    struct coiommu_ops ops = { fake_pin, fake_unmap, fake_unpin, NULL };
    coiommu_init(&co, &mem, RAM_GPA, RAM_PAGES * PAGE_SIZE, bits, &ops);
    uint64_t *root = gpa_ptr(ROOT_GPA);
    for (unsigned i = 0; i < 4; i++)
        root[i] = LEAF_GPA(i) | COIOMMU_DTT_VALID;
}

static void set_root(gpaddr_t root)
{
    coiommu_write(&co, COIOMMU_REG_DTT_ROOT, 8, root);
}

/* The guest's map: count + 1, ACCESSED; notify if PINNED was not set. */
static void guest_map(uint64_t page)
{
    uint32_t old = __atomic_load_n(dtte(page), __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(dtte(page), &old, (old + 1) | COIOMMU_DTTE_ACCESSED, false,
                                        __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
        ;
    if (!(old & COIOMMU_DTTE_PINNED))
        coiommu_write(&co, COIOMMU_REG_NOTIFY, 8, (RAM_GPA >> 12) + page);
}

static void guest_unmap(uint64_t page)
{
    __atomic_fetch_sub(dtte(page), 1, __ATOMIC_SEQ_CST);
}

static void test_registers(void)
{
    setup();
    CHECK_EQ(coiommu_read(&co, COIOMMU_REG_ID, 8), COIOMMU_ID);
    CHECK_EQ(coiommu_read(&co, COIOMMU_REG_RAM_BASE, 8), RAM_GPA);
    CHECK_EQ(coiommu_read(&co, COIOMMU_REG_ID, 4), 0);            /* 8-byte accesses only */
    set_root(ROOT_GPA + 8);                                        /* not a page */
    CHECK_EQ(coiommu_read(&co, COIOMMU_REG_DTT_ROOT, 8), 0);
    set_root(0x1000);                                              /* not RAM */
    CHECK_EQ(coiommu_read(&co, COIOMMU_REG_DTT_ROOT, 8), 0);
    set_root(ROOT_GPA);
    CHECK_EQ(coiommu_read(&co, COIOMMU_REG_DTT_ROOT, 8), ROOT_GPA);
    coiommu_write(&co, COIOMMU_REG_ID, 8, 5);                      /* read-only: ignored */
    CHECK_EQ(coiommu_read(&co, COIOMMU_REG_ID, 8), COIOMMU_ID);
}

static void test_smart_pinning(void)
{
    setup();
    coiommu_write(&co, COIOMMU_REG_NOTIFY, 8, (RAM_GPA >> 12) + 100);
    CHECK_EQ(co.status, COIOMMU_NO_DTT);                           /* no root yet */
    CHECK(!mapped[100]);
    set_root(ROOT_GPA);
    guest_map(100);
    CHECK_EQ(co.status, COIOMMU_OK);
    CHECK(mapped[100] && coiommu_pinned(&co, RAM_GPA + 100 * PAGE_SIZE));
    CHECK(*dtte(100) & COIOMMU_DTTE_PINNED);
    CHECK_EQ(co.n.notifies, 2);                                    /* the refused one counts too */
    guest_map(100);                                                /* already pinned: no notification */
    CHECK_EQ(co.n.notifies, 2);
    CHECK_EQ(*dtte(100) & COIOMMU_DTTE_COUNT, 2);
    coiommu_write(&co, COIOMMU_REG_NOTIFY, 8, (RAM_GPA >> 12) + 100);
    CHECK_EQ(pins_held[100], 1);                                   /* never pinned twice */
    CHECK_EQ(coiommu_read(&co, COIOMMU_REG_PINNED, 8), 1);
    /* A batch of three, one of them outside RAM: the others are pinned,
     * the status names the failure. */
    uint64_t *list = gpa_ptr(LIST_GPA);
    list[0] = (RAM_GPA >> 12) + 2000, list[1] = 0x12345, list[2] = (RAM_GPA >> 12) + 3000;
    coiommu_write(&co, COIOMMU_REG_BATCH, 8, LIST_GPA | 2);
    CHECK_EQ(co.status, COIOMMU_NOT_RAM);
    CHECK(mapped[2000] && mapped[3000]);
    CHECK_EQ(co.n.pinned_now, 3);
    coiommu_write(&co, COIOMMU_REG_BATCH, 8, 0x2000 | 0);          /* list not RAM */
    CHECK_EQ(co.status, COIOMMU_BAD_BATCH);
    coiommu_write(&co, COIOMMU_REG_NOTIFY, 8, UINT64_MAX);
    CHECK_EQ(co.status, COIOMMU_NOT_RAM);
    fail_pins = true;
    coiommu_write(&co, COIOMMU_REG_NOTIFY, 8, (RAM_GPA >> 12) + 7);
    CHECK_EQ(co.status, COIOMMU_NO_MEMORY);
    CHECK(!(*dtte(7) & COIOMMU_DTTE_PINNED));                      /* the hint follows the truth */
    fail_pins = false;
    /* A leaf pointer with junk in its low bits is no pointer. */
    uint64_t *root = gpa_ptr(ROOT_GPA);
    root[3] = LEAF_GPA(3) | COIOMMU_DTT_VALID | 0x10;
    coiommu_write(&co, COIOMMU_REG_NOTIFY, 8, (RAM_GPA >> 12) + 3500);
    CHECK_EQ(co.status, COIOMMU_NO_DTT);
    CHECK(!mapped[3500]);
}

static void test_lazy_unpinning(void)
{
    setup();
    set_root(ROOT_GPA);
    guest_map(10);
    guest_map(11);
    guest_unmap(11);
    coiommu_scan(&co);                  /* 10 in use (kept as it is); 11 accessed: second chance */
    CHECK(mapped[10] && mapped[11]);
    CHECK_EQ(co.n.second_chances, 1);
    CHECK(*dtte(10) & COIOMMU_DTTE_ACCESSED);
    CHECK(!(*dtte(11) & COIOMMU_DTTE_ACCESSED));
    coiommu_scan(&co);                  /* 11: count 0, not accessed: unpinned */
    CHECK(mapped[10] && !mapped[11]);
    CHECK(!(*dtte(11) & COIOMMU_DTTE_PINNED));
    CHECK_EQ(pins_held[11], 0);
    CHECK_EQ(unmap_calls, 1);
    CHECK_EQ(unpin_calls, 1);
    CHECK(!unpinned_while_mapped_unmap_first);
    guest_map(11);                      /* pinned again on the next map */
    CHECK(mapped[11] && pins_held[11] == 1);
    /* Garbage in the DTT: a count that never drops keeps a page pinned (its
     * own memory only); a torn root unpins everything, and the guest's
     * later DMA needs notifications it cannot get through: its loss. */
    *dtte(10) = 0xffffffffu;
    coiommu_scan(&co);
    CHECK(mapped[10]);
    uint64_t *root = gpa_ptr(ROOT_GPA);
    memset(root, 0xa5, PAGE_SIZE);
    coiommu_scan(&co);
    CHECK(!mapped[10] && !mapped[11]);
    CHECK_EQ(co.n.pinned_now, 0);
    CHECK_EQ(pins_held[10] + pins_held[11], 0);
}

/* ---- the race ---------------------------------------------------------- */

#define RACE_PAGES 8u
#define RACE_ROUNDS 200000u
#define RACE_QUIET_EVERY 20000u

static volatile bool race_done;
static volatile unsigned race_violations;
static uint64_t race_scans;             /* atomic: scans the host thread has finished */

/* The guest holds nothing for three whole scans: the first may have begun
 * while a page was mapped, the second clears ACCESSED, the third unpins. So
 * unpins happen while the guest thread lives, whatever the host's scheduler. */
static void guest_stay_quiet(void)
{
    uint64_t until = __atomic_load_n(&race_scans, __ATOMIC_SEQ_CST) + 3;
    while (__atomic_load_n(&race_scans, __ATOMIC_SEQ_CST) < until)
        sched_yield();
}

static void *guest_thread(void *arg)
{
    (void)arg;
    uint64_t x = 0x1234567;
    for (unsigned r = 0; r < RACE_ROUNDS; r++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint64_t page = 64 + x % RACE_PAGES;
        guest_map(page);
        /* While mapped, the device may DMA: the page must be reachable. */
        if (!__atomic_load_n(&mapped[page], __ATOMIC_SEQ_CST))
            race_violations++;
        guest_unmap(page);
        if (r % RACE_QUIET_EVERY == RACE_QUIET_EVERY - 1)
            guest_stay_quiet();
    }
    race_done = true;
    return NULL;
}

static void test_unpin_pin_race(void)
{
    setup();
    set_root(ROOT_GPA);
    race_done = false;
    race_violations = 0;
    __atomic_store_n(&race_scans, 0, __ATOMIC_SEQ_CST);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, guest_thread, NULL), 0);
    uint64_t scans = 0;
    while (!race_done) {
        coiommu_scan(&co);
        scans++;
        __atomic_store_n(&race_scans, scans, __ATOMIC_SEQ_CST);
    }
    pthread_join(t, NULL);
    CHECK_EQ(race_violations, 0);
    CHECK(scans > 10);
    CHECK(co.n.unpinned >= RACE_ROUNDS / RACE_QUIET_EVERY);   /* unpins while the guest mapped */
    for (unsigned p = 64; p < 64 + RACE_PAGES; p++)
        CHECK_EQ(pins_held[p], coiommu_pinned(&co, RAM_GPA + p * PAGE_SIZE) ? 1u : 0u);
}

void unit_main(void)
{
    ram = aligned_alloc(PAGE_SIZE, RAM_PAGES * PAGE_SIZE);
    test_registers();
    test_smart_pinning();
    test_lazy_unpinning();
    test_unpin_pin_race();
    free(ram);
}
