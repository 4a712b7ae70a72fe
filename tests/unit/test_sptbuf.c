/* test_sptbuf.c — the SPT base address buffer: hits and misses, LRU
 * eviction order (including after hits reorder it), updates in place,
 * counters, key 0, the disabled buffer, size clamping and keep_if. */
#include <string.h>
#include "mm/sptbuf.h"
#include "tests/unit/unit.h"

static uint64_t key_of(unsigned n)
{
    return (8ull << 60) | ((uint64_t)n << 44) | (0x80000 + n);
}

static bool present(struct sptbuf *b, uint64_t key)
{
    /* Look without disturbing the counters or the LRU order. */
    for (uint64_t i = 0; i < b->size; i++)
        if (b->entries[i].key == key)
            return true;
    return false;
}

static void test_hit_miss(void)
{
    struct sptbuf b;
    sptbuf_init(&b, 4);
    CHECK_EQ(b.size, 4);
    CHECK(sptbuf_lookup(&b, key_of(1)) == NULL);
    CHECK_EQ(b.misses, 1);
    sptbuf_insert(&b, key_of(1), 0xaaa, 3);
    struct sptbuf_entry *e = sptbuf_lookup(&b, key_of(1));
    CHECK(e != NULL);
    CHECK_EQ(e->shadow_satp, 0xaaa);
    CHECK_EQ(e->root_index, 3);
    CHECK_EQ(b.hits, 1);
    CHECK_EQ(b.misses, 1);
    CHECK(sptbuf_lookup(&b, key_of(2)) == NULL);
    CHECK_EQ(b.misses, 2);
    /* Inserting an existing key updates it in place, no eviction. */
    sptbuf_insert(&b, key_of(1), 0xbbb, 5);
    e = sptbuf_lookup(&b, key_of(1));
    CHECK(e && e->shadow_satp == 0xbbb && e->root_index == 5);
    CHECK_EQ(b.evictions, 0);
    unsigned count = 0;
    for (unsigned i = 0; i < 4; i++)
        count += b.entries[i].key == key_of(1);
    CHECK_EQ(count, 1);
    /* Key 0 never matches, even though empty entries hold key 0. */
    CHECK(sptbuf_lookup(&b, 0) == NULL);
    sptbuf_insert(&b, 0, 0xccc, 1);
    CHECK(sptbuf_lookup(&b, 0) == NULL);
}

static void test_lru_eviction(void)
{
    struct sptbuf b;
    sptbuf_init(&b, 3);
    sptbuf_insert(&b, key_of(1), 1, 1);
    sptbuf_insert(&b, key_of(2), 2, 2);
    sptbuf_insert(&b, key_of(3), 3, 3);
    CHECK_EQ(b.evictions, 0);
    /* Full: the oldest (1) goes. */
    sptbuf_insert(&b, key_of(4), 4, 4);
    CHECK_EQ(b.evictions, 1);
    CHECK(!present(&b, key_of(1)) && present(&b, key_of(2)) && present(&b, key_of(3)) && present(&b, key_of(4)));
    /* A hit on 2 makes 3 the least recently used. */
    CHECK(sptbuf_lookup(&b, key_of(2)) != NULL);
    sptbuf_insert(&b, key_of(5), 5, 5);
    CHECK(!present(&b, key_of(3)) && present(&b, key_of(2)));
    /* Re-inserting 4 refreshes it: 2 is now the oldest. */
    sptbuf_insert(&b, key_of(4), 44, 4);
    sptbuf_insert(&b, key_of(6), 6, 6);
    CHECK(!present(&b, key_of(2)) && present(&b, key_of(4)) && present(&b, key_of(5)) && present(&b, key_of(6)));
    CHECK_EQ(b.evictions, 3);
    /* LRU stamps are the buffer clock: a hit stamps the newest value. */
    struct sptbuf_entry *e = sptbuf_lookup(&b, key_of(5));
    CHECK_EQ(e->last_used, b.clock);
}

static void test_disabled_and_clamped(void)
{
    struct sptbuf b;
    sptbuf_init(&b, 0);
    sptbuf_insert(&b, key_of(1), 1, 1);
    CHECK(sptbuf_lookup(&b, key_of(1)) == NULL);
    CHECK_EQ(b.hits, 0);
    CHECK_EQ(b.misses, 1);
    CHECK_EQ(b.entries[0].key, 0);

    sptbuf_init(&b, 1000);
    CHECK_EQ(b.size, SPTBUF_MAX);
    for (unsigned i = 1; i <= SPTBUF_MAX; i++)
        sptbuf_insert(&b, key_of(i), i, i % 7);
    CHECK_EQ(b.evictions, 0);
    for (unsigned i = 1; i <= SPTBUF_MAX; i++)
        CHECK(sptbuf_lookup(&b, key_of(i)) != NULL);
    sptbuf_insert(&b, key_of(SPTBUF_MAX + 1), 0, 0);
    CHECK_EQ(b.evictions, 1);
    CHECK(!present(&b, key_of(1)));

    /* Size 1: every new key evicts the previous one. */
    sptbuf_init(&b, 1);
    sptbuf_insert(&b, key_of(1), 1, 1);
    sptbuf_insert(&b, key_of(2), 2, 2);
    CHECK(!present(&b, key_of(1)) && present(&b, key_of(2)));
    CHECK_EQ(b.evictions, 1);
    /* Entries beyond size are never used. */
    CHECK_EQ(b.entries[1].key, 0);
}

static bool root_not_7_or_99(uint64_t key, uint64_t root_index, const void *ctx)
{
    (void)key;
    (void)ctx;
    return root_index != 7 && root_index != 99;
}

static bool key_not_5(uint64_t key, uint64_t root_index, const void *ctx)
{
    (void)root_index;
    return key != *(const uint64_t *)ctx;
}

static void test_keep_if(void)
{
    struct sptbuf b;
    sptbuf_init(&b, 4);
    sptbuf_insert(&b, key_of(1), 1, 7);
    sptbuf_insert(&b, key_of(2), 2, 8);
    sptbuf_insert(&b, key_of(3), 3, 7);
    sptbuf_keep_if(&b, root_not_7_or_99, NULL);
    CHECK(sptbuf_lookup(&b, key_of(1)) == NULL);
    CHECK(sptbuf_lookup(&b, key_of(3)) == NULL);
    CHECK(sptbuf_lookup(&b, key_of(2)) != NULL);
    /* The freed entries are reused before anything is evicted. */
    sptbuf_insert(&b, key_of(4), 4, 1);
    sptbuf_insert(&b, key_of(5), 5, 1);
    sptbuf_insert(&b, key_of(6), 6, 1);
    CHECK_EQ(b.evictions, 0);
    CHECK(present(&b, key_of(2)));
    sptbuf_keep_if(&b, root_not_7_or_99, NULL);
    CHECK(present(&b, key_of(4)) && present(&b, key_of(5)) && present(&b, key_of(6)));
    uint64_t five = key_of(5);
    sptbuf_keep_if(&b, key_not_5, &five);
    CHECK(!present(&b, key_of(5)) && present(&b, key_of(4)) && present(&b, key_of(6)));
}

void unit_main(void)
{
    test_hit_miss();
    test_lru_eviction();
    test_disabled_and_clamped();
    test_keep_if();
}
