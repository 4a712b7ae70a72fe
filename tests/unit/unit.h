/*
 * unit.h — the host unit-test contract.  Each tests/unit/test_*.c defines
 * unit_main(), uses CHECK/CHECK_EQ, and the shared main() in unit.c prints
 * "<name>: N passed, M failed" as its last line and exits non-zero on failure.
 */
#ifndef UMBRA_TESTS_UNIT_H
#define UMBRA_TESTS_UNIT_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

extern int unit_passed, unit_failed;
void unit_main(void);

/* xorshift64 with a fixed seed: random tests repeat exactly run to run. */
uint64_t unit_random(void);

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (cond) {                                                           \
            unit_passed++;                                                    \
        } else {                                                              \
            unit_failed++;                                                    \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);   \
        }                                                                     \
    } while (0)

#define CHECK_EQ(a, b)                                                        \
    do {                                                                      \
        unsigned long long va_ = (unsigned long long)(a);                     \
        unsigned long long vb_ = (unsigned long long)(b);                     \
        if (va_ == vb_) {                                                     \
            unit_passed++;                                                    \
        } else {                                                              \
            unit_failed++;                                                    \
            fprintf(stderr, "FAIL %s:%d: %s == %s (0x%llx != 0x%llx)\n",      \
                    __FILE__, __LINE__, #a, #b, va_, vb_);                    \
        }                                                                     \
    } while (0)

/* Where panic() (unit.c) jumps while a test expects one. */
extern jmp_buf *unit_panic_jmp;

/* stmt must panic (an ASSERT on a caller's misuse, say). */
#define EXPECT_PANIC(stmt)                                \
    do {                                                  \
        jmp_buf jb_;                                      \
        bool panicked_ = false;                           \
        unit_panic_jmp = &jb_;                            \
        if (setjmp(jb_) == 0) {                           \
            stmt;                                         \
        } else {                                          \
            panicked_ = true;                             \
        }                                                 \
        unit_panic_jmp = NULL;                            \
        CHECK(panicked_);                                 \
    } while (0)

#endif
