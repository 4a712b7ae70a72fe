/*
 * init.c — /init of the Linux guest's initramfs (guests/linux).
 *
 * Runs user-space workloads that make a real kernel do what a hypervisor's
 * memory virtualization has to follow: fork and copy-on-write, mmap/munmap
 * with permission changes, switches between many processes, page-fault
 * storms, random updates over more memory than a TLB reaches (on 4 KiB and
 * on 2 MiB pages), and plain computation as a baseline.  Each workload
 * prints one line
 *
 *     RESULT workload=NAME iters=N checksum=<16 hex digits>
 *
 * The checksum comes only from data the workload computed and checked
 * (values passed through pipes, words read back from copy-on-write pages,
 * exit statuses), never from time, pids or scheduling order, so it is the
 * same natively and in every Umbra mode, with one hart or several.  Timings
 * go on lines containing " measure ", which tests ignore.  A broken check
 * prints "FAIL workload=NAME ..." instead of the RESULT line.  At the end
 * init prints "init: done" and powers the machine off, failures or not.
 *
 * The kernel hands boot parameters of the form key=value (without a dot) to
 * init as environment variables, so the command line chooses the work:
 *     workload=fork|mmap|ctxsw|pagefault|compute|tlb|tlb2m|all|none
 *                                                           (default all)
 *     iters=N                                               (default per workload)
 * "all" is the five workloads above tlb; "none" runs nothing and reports an empty
 * RESULT (iters=0, checksum 0), so a boot-only run is a benchmark's baseline.
 *
 * Multi-threaded workloads always use WORKER_THREADS threads and ctxsw keeps
 * two tokens in flight, whatever the number of harts: with two harts they
 * really run at once (so the kernel shoots down TLB entries across harts),
 * and the results still do not depend on it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guests/common/gups.h"

#define PAGE_BYTES      4096u
#define PAGE_WORDS      (PAGE_BYTES / sizeof(uint64_t))
#define WORKER_THREADS  2

/* A forked child's exit status when its own checks failed; the statuses of
 * healthy children are below it (see STATUS_MODULUS). */
#define CHILD_BROKEN    255
#define STATUS_MODULUS  251

static const char *current_workload = "init";
static atomic_int failures;

/* One line to the console with a single write(), so lines from threads and
 * processes never interleave mid-line (and nothing sits in a stdio buffer
 * that fork() would duplicate). */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (len < 0)
        return;
    if ((size_t)len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t done = write(STDOUT_FILENO, line, (size_t)len);
    (void)done;
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    char why[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    say("FAIL workload=%s %s", current_workload, why);
    atomic_fetch_add(&failures, 1);
}

/* Order-sensitive 64-bit mixing (multiply, then fold the high bits down):
 * the checksum also proves the values came in the expected order. */
static uint64_t checksum_mix(uint64_t sum, uint64_t value)
{
    sum = (sum ^ value) * 0x9e3779b97f4a7c15ull;
    return sum ^ (sum >> 29);
}

/* The instret counter, read from user space (Linux 6.1 lets user mode read
 * it).  Under QEMU -icount, QEMU derives it from its machine-wide instruction
 * count: what every hart retired since reset, the firmware's and (nothing
 * virtualizes the counter) a hypervisor's included. */
static uint64_t instret_now(void)
{
    uint64_t n;
    __asm__ volatile("rdinstret %0" : "=r"(n));
    return n;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *map_anonymous(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        fail("mmap of %zu bytes: %s", bytes, strerror(errno));
        return NULL;
    }
    return p;
}

/* Waits for one particular child (never "any child", so the order of the
 * statuses is ours, not the scheduler's) and returns its exit status, or -1
 * after reporting how it died. */
static int child_wait(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            fail("waitpid: %s", strerror(errno));
            return -1;
        }
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    fail("child killed by signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : -1);
    return -1;
}

/* ---- Threads sharing one address space ---------------------------------- */

struct worker {
    unsigned index;
    unsigned iters;
    void *shared;
    uint64_t checksum;
    const char *error;
};

/* Runs fn on WORKER_THREADS threads and folds their checksums in thread
 * order. */
static uint64_t workers_run(void *(*fn)(void *), unsigned iters, void *shared)
{
    pthread_t threads[WORKER_THREADS];
    struct worker workers[WORKER_THREADS];
    uint64_t sum = 0;
    unsigned started = 0;

    for (unsigned i = 0; i < WORKER_THREADS; i++) {
        workers[i] = (struct worker){ .index = i, .iters = iters, .shared = shared };
        int err = pthread_create(&threads[i], NULL, fn, &workers[i]);
        if (err != 0) {
            fail("pthread_create: %s", strerror(err));
            break;
        }
        started++;
    }
    for (unsigned i = 0; i < started; i++) {
        pthread_join(threads[i], NULL);
        if (workers[i].error)
            fail("thread %u: %s", i, workers[i].error);
        sum = checksum_mix(sum, workers[i].checksum);
    }
    return sum;
}

/* ---- fork: copy-on-write between a parent and batches of children ------- */

#define FORK_PAGES  16
#define FORK_BATCH  4     /* children alive at once, free to run on other harts */

static uint64_t fork_word(uint64_t generation, unsigned page, unsigned word)
{
    return checksum_mix(generation * 0x10001u + page, word);
}

static void fork_fill(uint64_t *buf, uint64_t generation)
{
    for (unsigned p = 0; p < FORK_PAGES; p++)
        for (unsigned w = 0; w < PAGE_WORDS; w++)
            buf[p * PAGE_WORDS + w] = fork_word(generation, p, w);
}

static int fork_matches(const uint64_t *buf, uint64_t generation)
{
    for (unsigned p = 0; p < FORK_PAGES; p++)
        for (unsigned w = 0; w < PAGE_WORDS; w++)
            if (buf[p * PAGE_WORDS + w] != fork_word(generation, p, w))
                return 0;
    return 1;
}

/* The page child number `child` overwrites, and what it writes there. */
static unsigned fork_target_page(unsigned child)
{
    return (child * 7u + 3u) % FORK_PAGES;
}

static uint64_t fork_child_word(uint64_t generation, unsigned child, unsigned word)
{
    return fork_word(generation ^ (0xc0ffeeull << 20) ^ child, fork_target_page(child), word);
}

static int fork_status_of(uint64_t sum)
{
    return (int)(sum % STATUS_MODULUS);
}

/* What a healthy child exits with, computed without touching memory. */
static int fork_expected_status(uint64_t generation, unsigned child)
{
    uint64_t sum = 0;
    for (unsigned w = 0; w < PAGE_WORDS; w++)
        sum = checksum_mix(sum, fork_child_word(generation, child, w));
    return fork_status_of(sum);
}

/* In the child: check every inherited page, then write one (breaking the
 * copy-on-write sharing) and read it back. */
static int fork_child(uint64_t *buf, uint64_t generation, unsigned child)
{
    if (!fork_matches(buf, generation))
        return CHILD_BROKEN;
    uint64_t *page = buf + fork_target_page(child) * PAGE_WORDS;
    for (unsigned w = 0; w < PAGE_WORDS; w++)
        page[w] = fork_child_word(generation, child, w);
    uint64_t sum = 0;
    for (unsigned w = 0; w < PAGE_WORDS; w++)
        sum = checksum_mix(sum, page[w]);
    return fork_status_of(sum);
}

/* Forks up to FORK_BATCH children, then collects them in order. */
static uint64_t fork_batch(uint64_t *buf, uint64_t generation, unsigned first, unsigned count,
                           uint64_t sum)
{
    pid_t pids[FORK_BATCH];
    unsigned forked = 0;
    for (; forked < count; forked++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(fork_child(buf, generation, first + forked));
        if (pid < 0) {
            fail("fork: %s", strerror(errno));
            break;
        }
        pids[forked] = pid;
    }
    for (unsigned i = 0; i < forked; i++) {
        int status = child_wait(pids[i]);
        int expected = fork_expected_status(generation, first + i);
        if (status >= 0 && status != expected)
            fail("child %u exited %d, want %d", first + i, status, expected);
        sum = checksum_mix(sum, (uint64_t)status);
    }
    return sum;
}

static uint64_t workload_fork(unsigned iters)
{
    uint64_t *buf = map_anonymous(FORK_PAGES * PAGE_BYTES);
    uint64_t sum = 0;
    if (!buf)
        return 0;
    for (unsigned first = 0, generation = 1; first < iters; first += FORK_BATCH, generation++) {
        /* Rewriting the pages fork() write-protected exercises the parent's
         * side of copy-on-write too. */
        fork_fill(buf, generation);
        unsigned count = iters - first < FORK_BATCH ? iters - first : FORK_BATCH;
        sum = fork_batch(buf, generation, first, count, sum);
        if (!fork_matches(buf, generation)) {
            fail("a child's write showed through in the parent (generation %u)", generation);
            break;
        }
    }
    munmap(buf, FORK_PAGES * PAGE_BYTES);
    return sum;
}

/* ---- mmap: map, touch, write-protect, read back, unmap ------------------ */

#define MMAP_PAGES  32

static void *mmap_worker(void *arg)
{
    struct worker *wk = arg;
    size_t bytes = MMAP_PAGES * PAGE_BYTES;
    for (unsigned i = 0; i < wk->iters; i++) {
        uint64_t *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            wk->error = "mmap failed";
            return NULL;
        }
        uint64_t seed = checksum_mix(wk->index, i);
        for (unsigned pg = 0; pg < MMAP_PAGES; pg++) {
            p[pg * PAGE_WORDS] = checksum_mix(seed, pg);
            p[pg * PAGE_WORDS + PAGE_WORDS - 1] = ~checksum_mix(seed, pg);
        }
        /* Taking write permission away makes the kernel flush the TLB of
         * every hart this address space runs on. */
        if (mprotect(p, bytes, PROT_READ) != 0) {
            wk->error = "mprotect failed";
            return NULL;
        }
        for (unsigned pg = 0; pg < MMAP_PAGES; pg++) {
            uint64_t first = p[pg * PAGE_WORDS], last = p[pg * PAGE_WORDS + PAGE_WORDS - 1];
            if (first != checksum_mix(seed, pg) || last != ~first) {
                wk->error = "read back a wrong value";
                return NULL;
            }
            wk->checksum = checksum_mix(wk->checksum, first);
        }
        if (munmap(p, bytes) != 0) {
            wk->error = "munmap failed";
            return NULL;
        }
    }
    return NULL;
}

static uint64_t workload_mmap(unsigned iters)
{
    return workers_run(mmap_worker, iters, NULL);
}

/* ---- ctxsw: tokens passed around a ring of processes through pipes ------ */

#define RING_PROCS   16
#define RING_TOKENS  2     /* two in flight, so two ring members can run at once */

struct token {
    uint32_t id;
    uint32_t round;
    uint64_t value;
};

static int pipe_read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n == 0)
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        got += (size_t)n;
    }
    return 1;
}

static int pipe_write_token(int fd, const struct token *t)
{
    /* Below PIPE_BUF, so the write is atomic: no partial tokens. */
    return write(fd, t, sizeof *t) == (ssize_t)sizeof *t ? 0 : -1;
}

/* Ring member `me`: transform and pass on every token until the ring is
 * closed; the exit status is the number of tokens it handled. */
static int ring_member(int in, int out, unsigned me)
{
    struct token t;
    unsigned handled = 0;
    int r;
    while ((r = pipe_read_full(in, &t, sizeof t)) == 1) {
        t.value = checksum_mix(t.value, me);
        if (pipe_write_token(out, &t) != 0)
            return CHILD_BROKEN;
        handled++;
    }
    return r == 0 ? (int)(handled % STATUS_MODULUS) : CHILD_BROKEN;
}

static uint64_t token_initial(unsigned id)
{
    return checksum_mix(0x7269u, id);
}

/* The value a token has after `rounds` trips around the ring. */
static uint64_t token_expected(unsigned id, unsigned rounds)
{
    uint64_t v = token_initial(id);
    for (unsigned r = 0; r < rounds; r++) {
        for (unsigned k = 1; k < RING_PROCS; k++)
            v = checksum_mix(v, k);
        v = checksum_mix(v, 0);
    }
    return v;
}

/* Member 0 (init itself): injects the tokens, retires each after `rounds`
 * trips, then closes the ring.  Returns the final values folded by id. */
static uint64_t ring_drive(int in, int out, unsigned rounds)
{
    uint64_t final[RING_TOKENS] = { 0 };
    unsigned retired = 0;
    for (unsigned id = 0; id < RING_TOKENS; id++) {
        struct token t = { .id = id, .round = 0, .value = token_initial(id) };
        if (pipe_write_token(out, &t) != 0) {
            fail("pipe write: %s", strerror(errno));
            return 0;
        }
    }
    while (retired < RING_TOKENS) {
        struct token t;
        if (pipe_read_full(in, &t, sizeof t) != 1 || t.id >= RING_TOKENS) {
            fail("the ring broke (a member died or sent garbage)");
            return 0;
        }
        t.value = checksum_mix(t.value, 0);
        if (++t.round < rounds) {
            if (pipe_write_token(out, &t) != 0) {
                fail("pipe write: %s", strerror(errno));
                return 0;
            }
            continue;
        }
        final[t.id] = t.value;
        retired++;
    }
    uint64_t sum = 0;
    for (unsigned id = 0; id < RING_TOKENS; id++) {
        if (final[id] != token_expected(id, rounds))
            fail("token %u ended as %016llx, want %016llx", id,
                 (unsigned long long)final[id], (unsigned long long)token_expected(id, rounds));
        sum = checksum_mix(sum, final[id]);
    }
    return sum;
}

static void ring_close_all(int fds[RING_PROCS][2], int keep_read, int keep_write)
{
    for (int k = 0; k < RING_PROCS; k++) {
        if (k != keep_read)
            close(fds[k][0]);
        if (k != keep_write)
            close(fds[k][1]);
    }
}

static uint64_t workload_ctxsw(unsigned iters)
{
    int fds[RING_PROCS][2];
    pid_t pids[RING_PROCS] = { 0 };
    unsigned rounds = iters ? iters : 1;

    for (int k = 0; k < RING_PROCS; k++) {
        if (pipe(fds[k]) != 0) {
            fail("pipe: %s", strerror(errno));
            for (int j = 0; j < k; j++) {
                close(fds[j][0]);
                close(fds[j][1]);
            }
            return 0;
        }
    }
    /* Member k reads pipe k and writes pipe k+1 (the last writes pipe 0). */
    for (int k = 1; k < RING_PROCS; k++) {
        pids[k] = fork();
        if (pids[k] == 0) {
            int next = (k + 1) % RING_PROCS;
            ring_close_all(fds, k, next);
            _exit(ring_member(fds[k][0], fds[next][1], (unsigned)k));
        }
        if (pids[k] < 0)
            fail("fork: %s", strerror(errno));
    }
    ring_close_all(fds, 0, 1);
    uint64_t sum = ring_drive(fds[0][0], fds[1][1], rounds);
    close(fds[1][1]);   /* end of input for member 1, and so on round the ring */
    close(fds[0][0]);

    for (int k = 1; k < RING_PROCS; k++) {
        if (pids[k] <= 0)
            continue;
        int status = child_wait(pids[k]);
        int expected = (int)((RING_TOKENS * rounds) % STATUS_MODULUS);
        if (status >= 0 && status != expected)
            fail("ring member %d exited %d, want %d", k, status, expected);
        sum = checksum_mix(sum, (uint64_t)status);
    }
    return sum;
}

/* ---- pagefault: threads demand-fault one large region together ---------- */

#define FAULT_PAGES  4096   /* 16 MiB per round */
#define FAULT_CHUNK  16     /* pages a thread touches before the next thread's */

static uint64_t fault_word(unsigned round, unsigned page)
{
    return checksum_mix(round * 0x9e37u + 1, page);
}

struct fault_round {
    uint64_t *region;
    unsigned round;
};

/* Both threads fault interleaved 64 KiB chunks of the same region, so they
 * fill the same page-table pages at the same time. */
static void *fault_worker(void *arg)
{
    struct worker *wk = arg;
    const struct fault_round *fr = wk->shared;
    for (unsigned pg = 0; pg < FAULT_PAGES; pg++)
        if ((pg / FAULT_CHUNK) % WORKER_THREADS == wk->index)
            fr->region[pg * PAGE_WORDS + pg % PAGE_WORDS] = fault_word(fr->round, pg);
    for (unsigned pg = 0; pg < FAULT_PAGES; pg++) {
        if ((pg / FAULT_CHUNK) % WORKER_THREADS != wk->index)
            continue;
        uint64_t v = fr->region[pg * PAGE_WORDS + pg % PAGE_WORDS];
        if (v != fault_word(fr->round, pg)) {
            wk->error = "read back a wrong value";
            return NULL;
        }
        wk->checksum = checksum_mix(wk->checksum, v);
    }
    return NULL;
}

static uint64_t workload_pagefault(unsigned iters)
{
    size_t bytes = (size_t)FAULT_PAGES * PAGE_BYTES;
    uint64_t sum = 0;
    for (unsigned round = 0; round < iters; round++) {
        uint64_t *region = map_anonymous(bytes);
        if (!region)
            break;
        struct fault_round fr = { .region = region, .round = round };
        sum = checksum_mix(sum, workers_run(fault_worker, 0, &fr));
        /* Untouched words must still read as zero: the fresh pages were
         * really zeroed, not recycled. */
        if (region[1] != 0 || region[(size_t)(FAULT_PAGES - 1) * PAGE_WORDS] != 0)
            fail("round %u: a fresh page was not zero", round);
        munmap(region, bytes);
    }
    return sum;
}

/* ---- compute: arithmetic over a small, already-mapped buffer ------------ */

#define COMPUTE_WORDS  16384   /* 128 KiB per thread, faulted in once */

static void *compute_worker(void *arg)
{
    struct worker *wk = arg;
    uint64_t *buf = malloc(COMPUTE_WORDS * sizeof *buf);
    if (!buf) {
        wk->error = "malloc failed";
        return NULL;
    }
    uint64_t x = checksum_mix(0x636f6d70u, wk->index);
    for (unsigned i = 0; i < COMPUTE_WORDS; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = x;
    }
    for (unsigned pass = 0; pass < wk->iters; pass++)
        for (unsigned i = 0; i < COMPUTE_WORDS; i++)
            buf[i] = checksum_mix(buf[i], buf[(i * 13u + pass) % COMPUTE_WORDS]);
    for (unsigned i = 0; i < COMPUTE_WORDS; i++)
        wk->checksum = checksum_mix(wk->checksum, buf[i]);
    free(buf);
    return NULL;
}

static uint64_t workload_compute(unsigned iters)
{
    return workers_run(compute_worker, iters, NULL);
}

/* ---- tlb, tlb2m: random updates over 32 MiB (gups.h) ----------------------
 *
 * The loop tinyos runs for its workloads of the same names, over the same
 * number of pages, so the checksums equal tinyos's.  tlb's table is
 * ordinary anonymous memory on 4 KiB pages; tlb2m's comes from the
 * kernel's pool of 2 MiB pages (MAP_HUGETLB), which /init fills first.
 * Every page is touched before the loop, so the loop measures translation,
 * not demand paging; instret is read right before and after the loop
 * (tools/tlbsim counts between such a pair) and printed on a measure line. */

#define TLB_PAGES      8192u                       /* 32 MiB */
#define TLB_BYTES      ((size_t)TLB_PAGES * PAGE_BYTES)
#define HUGE_BYTES     (2u << 20)
#define HUGE_POOL      "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"

static uint64_t *tlb_word(void *table, uint64_t index)
{
    return (uint64_t *)table + index;
}

static uint64_t tlb_loop(void *table, unsigned iters)
{
    for (size_t off = 0; off < TLB_BYTES; off += PAGE_BYTES)
        ((volatile uint64_t *)table)[off / sizeof(uint64_t)] = 0;
    uint64_t start = instret_now();
    uint64_t h = gups_run(tlb_word, table, TLB_PAGES, iters);
    uint64_t instret = instret_now() - start;
    say("init: measure workload=%s instret=%llu", current_workload, (unsigned long long)instret);
    munmap(table, TLB_BYTES);
    return h & 0x7fffffffffffffffull;   /* as tinyos reports it */
}

static uint64_t workload_tlb(unsigned iters)
{
    void *table = map_anonymous(TLB_BYTES);
    return table ? tlb_loop(table, iters) : 0;
}

/* Asks the kernel for `pages` 2 MiB pages in its pool and reads back how
 * many it found; true if enough. */
static int huge_pool_fill(unsigned pages)
{
    unsigned have = 0;
    FILE *f = fopen(HUGE_POOL, "w");
    if (f) {
        fprintf(f, "%u\n", pages);
        if (fclose(f) != 0)
            f = NULL;
    }
    if (f)
        f = fopen(HUGE_POOL, "r");
    if (!f) {
        fail("%s: %s", HUGE_POOL, strerror(errno));
        return 0;
    }
    if (fscanf(f, "%u", &have) != 1)
        have = 0;
    fclose(f);
    if (have < pages)
        fail("only %u of %u 2 MiB pages in the pool (too little RAM?)", have, pages);
    return have >= pages;
}

static uint64_t workload_tlb2m(unsigned iters)
{
    if (!huge_pool_fill(TLB_BYTES / HUGE_BYTES))
        return 0;
    void *table = mmap(NULL, TLB_BYTES, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
    if (table == MAP_FAILED) {
        fail("MAP_HUGETLB mmap of %zu bytes: %s", TLB_BYTES, strerror(errno));
        return 0;
    }
    return tlb_loop(table, iters);
}

/* ---- none: the boot-only baseline ---------------------------------------- */

static uint64_t workload_none(unsigned iters)
{
    (void)iters;
    return 0;
}

/* ---- main --------------------------------------------------------------- */

struct workload {
    const char *name;
    unsigned default_iters;   /* 0: takes no iteration count, reports iters=0 */
    uint64_t (*run)(unsigned iters);
    int in_all;               /* part of workload=all */
};

static const struct workload workloads[] = {
    { "fork", 128, workload_fork, 1 },
    { "mmap", 200, workload_mmap, 1 },
    { "ctxsw", 100, workload_ctxsw, 1 },
    { "pagefault", 4, workload_pagefault, 1 },
    { "compute", 200, workload_compute, 1 },
    { "tlb", 1000000, workload_tlb, 0 },
    { "tlb2m", 1000000, workload_tlb2m, 0 },
    { "none", 0, workload_none, 0 },
};

#define WORKLOAD_COUNT (sizeof workloads / sizeof workloads[0])

static void workload_report(const struct workload *w, unsigned iters)
{
    int failed_before = atomic_load(&failures);
    current_workload = w->name;
    if (iters == 0 || w->default_iters == 0)
        iters = w->default_iters;
    uint64_t start = now_ns();
    uint64_t sum = w->run(iters);
    uint64_t elapsed = now_ns() - start;
    if (atomic_load(&failures) == failed_before)
        say("RESULT workload=%s iters=%u checksum=%016llx", w->name, iters,
            (unsigned long long)sum);
    say("init: measure workload=%s ns=%llu", w->name, (unsigned long long)elapsed);
    current_workload = "init";
}

static unsigned iters_from_env(void)
{
    const char *text = getenv("iters");
    if (!text || !*text)
        return 0;
    char *end;
    unsigned long n = strtoul(text, &end, 10);
    if (*end != '\0' || n > 1000000) {
        fail("iters=%s: want a number up to 1000000", text);
        return 0;
    }
    return (unsigned)n;
}

/* /proc and /sys only tell how many harts are online; the workloads need
 * neither. */
static void mount_pseudo_filesystems(void)
{
    if (mount("proc", "/proc", "proc", 0, NULL) != 0)
        say("init: mounting /proc: %s", strerror(errno));
    if (mount("sysfs", "/sys", "sysfs", 0, NULL) != 0)
        say("init: mounting /sys: %s", strerror(errno));
}

int main(void)
{
    /* Both read before anything else, so they measure the boot alone.
     * CLOCK_MONOTONIC starts at boot: how long the kernel took to get here
     * (with QEMU -icount shift=0, roughly its instruction count). */
    uint64_t boot_ns = now_ns();
    uint64_t boot_instret = instret_now();
    /* A second read right away: tools/tlbsim counts between pairs of
     * instret reads, and this empty pair keeps the tlb loop's own pair
     * the one that counts. */
    (void)instret_now();
    const char *choice = getenv("workload");
    unsigned iters = iters_from_env();
    int matched = 0;

    say("init: measure boot ns=%llu", (unsigned long long)boot_ns);
    say("init: measure boot instret=%llu", (unsigned long long)boot_instret);
    if (!choice || !*choice)
        choice = "all";
    mount_pseudo_filesystems();
    say("init: workload=%s cpus=%ld", choice, sysconf(_SC_NPROCESSORS_ONLN));
    for (unsigned i = 0; i < WORKLOAD_COUNT; i++) {
        if ((workloads[i].in_all && strcmp(choice, "all") == 0) ||
            strcmp(choice, workloads[i].name) == 0) {
            workload_report(&workloads[i], iters);
            matched = 1;
        }
    }
    if (!matched)
        fail("unknown workload '%s' (want fork, mmap, ctxsw, pagefault, compute, tlb, tlb2m, all or none)", choice);
    say("init: done");
    reboot(RB_POWER_OFF);
    /* pid 1 must not exit (the kernel would panic): wait for the end. */
    say("FAIL workload=init power-off failed: %s", strerror(errno));
    for (;;)
        pause();
}
