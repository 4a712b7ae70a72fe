/*
 * user_work.c — tinyos's workloads, run in U-mode by the first process of
 * each run (user_main) and the processes it forks.
 *
 * Every workload computes a checksum from data its processes really
 * produced and passed around (tokens through pipes, pages read through
 * copy-on-write, demand-zero memory) and checks what it can predict: a
 * wrong value ends the run through SYS_FAIL.  Results of several
 * processes are combined in creation order, never in the order they
 * happen to finish, so the checksum does not depend on scheduling: it is
 * the same natively and under any hypervisor.
 */
#include "guests/common/gups.h"
#include "guests/tinyos/ulib.h"

#define RING_MAX NPROC_USER
#define NPROC_USER 64
#define MIX_SRC_PAGES 4
#define MIX_RECORDS 8
#define MIX_RECORD_WORDS 8
#define MIX_MAX_JOBS 31

/* ------------------------------------------------------------------ */
/* ctxsw: a ring of pipes; each round one token travels once around.    */

static uint64_t ring_seed(uint64_t round)
{
    return u_mix(0x5eedull, round);
}

static uint64_t ring_step(uint64_t token, uint64_t member, uint64_t round)
{
    return u_mix(token, (member << 32) | round);
}

/* Adds `token` to one word of every page of the working set. */
static void ring_touch(uint64_t *ws, uint64_t size, uint64_t round, uint64_t token)
{
    for (uint64_t p = 0; p < size; p++)
        ws[p * U_PAGE_WORDS + round % U_PAGE_WORDS] += token;
}

static uint64_t ring_sum(const uint64_t *ws, uint64_t size)
{
    uint64_t sum = 0;
    for (uint64_t w = 0; w < size * U_PAGE_WORDS; w++)
        sum += ws[w];
    return sum;
}

static _Noreturn void ring_member(int in, int out, uint64_t member, uint64_t iters, uint64_t size)
{
    uint64_t *ws = size ? u_sbrk((long)(size * TINYOS_PAGE_SIZE)) : 0;
    uint64_t h = 0;
    for (uint64_t r = 0; r < iters; r++) {
        uint64_t token;
        u_read_exact(in, &token, sizeof(token));
        token = ring_step(token, member, r);
        ring_touch(ws, size, r, token);
        h = u_mix(h, token);
        u_write_exact(out, &token, sizeof(token));
    }
    u_exit(u_mix(h, ring_sum(ws, size)));
}

/* Recomputes what each member must report: hs[m], and the token sums. */
static void ring_predict(uint64_t n, uint64_t iters, uint64_t size, uint64_t *hs, uint64_t *sums)
{
    for (uint64_t m = 0; m < n; m++)
        hs[m] = sums[m] = 0;
    for (uint64_t r = 0; r < iters; r++) {
        uint64_t t = ring_seed(r);
        for (uint64_t m = 1; m < n; m++) {
            t = ring_step(t, m, r);
            hs[m] = u_mix(hs[m], t);
            sums[m] += t * size;
        }
    }
}

struct ring {
    uint64_t n, iters, size;
    int out, in;                /* member 0: writes pipe 0, reads pipe n-1 */
    long pids[RING_MAX];        /* pids[m] of member m >= 1 */
};

/* Forks members 1..n-1: member m reads pipe m-1 and writes pipe m, and
 * holds no other pipe end, so end of file propagates around the ring. */
static void ring_build(struct ring *ring)
{
    int first[2];
    u_check(u_pipe(first), SYS_PIPE);
    int prev_read = first[0];
    for (uint64_t m = 1; m < ring->n; m++) {
        int next[2];
        u_check(u_pipe(next), SYS_PIPE);
        long pid = u_check(u_fork(), SYS_FORK);
        if (pid == 0) {
            u_close(first[1]);
            u_close(next[0]);
            ring_member(prev_read, next[1], m, ring->iters, ring->size);
        }
        ring->pids[m] = pid;
        u_close(prev_read);
        u_close(next[1]);
        prev_read = next[0];
    }
    ring->out = first[1];
    ring->in = prev_read;
}

/* Member 0: starts each round's token and checks what comes back. */
static uint64_t ring_lead(struct ring *ring)
{
    uint64_t *ws = ring->size ? u_sbrk((long)(ring->size * TINYOS_PAGE_SIZE)) : 0;
    uint64_t h = 0;
    for (uint64_t r = 0; r < ring->iters; r++) {
        uint64_t token = ring_seed(r), want = token;
        for (uint64_t m = 1; m < ring->n; m++)
            want = ring_step(want, m, r);
        ring_touch(ws, ring->size, r, token);
        u_write_exact(ring->out, &token, sizeof(token));
        u_read_exact(ring->in, &token, sizeof(token));
        if (token != want)
            u_fail(CHECK_RING_TOKEN, token, want);
        h = u_mix(h, token);
    }
    /* Exactly one token per round: nothing may be left in the ring. */
    u_close(ring->out);
    uint64_t extra;
    long got = u_check(u_read(ring->in, &extra, sizeof(extra)), SYS_READ);
    if (got != 0)
        u_fail(CHECK_RING_TOKEN, (uint64_t)got, 0);
    u_close(ring->in);
    return u_mix(h, ring_sum(ws, ring->size));
}

/* Reaps the members and folds their statuses in, in member order. */
static uint64_t ring_collect(const struct ring *ring, uint64_t h)
{
    uint64_t status[RING_MAX], hs[RING_MAX], sums[RING_MAX];
    for (uint64_t k = 1; k < ring->n; k++) {
        uint64_t st;
        long pid = u_wait_any(&st);
        for (uint64_t m = 1; m < ring->n; m++) {
            if (ring->pids[m] == pid)
                status[m] = st;
        }
    }
    ring_predict(ring->n, ring->iters, ring->size, hs, sums);
    for (uint64_t m = 1; m < ring->n; m++) {
        uint64_t want = u_mix(hs[m], sums[m]);
        if (status[m] != want)
            u_fail(CHECK_CHILD_STATUS, status[m], want);
        h = u_mix(h, status[m]);
    }
    return h;
}

uint64_t work_ctxsw(uint64_t iters, uint64_t procs, uint64_t size)
{
    struct ring ring;
    ring.n = procs < 2 ? 2 : (procs > RING_MAX ? RING_MAX : procs);
    ring.iters = iters;
    ring.size = size;
    ring_build(&ring);
    return ring_collect(&ring, ring_lead(&ring));
}

/* ------------------------------------------------------------------ */
/* fork: fork, the child reads and writes a COW heap, exit, wait.      */

static uint64_t fork_initial(uint64_t word)
{
    return u_mix(0xf0f0ull, word);
}

static uint64_t fork_mark(uint64_t iteration)
{
    return u_mix(iteration, 77);
}

/* Word 1 of page p as of fork number `it`: the parent rewrites word 1 of
 * page it % size right after each fork, so the child of fork `it` sees
 * the latest mark j < it with j % size == p. */
static uint64_t fork_word1_at(uint64_t p, uint64_t it, uint64_t size)
{
    if (it <= p)
        return fork_initial(p * U_PAGE_WORDS + 1);
    return fork_mark(p + size * ((it - 1 - p) / size));
}

static uint64_t fork_other_word(uint64_t it)
{
    return 2 + it % (U_PAGE_WORDS - 2);
}

/* What the child of fork `it` computes (the parent predicts it too). */
static uint64_t fork_child_hash(const uint64_t *heap, uint64_t size, uint64_t it, bool verify)
{
    uint64_t h = 0, other = fork_other_word(it);
    for (uint64_t p = 0; p < size; p++) {
        const uint64_t *page = heap + p * U_PAGE_WORDS;
        uint64_t w1 = heap ? page[1] : fork_word1_at(p, it, size);
        uint64_t wo = heap ? page[other] : fork_initial(p * U_PAGE_WORDS + other);
        if (verify && w1 != fork_word1_at(p, it, size))
            u_fail(CHECK_COW_CHILD, w1, fork_word1_at(p, it, size));
        if (verify && wo != fork_initial(p * U_PAGE_WORDS + other))
            u_fail(CHECK_COW_CHILD, wo, fork_initial(p * U_PAGE_WORDS + other));
        h = u_mix(h, w1);
        h = u_mix(h, wo);
        h = u_mix(h, u_mix(it, p));
    }
    return h;
}

static _Noreturn void fork_child(uint64_t *heap, uint64_t size, uint64_t it)
{
    uint64_t h = fork_child_hash(heap, size, it, true);
    /* Write every page: each write breaks copy-on-write. */
    for (uint64_t p = 0; p < size; p++)
        heap[p * U_PAGE_WORDS] = u_mix(it, p);
    for (uint64_t p = 0; p < size; p++) {
        if (heap[p * U_PAGE_WORDS] != u_mix(it, p))
            u_fail(CHECK_READBACK, heap[p * U_PAGE_WORDS], u_mix(it, p));
    }
    u_exit(h);
}

uint64_t work_fork(uint64_t iters, uint64_t size)
{
    if (size == 0)
        size = 1;
    uint64_t *heap = u_sbrk((long)(size * TINYOS_PAGE_SIZE));
    for (uint64_t w = 0; w < size * U_PAGE_WORDS; w++)
        heap[w] = fork_initial(w);
    uint64_t h = 0;
    for (uint64_t it = 0; it < iters; it++) {
        long pid = u_check(u_fork(), SYS_FORK);
        if (pid == 0)
            fork_child(heap, size, it);
        heap[(it % size) * U_PAGE_WORDS + 1] = fork_mark(it);
        uint64_t st;
        if (u_wait_any(&st) != pid)
            u_fail(CHECK_SYSCALL, SYS_WAIT, (uint64_t)pid);
        uint64_t want = fork_child_hash(0, size, it, false);
        if (st != want)
            u_fail(CHECK_CHILD_STATUS, st, want);
        /* The child's writes must not have reached the parent. */
        for (uint64_t p = 0; p < size; p++) {
            if (heap[p * U_PAGE_WORDS] != fork_initial(p * U_PAGE_WORDS))
                u_fail(CHECK_COW_PARENT, p, heap[p * U_PAGE_WORDS]);
        }
        h = u_mix(h, st);
    }
    return h;
}

/* ------------------------------------------------------------------ */
/* mmap: map, touch every page, read back, unmap.                      */

uint64_t work_mmap(uint64_t iters, uint64_t size)
{
    if (size == 0)
        size = 1;
    size_t len = size * TINYOS_PAGE_SIZE;
    uint64_t h = 0;
    for (uint64_t it = 0; it < iters; it++) {
        uint64_t *a = u_mmap(len);
        for (uint64_t p = 0; p < size; p++) {
            uint64_t *page = a + p * U_PAGE_WORDS;
            if (page[it % U_PAGE_WORDS] != 0)
                u_fail(CHECK_NOT_ZERO, (uint64_t)page, page[it % U_PAGE_WORDS]);
            page[(p + it) % U_PAGE_WORDS] = u_mix(it, p);
        }
        uint64_t sum = 0;
        for (uint64_t p = 0; p < size; p++) {
            uint64_t v = a[p * U_PAGE_WORDS + (p + it) % U_PAGE_WORDS];
            if (v != u_mix(it, p))
                u_fail(CHECK_READBACK, v, u_mix(it, p));
            sum = u_mix(sum, v);
        }
        /* Every fourth time, unmap in two pieces (splits the region). */
        if (it % 4 == 3 && size >= 2) {
            size_t half = (size / 2) * TINYOS_PAGE_SIZE;
            u_munmap(a, half);
            u_munmap((uint8_t *)a + half, len - half);
        } else {
            u_munmap(a, len);
        }
        h = u_mix(h, sum);
    }
    return h;
}

/* ------------------------------------------------------------------ */
/* pagefault: grow the heap, fault every page in a scattered order.    */

static uint64_t pagefault_stride(uint64_t size)
{
    /* Primes: one that does not divide size is coprime to it. */
    static const uint64_t primes[] = { 4099, 4111, 4127 };
    for (unsigned i = 0; i < 3; i++) {
        if (size % primes[i] != 0)
            return primes[i] % size;
    }
    return 1;
}

uint64_t work_pagefault(uint64_t iters, uint64_t size)
{
    if (size == 0)
        size = 1;
    long len = (long)(size * TINYOS_PAGE_SIZE);
    uint64_t stride = pagefault_stride(size), h = 0;
    for (uint64_t it = 0; it < iters; it++) {
        uint64_t *base = u_sbrk(len);
        uint64_t idx = 0;
        for (uint64_t k = 0; k < size; k++) {
            uint64_t *word = base + idx * U_PAGE_WORDS + idx % U_PAGE_WORDS;
            if (*word != 0)
                u_fail(CHECK_NOT_ZERO, (uint64_t)word, *word);
            *word = u_mix(it, idx);
            idx += stride;
            if (idx >= size)
                idx -= size;
        }
        uint64_t sum = 0;
        for (uint64_t p = 0; p < size; p++) {
            uint64_t v = base[p * U_PAGE_WORDS + p % U_PAGE_WORDS];
            if (v != u_mix(it, p))
                u_fail(CHECK_READBACK, v, u_mix(it, p));
            sum = u_mix(sum, v);
        }
        u_sbrk(-len);
        h = u_mix(h, sum);
    }
    return h;
}

/* ------------------------------------------------------------------ */
/* compute: workers crunch private arrays; few page-table changes.     */

static uint64_t compute_worker(uint64_t w, uint64_t iters, uint64_t size)
{
    uint64_t n = size * U_PAGE_WORDS;
    uint64_t *buf = u_sbrk((long)(n * sizeof(uint64_t)));
    for (uint64_t i = 0; i < n; i++)
        buf[i] = u_mix(w, i);
    for (uint64_t r = 0; r < iters; r++) {
        uint64_t off = (r * 7 + 1) % n;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t j = i + off;
            if (j >= n)
                j -= n;
            buf[i] = (buf[i] * 6364136223846793005ull + buf[j]) ^ (buf[i] >> 17);
        }
    }
    uint64_t h = 0;
    for (uint64_t i = 0; i < n; i++)
        h = h * 31 + buf[i];
    return u_mix(h, w);
}

uint64_t work_compute(uint64_t iters, uint64_t procs, uint64_t size)
{
    uint64_t n = procs < 1 ? 1 : (procs > NPROC_USER - 1 ? NPROC_USER - 1 : procs);
    if (size == 0)
        size = 1;
    long pids[NPROC_USER];
    uint64_t status[NPROC_USER];
    for (uint64_t w = 0; w < n; w++) {
        long pid = u_check(u_fork(), SYS_FORK);
        if (pid == 0)
            u_exit(compute_worker(w, iters, size));
        pids[w] = pid;
    }
    for (uint64_t k = 0; k < n; k++) {
        uint64_t st;
        long pid = u_wait_any(&st);
        for (uint64_t w = 0; w < n; w++) {
            if (pids[w] == pid)
                status[w] = st;
        }
    }
    uint64_t h = 0;
    for (uint64_t w = 0; w < n; w++)
        h = u_mix(h, status[w]);
    return h;
}

/* ------------------------------------------------------------------ */
/* mix: a parallel build.  "make" forks jobs; each job ("cc") forks a  */
/* compiler ("cc1") that maps a buffer, transforms the shared sources   */
/* and streams its output back through a pipe; cc edits its COW copy of  */
/* the sources and reports a record to make through a shared pipe.      */

/* What cc1's scratch round trip adds to its hash (cc predicts it). */
static uint64_t mix_scratch_hash(uint64_t h)
{
    return u_mix(h, h + (h + 1));
}

static uint64_t mix_compile(int out, const uint64_t *src, uint64_t round, uint64_t job,
                            uint64_t size)
{
    uint64_t n = size * U_PAGE_WORDS, src_words = MIX_SRC_PAGES * U_PAGE_WORDS;
    uint64_t *buf = u_mmap(n * sizeof(uint64_t));
    for (uint64_t i = 0; i < n; i++)
        buf[i] = u_mix(src[(i + job * 13 + round) % src_words], i);
    uint64_t h = 0;
    for (uint64_t r = 0; r < MIX_RECORDS; r++) {
        uint64_t rec[MIX_RECORD_WORDS];
        for (uint64_t k = 0; k < MIX_RECORD_WORDS; k++) {
            rec[k] = buf[(r * 509 + k * 61) % n];
            h = u_mix(h, rec[k]);
        }
        u_write_exact(out, rec, sizeof(rec));
    }
    /* Scratch memory on the heap, given back at once. */
    uint64_t *scratch = u_sbrk(2 * TINYOS_PAGE_SIZE);
    scratch[0] = h;
    scratch[U_PAGE_WORDS] = h + 1;
    uint64_t back = u_mix(h, scratch[0] + scratch[U_PAGE_WORDS]);
    if (back != mix_scratch_hash(h))
        u_fail(CHECK_READBACK, back, mix_scratch_hash(h));
    u_sbrk(-2 * (long)TINYOS_PAGE_SIZE);
    h = back;
    u_munmap(buf, n * sizeof(uint64_t));
    u_close(out);
    return h;
}

/* The source word job `job` edits in round `round` (never word 0 of a
 * page, which make itself rewrites between rounds). */
static uint64_t mix_job_word(uint64_t job, uint64_t round)
{
    return (job % MIX_SRC_PAGES) * U_PAGE_WORDS + 1 + round % 64;
}

static _Noreturn void mix_job(int report, uint64_t *src, uint64_t round, uint64_t job,
                              uint64_t size)
{
    int c[2];
    u_check(u_pipe(c), SYS_PIPE);
    long pid = u_check(u_fork(), SYS_FORK);
    if (pid == 0) {
        u_close(c[0]);
        u_close(report);
        u_exit(mix_compile(c[1], src, round, job, size));
    }
    u_close(c[1]);
    uint64_t h = 0, rec[MIX_RECORD_WORDS];
    for (;;) {
        long got = u_check(u_read(c[0], rec, sizeof(rec)), SYS_READ);
        if (got == 0)
            break;
        if (got % 8 != 0)
            u_fail(CHECK_PIPE_SHORT, (uint64_t)c[0], (uint64_t)got);
        for (long k = 0; k < got / 8; k++)
            h = u_mix(h, rec[k]);
    }
    u_close(c[0]);
    uint64_t st;
    if (u_wait_any(&st) != pid || st != mix_scratch_hash(h))
        u_fail(CHECK_CHILD_STATUS, st, mix_scratch_hash(h));
    /* Edit this job's private copy of the sources (a COW break). */
    uint64_t *word = src + mix_job_word(job, round);
    *word = u_mix(*word, h);
    uint64_t result = u_mix(h, *word);
    uint64_t record[2] = { job, result };
    u_write_exact(report, record, sizeof(record));
    u_exit(result);
}

/* make's check after a round: the words the jobs edited in their COW
 * copies still hold make's own values (make never writes them). */
static void mix_check_sources(const uint64_t *src, uint64_t round, uint64_t jobs)
{
    for (uint64_t j = 0; j < jobs && j < MIX_SRC_PAGES; j++) {
        uint64_t w = mix_job_word(j, round);
        if (src[w] != u_mix(0xb1dull, w))
            u_fail(CHECK_COW_PARENT, w, src[w]);
    }
}

/* Runs one round of jobs; returns their results combined in job order. */
static uint64_t mix_round(int reports[2], uint64_t *src, uint64_t round, uint64_t jobs,
                          uint64_t size)
{
    long pids[MIX_MAX_JOBS];
    uint64_t results[MIX_MAX_JOBS];
    bool have[MIX_MAX_JOBS];
    for (uint64_t j = 0; j < jobs; j++) {
        have[j] = false;
        long pid = u_check(u_fork(), SYS_FORK);
        if (pid == 0) {
            u_close(reports[0]);
            mix_job(reports[1], src, round, j, size);
        }
        pids[j] = pid;
    }
    for (uint64_t k = 0; k < jobs; k++) {
        uint64_t record[2];
        u_read_exact(reports[0], record, sizeof(record));
        if (record[0] >= jobs || have[record[0]])
            u_fail(CHECK_PIPE_SHORT, record[0], jobs);
        have[record[0]] = true;
        results[record[0]] = record[1];
    }
    for (uint64_t k = 0; k < jobs; k++) {
        uint64_t st;
        long pid = u_wait_any(&st);
        for (uint64_t j = 0; j < jobs; j++) {
            if (pids[j] == pid && st != results[j])
                u_fail(CHECK_CHILD_STATUS, st, results[j]);
        }
    }
    uint64_t h = 0;
    for (uint64_t j = 0; j < jobs; j++)
        h = u_mix(h, results[j]);
    return h;
}

uint64_t work_mix(uint64_t iters, uint64_t procs, uint64_t size)
{
    uint64_t jobs = procs < 1 ? 1 : (procs > MIX_MAX_JOBS ? MIX_MAX_JOBS : procs);
    if (size == 0)
        size = 1;
    uint64_t *src = u_sbrk(MIX_SRC_PAGES * TINYOS_PAGE_SIZE);
    for (uint64_t w = 0; w < MIX_SRC_PAGES * U_PAGE_WORDS; w++)
        src[w] = u_mix(0xb1dull, w);
    int reports[2];
    u_check(u_pipe(reports), SYS_PIPE);
    uint64_t h = 0;
    for (uint64_t round = 0; round < iters; round++) {
        uint64_t r = mix_round(reports, src, round, jobs, size);
        mix_check_sources(src, round, jobs);
        h = u_mix(h, r);
        /* make "relinks": its own write to the sources between rounds. */
        src[(round % MIX_SRC_PAGES) * U_PAGE_WORDS] ^= r;
    }
    u_close(reports[0]);
    u_close(reports[1]);
    return h;
}

/* ------------------------------------------------------------------ */
/* tlb, tlb2m: GUPS-like random updates (gups.h) over `size` pages.    */
/* ------------------------------------------------------------------ */

static uint64_t *tlb_heap_word(void *ctx, uint64_t index)
{
    return (uint64_t *)ctx + index;
}

static bool tlb_size_ok(uint64_t size)
{
    return size && !(size & (size - 1));
}

/* 4 KiB pages: the user heap, every page faulted in before the loop so
 * the loop measures translation, not demand paging. */
uint64_t work_tlb(uint64_t iters, uint64_t size)
{
    if (!tlb_size_ok(size))
        u_fail(CHECK_WORKLOAD, size, 0);
    uint64_t *heap = u_sbrk((long)(size * TINYOS_PAGE_SIZE));
    for (uint64_t p = 0; p < size; p++)
        heap[p * U_PAGE_WORDS] = 0;
    uint64_t h = gups_run(tlb_heap_word, heap, size, iters);
    u_sbrk(-(long)(size * TINYOS_PAGE_SIZE));
    return h & 0x7fffffffffffffffull;   /* as SYS_GUPS returns it: tlb and tlb2m agree */
}

/* 2 MiB pages: the kernel runs the same loop on its direct map. */
uint64_t work_tlb2m(uint64_t iters, uint64_t size)
{
    if (!tlb_size_ok(size))
        u_fail(CHECK_WORKLOAD, size, 0);
    return (uint64_t)u_check(u_syscall(SYS_GUPS, (long)size, (long)iters, 0), SYS_GUPS);
}

/* ------------------------------------------------------------------ */

static const char *user_workload_name(uint64_t workload)
{
    switch (workload) {
    case WORKLOAD_CTXSW:
        return "ctxsw";
    case WORKLOAD_FORK:
        return "fork";
    case WORKLOAD_MMAP:
        return "mmap";
    case WORKLOAD_PAGEFAULT:
        return "pagefault";
    case WORKLOAD_COMPUTE:
        return "compute";
    case WORKLOAD_MIX:
        return "mix";
    case WORKLOAD_TLB:
        return "tlb";
    case WORKLOAD_TLB2M:
        return "tlb2m";
    }
    return "?";
}

/* One console line from U-mode, through the write system call. */
static void user_announce(uint64_t workload, uint64_t iters, uint64_t procs, uint64_t size)
{
    char line[120];
    size_t pos = 0;
    line[0] = '\0';
    u_append(line, sizeof(line), &pos, "tinyos: start workload=");
    u_append(line, sizeof(line), &pos, user_workload_name(workload));
    u_append(line, sizeof(line), &pos, " iters=");
    u_append_u64(line, sizeof(line), &pos, iters);
    u_append(line, sizeof(line), &pos, " procs=");
    u_append_u64(line, sizeof(line), &pos, procs);
    u_append(line, sizeof(line), &pos, " size=");
    u_append_u64(line, sizeof(line), &pos, size);
    u_append(line, sizeof(line), &pos, "\n");
    u_print(line);
}

uint64_t user_main(uint64_t workload, uint64_t iters, uint64_t procs, uint64_t size)
{
    user_announce(workload, iters, procs, size);
    switch (workload) {
    case WORKLOAD_CTXSW:
        return work_ctxsw(iters, procs, size);
    case WORKLOAD_FORK:
        return work_fork(iters, size);
    case WORKLOAD_MMAP:
        return work_mmap(iters, size);
    case WORKLOAD_PAGEFAULT:
        return work_pagefault(iters, size);
    case WORKLOAD_COMPUTE:
        return work_compute(iters, procs, size);
    case WORKLOAD_MIX:
        return work_mix(iters, procs, size);
    case WORKLOAD_TLB:
        return work_tlb(iters, size);
    case WORKLOAD_TLB2M:
        return work_tlb2m(iters, size);
    }
    u_fail(CHECK_WORKLOAD, workload, 0);
}
