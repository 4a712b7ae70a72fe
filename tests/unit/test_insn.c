/*
 * test_insn.c — the trap-and-emulate decoders against hand-assembled
 * encodings (each word worked out from the spec's field layouts and checked
 * against riscv64-unknown-elf-as -march=rv64gc), plus AMO and CSR arithmetic.
 */
#include <setjmp.h>
#include "core/portable/insn.h"
#include "tests/unit/unit.h"

extern jmp_buf *unit_panic_jmp;

struct store_case {
    uint32_t word;
    const char *text;
    enum store_kind kind;
    unsigned size, rs1, rs2, rd;
    int64_t offset;
    enum amo_op amo;
    unsigned length;
};

/* Register numbers by ABI name, so the table reads like the assembly. */
enum {
    ZERO = 0, RA = 1, SP = 2, GP = 3, T0 = 5, T1 = 6, T2 = 7, S0 = 8, S1 = 9,
    A0 = 10, A1 = 11, A2 = 12, A3 = 13, A4 = 14, A5 = 15, S2 = 18, S3 = 19,
    S4 = 20, S11 = 27, T6 = 31,
};

static const struct store_case store_cases[] = {
    /* Plain stores: every width, positive/negative/extreme immediates. */
    { 0x00b53823, "sd a1,16(a0)",     STORE_PLAIN, 8, A0, A1, 0, 16, 0, 4 },
    { 0xfff4bc23, "sd t6,-8(s1)",     STORE_PLAIN, 8, S1, T6, 0, -8, 0, 4 },
    { 0x7ec12fa3, "sw a2,2047(sp)",   STORE_PLAIN, 4, SP, A2, 0, 2047, 0, 4 },
    { 0x80c12023, "sw a2,-2048(sp)",  STORE_PLAIN, 4, SP, A2, 0, -2048, 0, 4 },
    { 0x00519323, "sh t0,6(gp)",      STORE_PLAIN, 2, GP, T0, 0, 6, 0, 4 },
    { 0xfe078fa3, "sb zero,-1(a5)",   STORE_PLAIN, 1, A5, ZERO, 0, -1, 0, 4 },
    { 0x01203023, "sd s2,0(zero)",    STORE_PLAIN, 8, ZERO, S2, 0, 0, 0, 4 },
    /* AMOs, .W and .D, including aq/rl bits and rd = x0. */
    { 0x08b6252f, "amoswap.w a0,a1,(a2)",     STORE_AMO, 4, A2, A1, A0, 0, AMO_SWAP, 4 },
    { 0x0e63b2af, "amoswap.d.aqrl t0,t1,(t2)", STORE_AMO, 8, T2, T1, T0, 0, AMO_SWAP, 4 },
    { 0x00e7a6af, "amoadd.w a3,a4,(a5)",      STORE_AMO, 4, A5, A4, A3, 0, AMO_ADD, 4 },
    { 0x0099302f, "amoadd.d zero,s1,(s2)",    STORE_AMO, 8, S2, S1, ZERO, 0, AMO_ADD, 4 },
    { 0x40b6252f, "amoor.w a0,a1,(a2)",       STORE_AMO, 4, A2, A1, A0, 0, AMO_OR, 4 },
    { 0x40b6352f, "amoor.d a0,a1,(a2)",       STORE_AMO, 8, A2, A1, A0, 0, AMO_OR, 4 },
    { 0x60b6252f, "amoand.w a0,a1,(a2)",      STORE_AMO, 4, A2, A1, A0, 0, AMO_AND, 4 },
    { 0x60b6352f, "amoand.d a0,a1,(a2)",      STORE_AMO, 8, A2, A1, A0, 0, AMO_AND, 4 },
    { 0x20b6252f, "amoxor.w a0,a1,(a2)",      STORE_AMO, 4, A2, A1, A0, 0, AMO_XOR, 4 },
    { 0x20b6352f, "amoxor.d a0,a1,(a2)",      STORE_AMO, 8, A2, A1, A0, 0, AMO_XOR, 4 },
    { 0x80b6252f, "amomin.w a0,a1,(a2)",      STORE_AMO, 4, A2, A1, A0, 0, AMO_MIN, 4 },
    { 0x80b6352f, "amomin.d a0,a1,(a2)",      STORE_AMO, 8, A2, A1, A0, 0, AMO_MIN, 4 },
    { 0xa0b6252f, "amomax.w a0,a1,(a2)",      STORE_AMO, 4, A2, A1, A0, 0, AMO_MAX, 4 },
    { 0xa0b6352f, "amomax.d a0,a1,(a2)",      STORE_AMO, 8, A2, A1, A0, 0, AMO_MAX, 4 },
    { 0xc0b6252f, "amominu.w a0,a1,(a2)",     STORE_AMO, 4, A2, A1, A0, 0, AMO_MINU, 4 },
    { 0xc0b6352f, "amominu.d a0,a1,(a2)",     STORE_AMO, 8, A2, A1, A0, 0, AMO_MINU, 4 },
    { 0xe0b6252f, "amomaxu.w a0,a1,(a2)",     STORE_AMO, 4, A2, A1, A0, 0, AMO_MAXU, 4 },
    { 0xe0b6352f, "amomaxu.d a0,a1,(a2)",     STORE_AMO, 8, A2, A1, A0, 0, AMO_MAXU, 4 },
    /* Store-conditionals. */
    { 0x18b522af, "sc.w t0,a1,(a0)",    STORE_SC, 4, A0, A1, T0, 0, 0, 4 },
    { 0x1b3a37af, "sc.d.rl a5,s3,(s4)", STORE_SC, 8, S4, S3, A5, 0, 0, 4 },
    /* Compressed stores: CS format registers are x8..x15, offsets scaled
     * and scrambled; CSS stores use sp and any rs2, x0 included. */
    { 0xc10c, "c.sw a1,0(a0)",     STORE_PLAIN, 4, A0, A1, 0, 0, 0, 2 },
    { 0xdc7c, "c.sw a5,124(s0)",   STORE_PLAIN, 4, S0, A5, 0, 124, 0, 2 },
    { 0xc264, "c.sw s1,68(a2)",    STORE_PLAIN, 4, A2, S1, 0, 68, 0, 2 },
    { 0xc1c8, "c.sw a0,4(a1)",     STORE_PLAIN, 4, A1, A0, 0, 4, 0, 2 },
    { 0xc1a8, "c.sw a0,64(a1)",    STORE_PLAIN, 4, A1, A0, 0, 64, 0, 2 },
    { 0xe10c, "c.sd a1,0(a0)",     STORE_PLAIN, 8, A0, A1, 0, 0, 0, 2 },
    { 0xfc7c, "c.sd a5,248(s0)",   STORE_PLAIN, 8, S0, A5, 0, 248, 0, 2 },
    { 0xe6c4, "c.sd s1,136(a3)",   STORE_PLAIN, 8, A3, S1, 0, 136, 0, 2 },
    { 0xe1a8, "c.sd a0,64(a1)",    STORE_PLAIN, 8, A1, A0, 0, 64, 0, 2 },
    { 0xc02a, "c.swsp a0,0(sp)",   STORE_PLAIN, 4, SP, A0, 0, 0, 0, 2 },
    { 0xdf86, "c.swsp ra,252(sp)", STORE_PLAIN, 4, SP, RA, 0, 252, 0, 2 },
    { 0xc602, "c.swsp zero,12(sp)", STORE_PLAIN, 4, SP, ZERO, 0, 12, 0, 2 },
    { 0xc12a, "c.swsp a0,128(sp)", STORE_PLAIN, 4, SP, A0, 0, 128, 0, 2 },
    { 0xe02a, "c.sdsp a0,0(sp)",   STORE_PLAIN, 8, SP, A0, 0, 0, 0, 2 },
    { 0xffee, "c.sdsp s11,504(sp)", STORE_PLAIN, 8, SP, S11, 0, 504, 0, 2 },
    { 0xe496, "c.sdsp t0,72(sp)",  STORE_PLAIN, 8, SP, T0, 0, 72, 0, 2 },
    { 0xe22a, "c.sdsp a0,256(sp)", STORE_PLAIN, 8, SP, A0, 0, 256, 0, 2 },
    /* A compressed store followed by other bits: only the low half counts. */
    { 0xdeadc10c, "c.sw a1,0(a0) + next", STORE_PLAIN, 4, A0, A1, 0, 0, 0, 2 },
};

static const uint32_t not_stores[] = {
    0x1005a52f, /* lr.w a0,(a1) */
    0x1005b52f, /* lr.d a0,(a1) */
    0x0085b503, /* ld a0,8(a1) */
    0x0085a503, /* lw a0,8(a1) */
    0xfff5c503, /* lbu a0,-1(a1) */
    0x00a5b427, /* fsd fa0,8(a1) */
    0x00a5a427, /* fsw fa0,8(a1) */
    0x00b54023, /* store funct3 100 (sq, RV128 only) */
    0x28b6252f, /* funct5 00101 (Zacas amocas.w) */
    0x00b6052f, /* amoadd with funct3 000 (Zabha .b) */
    0x18002573, /* csrr a0,satp */
    0x12000073, /* sfence.vma */
    0x00558513, /* addi a0,a1,5 */
    0x0ff0000f, /* fence */
    0x00000073, /* ecall */
    0x41c8,     /* c.lw a0,4(a1) */
    0x6588,     /* c.ld a0,8(a1) */
    0x4512,     /* c.lwsp a0,4(sp) */
    0x6522,     /* c.ldsp a0,8(sp) */
    0xa588,     /* c.fsd fa0,8(a1) */
    0xa42a,     /* c.fsdsp fa0,8(sp) */
    0x2588,     /* c.fld fa0,8(a1) */
    0x0505,     /* c.addi a0,1 */
    0x0001,     /* c.nop */
    0x852e,     /* c.mv a0,a1 */
    0x0000,     /* defined illegal instruction */
    0x8000,     /* quadrant 0, funct3 100: reserved in C */
};

static void check_store(const struct store_insn *got, const struct store_case *want)
{
    CHECK_EQ(got->kind, want->kind);
    CHECK_EQ(got->size, want->size);
    CHECK_EQ(got->rs1, want->rs1);
    CHECK_EQ(got->rs2, want->rs2);
    CHECK_EQ(got->rd, want->rd);
    CHECK_EQ(got->offset, want->offset);
    if (want->kind == STORE_AMO)
        CHECK_EQ(got->amo, want->amo);
    CHECK_EQ(got->length, want->length);
}

/* Loads, encodings from the GNU assembler for rv64gc (a0=10 a1=11 ...). */
struct load_case {
    uint32_t insn;
    struct load_insn want;
};

static const struct load_case load_cases[] = {
    { 0xfff58503, { 1, true, 10, 11, -1, 4 } },      /* lb a0,-1(a1) */
    { 0x00641283, { 2, true, 5, 8, 6, 4 } },         /* lh t0,6(s0) */
    { 0x7ff12783, { 4, true, 15, 2, 2047, 4 } },     /* lw a5,2047(sp) */
    { 0x80063483, { 8, true, 9, 12, -2048, 4 } },    /* ld s1,-2048(a2) */
    { 0x0005c503, { 1, false, 10, 11, 0, 4 } },      /* lbu a0,0(a1) */
    { 0x0025d503, { 2, false, 10, 11, 2, 4 } },      /* lhu a0,2(a1) */
    { 0x00c76683, { 4, false, 13, 14, 12, 4 } },     /* lwu a3,12(a4) */
    { 0x5de8, { 4, true, 10, 11, 124, 2 } },         /* c.lw a0,124(a1) */
    { 0x7cf0, { 8, true, 12, 9, 248, 2 } },          /* c.ld a2,248(s1) */
    { 0x57fe, { 4, true, 15, 2, 252, 2 } },          /* c.lwsp a5,252(sp) */
    { 0x70fe, { 8, true, 1, 2, 504, 2 } },           /* c.ldsp ra,504(sp) */
};

static void test_loads(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(load_cases); i++) {
        struct load_insn got;
        const struct load_insn *want = &load_cases[i].want;
        CHECK(insn_decode_load(load_cases[i].insn, &got));
        CHECK_EQ(got.size, want->size);
        CHECK_EQ(got.is_signed, want->is_signed);
        CHECK_EQ(got.rd, want->rd);
        CHECK_EQ(got.rs1, want->rs1);
        CHECK_EQ(got.offset, want->offset);
        CHECK_EQ(got.length, want->length);
    }
    struct load_insn l;
    CHECK(!insn_decode_load(0x00452507, &l));    /* flw fa0,4(a0) */
    CHECK(!insn_decode_load(0x0007f503, &l));    /* funct3 111: no such load */
    CHECK(!insn_decode_load(0x00b53023, &l));    /* sd a1,0(a0) */
    CHECK(!insn_decode_load(0x4002, &l));        /* c.lwsp x0: reserved */
    CHECK(!insn_decode_load(0x2588, &l));        /* c.fld */
    /* Stores are not loads, and loads are not stores. */
    struct store_insn st;
    CHECK(!insn_decode_store(0xfff58503, &st));
    /* Transformed: lw with rs1 = address offset 0, imm 0; bit 1 cleared for
     * a compressed original. */
    CHECK(insn_decode_transformed_load(0x00002503, &l));
    CHECK_EQ(l.size, 4);
    CHECK_EQ(l.rd, 10);
    CHECK_EQ(l.length, 4);
    CHECK(insn_decode_transformed_load(0x00003501, &l));   /* c.ld a0 expanded, bit 1 clear */
    CHECK_EQ(l.size, 8);
    CHECK_EQ(l.length, 2);
    CHECK(!insn_decode_transformed_load(0x00b53023, &l));  /* a store */
    CHECK(!insn_decode_transformed_load(0x3000, &l));      /* walk pseudo-instruction */
    CHECK(!insn_decode_transformed_load(0x100002503ull, &l));
    /* Extension of the value read. */
    CHECK(insn_decode_load(0xfff58503, &l));                /* lb */
    CHECK_EQ(load_insn_value(&l, 0x80), 0xffffffffffffff80ull);
    CHECK(insn_decode_load(0x0005c503, &l));                /* lbu */
    CHECK_EQ(load_insn_value(&l, 0x1ff), 0xff);
    CHECK(insn_decode_load(0x7ff12783, &l));                /* lw */
    CHECK_EQ(load_insn_value(&l, 0x80000000ull), 0xffffffff80000000ull);
    CHECK(insn_decode_load(0x00c76683, &l));                /* lwu */
    CHECK_EQ(load_insn_value(&l, 0x80000000ull), 0x80000000ull);
    CHECK(insn_decode_load(0x80063483, &l));                /* ld */
    CHECK_EQ(load_insn_value(&l, 0x8000000000000001ull), 0x8000000000000001ull);
}

static void test_length(void)
{
    CHECK_EQ(insn_length(0x0000), 2);
    CHECK_EQ(insn_length(0x8082), 2);   /* c.ret, quadrant 2 */
    CHECK_EQ(insn_length(0x0505), 2);   /* quadrant 1 */
    CHECK_EQ(insn_length(0x3823), 4);   /* low half of sd a1,16(a0) */
    CHECK_EQ(insn_length(0xffff), 4);
}

static void test_stores(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(store_cases); i++) {
        struct store_insn got;
        bool ok = insn_decode_store(store_cases[i].word, &got);
        if (!ok)
            fprintf(stderr, "not decoded: %s\n", store_cases[i].text);
        CHECK(ok);
        if (ok)
            check_store(&got, &store_cases[i]);
    }
    for (size_t i = 0; i < ARRAY_SIZE(not_stores); i++) {
        struct store_insn got;
        bool ok = insn_decode_store(not_stores[i], &got);
        if (ok)
            fprintf(stderr, "wrongly decoded as a store: 0x%08x\n", not_stores[i]);
        CHECK(!ok);
    }
}

static void test_store_value(void)
{
    struct store_insn s;
    CHECK(insn_decode_store(0xfe078fa3, &s));  /* sb */
    CHECK_EQ(store_insn_value(&s, 0x1122334455667788ull), 0x88);
    CHECK(insn_decode_store(0x00519323, &s));  /* sh */
    CHECK_EQ(store_insn_value(&s, 0x1122334455667788ull), 0x7788);
    CHECK(insn_decode_store(0xc10c, &s));      /* c.sw */
    CHECK_EQ(store_insn_value(&s, 0x1122334455667788ull), 0x55667788);
    CHECK(insn_decode_store(0xe10c, &s));      /* c.sd */
    CHECK_EQ(store_insn_value(&s, 0x1122334455667788ull), 0x1122334455667788ull);
}

/* htinst values built by the spec's recipe: rs1 -> address offset, store
 * immediates -> 0, and for compressed originals the 32-bit expansion with
 * bit 1 cleared. */
static void test_transformed(void)
{
    struct store_insn s;

    /* sd a1,16(a0): transformed = sd a1,0(zero) = 0x00b03023. */
    CHECK(insn_decode_transformed_store(0x00b03023, &s));
    CHECK_EQ(s.kind, STORE_PLAIN);
    CHECK_EQ(s.size, 8);
    CHECK_EQ(s.rs2, A1);
    CHECK_EQ(s.rs1, 0);
    CHECK_EQ(s.offset, 0);
    CHECK_EQ(s.length, 4);
    CHECK_EQ(insn_transformed_addr_offset(0x00b03023), 0);

    /* c.sdsp s11,504(sp) -> sd s11,504(sp) -> 0x01b03023 -> bit 1 cleared. */
    CHECK(insn_decode_transformed_store(0x01b03021, &s));
    CHECK_EQ(s.kind, STORE_PLAIN);
    CHECK_EQ(s.size, 8);
    CHECK_EQ(s.rs2, S11);
    CHECK_EQ(s.length, 2);

    /* c.sw a5,124(s0) -> sw a5,124(s0) -> 0x00f02023 -> 0x00f02021. */
    CHECK(insn_decode_transformed_store(0x00f02021, &s));
    CHECK_EQ(s.size, 4);
    CHECK_EQ(s.rs2, A5);
    CHECK_EQ(s.length, 2);

    /* Misaligned sw split by the hart: address offset 2 in bits 19:15. */
    CHECK(insn_decode_transformed_store(0x00f02023 | (2u << 15), &s));
    CHECK_EQ(s.rs1, 0);
    CHECK_EQ(s.size, 4);
    CHECK_EQ(insn_transformed_addr_offset(0x00f02023 | (2u << 15)), 2);

    /* The zeroed immediate fields may carry future hints: ignored. */
    CHECK(insn_decode_transformed_store(0x00b03023 | (5u << 7), &s));
    CHECK_EQ(s.offset, 0);

    /* amoswap.d.aqrl t0,t1,(t2): rs1 (t2) -> offset 0 gives 0x0e6032af. */
    CHECK(insn_decode_transformed_store(0x0e6032af, &s));
    CHECK_EQ(s.kind, STORE_AMO);
    CHECK_EQ(s.amo, AMO_SWAP);
    CHECK_EQ(s.size, 8);
    CHECK_EQ(s.rd, T0);
    CHECK_EQ(s.rs2, T1);
    CHECK_EQ(s.rs1, 0);
    CHECK_EQ(s.length, 4);
    /* ... and the same with an address offset of 3. */
    CHECK(insn_decode_transformed_store(0x0e6032af | (3u << 15), &s));
    CHECK_EQ(s.rs1, 0);
    CHECK_EQ(insn_transformed_addr_offset(0x0e6032af | (3u << 15)), 3);

    /* sc.w t0,a1,(a0) -> 0x18b022af. */
    CHECK(insn_decode_transformed_store(0x18b022af, &s));
    CHECK_EQ(s.kind, STORE_SC);
    CHECK_EQ(s.size, 4);
    CHECK_EQ(s.rd, T0);
    CHECK_EQ(s.rs2, A1);

    /* Rejected: no information, pseudoinstructions, loads/LR/FP stores,
     * bits 1:0 = 10, upper bits set, compressed atomics (none exist). */
    static const uint64_t rejected[] = {
        0, 0x2000, 0x2020, 0x3000, 0x3020,
        0x00003503,              /* ld a0 transformed */
        0x00003501,              /* c.ld transformed */
        0x100022af,              /* lr.w t0 transformed */
        0x00a03027,              /* fsd fa0 transformed */
        0x00a03025,              /* c.fsd transformed */
        0x00b03022,              /* bits 1:0 = 10 */
        0x100000000ull | 0x00b03023,
        0x8000000000000000ull | 0x0e6032af,
        0x0e6032ad,              /* "compressed" amoswap.d */
        0x12000073,              /* sfence.vma: no transformation defined */
    };
    for (size_t i = 0; i < ARRAY_SIZE(rejected); i++)
        CHECK(!insn_decode_transformed_store(rejected[i], &s));
}

static void test_amo_compute(void)
{
    const uint64_t neg1_w = 0xffffffffull;  /* -1 as a 32-bit memory value */

    /* .W: only low 32 bits count; result is the 32-bit memory value. */
    CHECK_EQ(amo_compute(AMO_ADD, 4, 0x7fffffff, 1), 0x80000000ull);
    CHECK_EQ(amo_compute(AMO_ADD, 4, 0xdeadbeef00000001ull, 0x1234567800000002ull), 3);
    CHECK_EQ(amo_compute(AMO_ADD, 4, neg1_w, 1), 0);
    CHECK_EQ(amo_compute(AMO_SWAP, 4, 5, 0xffffffff12345678ull), 0x12345678);
    CHECK_EQ(amo_compute(AMO_XOR, 4, 0xf0f0f0f0, 0xffffffffffffffffull), 0x0f0f0f0f);
    CHECK_EQ(amo_compute(AMO_AND, 4, 0xffffffffffffffffull, 0xffffffff0000ffffull), 0xffff);
    CHECK_EQ(amo_compute(AMO_OR, 4, 0x0000ff00, 0xff000000000000ffull), 0xffff);

    /* Signed vs unsigned 32-bit comparisons. */
    CHECK_EQ(amo_compute(AMO_MIN, 4, neg1_w, 1), neg1_w);
    CHECK_EQ(amo_compute(AMO_MINU, 4, neg1_w, 1), 1);
    CHECK_EQ(amo_compute(AMO_MAX, 4, neg1_w, 1), 1);
    CHECK_EQ(amo_compute(AMO_MAXU, 4, neg1_w, 1), neg1_w);
    /* 0x80000000 is INT32_MIN, though as a 64-bit value it exceeds 5. */
    CHECK_EQ(amo_compute(AMO_MIN, 4, 0x80000000, 5), 0x80000000);
    CHECK_EQ(amo_compute(AMO_MAX, 4, 0x80000000, 5), 5);
    /* rs2's upper bits are ignored: 0x1_00000000 is 0 as a word. */
    CHECK_EQ(amo_compute(AMO_MAXU, 4, 5, 0x100000000ull), 5);
    CHECK_EQ(amo_compute(AMO_MINU, 4, 5, 0x100000000ull), 0);
    /* A sign-extended register operand behaves like its 32-bit value. */
    CHECK_EQ(amo_compute(AMO_MIN, 4, 3, 0xfffffffffffffffeull), 0xfffffffe);

    /* .D */
    CHECK_EQ(amo_compute(AMO_ADD, 8, ~0ull, 1), 0);
    CHECK_EQ(amo_compute(AMO_ADD, 8, 0xffffffffull, 1), 0x100000000ull);
    CHECK_EQ(amo_compute(AMO_SWAP, 8, 1, 0xdeadbeefcafef00dull), 0xdeadbeefcafef00dull);
    CHECK_EQ(amo_compute(AMO_MIN, 8, 0x8000000000000000ull, 1), 0x8000000000000000ull);
    CHECK_EQ(amo_compute(AMO_MINU, 8, 0x8000000000000000ull, 1), 1);
    CHECK_EQ(amo_compute(AMO_MAX, 8, 0x8000000000000000ull, 1), 1);
    CHECK_EQ(amo_compute(AMO_MAXU, 8, 0x8000000000000000ull, 1), 0x8000000000000000ull);
    /* A .W-sized negative is positive as a doubleword. */
    CHECK_EQ(amo_compute(AMO_MIN, 8, neg1_w, 1), 1);
    CHECK_EQ(amo_compute(AMO_AND, 8, 0xff00ff00ff00ff00ull, 0x0ff00ff00ff00ff0ull),
             0x0f000f000f000f00ull);
    CHECK_EQ(amo_compute(AMO_OR, 8, 0xff00000000000000ull, 1), 0xff00000000000001ull);
    CHECK_EQ(amo_compute(AMO_XOR, 8, 0xff00000000000001ull, 0xff00000000000000ull), 1);

    /* rd gets the old value, sign-extended for .W. */
    CHECK_EQ(amo_result(4, 0x80000000), 0xffffffff80000000ull);
    CHECK_EQ(amo_result(4, 0x123456787fffffffull), 0x7fffffff);
    CHECK_EQ(amo_result(8, 0x80000000), 0x80000000);
    CHECK_EQ(amo_result(8, 0xfedcba9876543210ull), 0xfedcba9876543210ull);

    /* A size that no AMO has is a caller bug. */
    jmp_buf jb;
    unit_panic_jmp = &jb;
    volatile bool panicked = false;
    if (setjmp(jb) == 0)
        (void)amo_compute(AMO_ADD, 2, 1, 1);
    else
        panicked = true;
    unit_panic_jmp = NULL;
    CHECK(panicked);
}

static void test_sfence(void)
{
    static const struct { uint32_t word; unsigned rs1, rs2; } forms[] = {
        { 0x12000073, 0, 0 },    /* sfence.vma */
        { 0x12050073, A0, 0 },   /* sfence.vma a0 */
        { 0x12b50073, A0, A1 },  /* sfence.vma a0,a1 */
        { 0x12b00073, 0, A1 },   /* sfence.vma zero,a1 */
    };
    for (size_t i = 0; i < ARRAY_SIZE(forms); i++) {
        unsigned rs1 = 99, rs2 = 99;
        CHECK(insn_decode_sfence_vma(forms[i].word, &rs1, &rs2));
        CHECK_EQ(rs1, forms[i].rs1);
        CHECK_EQ(rs2, forms[i].rs2);
    }
    static const uint32_t others[] = {
        0x22b50073,  /* hfence.vvma a0,a1 */
        0x62b50073,  /* hfence.gvma a0,a1 */
        0x16b50073,  /* sinval.vma a0,a1 */
        0x12000573,  /* sfence.vma encoding with rd = a0: reserved */
        0x10200073,  /* sret */
        0x10500073,  /* wfi */
        0x00000073,  /* ecall */
        0x18051073,  /* csrw satp,a0 */
        0x12000033,  /* same funct7 on the OP opcode */
    };
    for (size_t i = 0; i < ARRAY_SIZE(others); i++) {
        unsigned rs1, rs2;
        CHECK(!insn_decode_sfence_vma(others[i], &rs1, &rs2));
    }
}

static void test_csr_decode(void)
{
    static const struct {
        uint32_t word;
        enum csr_op_kind op;
        unsigned csr, rd;
        bool imm;
        unsigned src;
    } forms[] = {
        { 0x18002573, CSR_RS, 0x180, A0, false, 0 },    /* csrr a0,satp */
        { 0x18051073, CSR_RW, 0x180, 0, false, A0 },    /* csrw satp,a0 */
        { 0x180592f3, CSR_RW, 0x180, T0, false, A1 },   /* csrrw t0,satp,a1 */
        { 0x1806a673, CSR_RS, 0x180, A2, false, A3 },   /* csrrs a2,satp,a3 */
        { 0x1807b773, CSR_RC, 0x180, A4, false, A5 },   /* csrrc a4,satp,a5 */
        { 0x180fd073, CSR_RW, 0x180, 0, true, 31 },     /* csrrwi zero,satp,31 */
        { 0x1802e573, CSR_RS, 0x180, A0, true, 5 },     /* csrrsi a0,satp,5 */
        { 0x180075f3, CSR_RC, 0x180, A1, true, 0 },     /* csrrci a1,satp,0 */
        { 0x1801f5f3, CSR_RC, 0x180, A1, true, 3 },     /* csrrci a1,satp,3 */
        { 0x18052073, CSR_RS, 0x180, 0, false, A0 },    /* csrs satp,a0 */
        { 0x18053073, CSR_RC, 0x180, 0, false, A0 },    /* csrc satp,a0 */
        { 0x10002573, CSR_RS, 0x100, A0, false, 0 },    /* csrr a0,sstatus */
    };
    for (size_t i = 0; i < ARRAY_SIZE(forms); i++) {
        struct csr_insn c;
        CHECK(insn_decode_csr(forms[i].word, &c));
        CHECK_EQ(c.op, forms[i].op);
        CHECK_EQ(c.csr, forms[i].csr);
        CHECK_EQ(c.rd, forms[i].rd);
        CHECK_EQ(c.imm, forms[i].imm);
        CHECK_EQ(c.rs1_or_uimm, forms[i].src);
    }
    static const uint32_t others[] = {
        0x12000073,  /* sfence.vma */
        0x10200073,  /* sret */
        0x10500073,  /* wfi */
        0x00000073,  /* ecall */
        0x6c05c573,  /* hlv.d a0,(a1): SYSTEM funct3 100 */
        0x18052033,  /* CSR-shaped bits on the OP opcode */
        0x00b53823,  /* sd */
    };
    for (size_t i = 0; i < ARRAY_SIZE(others); i++) {
        struct csr_insn c;
        CHECK(!insn_decode_csr(others[i], &c));
    }
}

static void test_csr_apply(void)
{
    struct csr_insn c;
    bool writes;

    /* csrw satp,a0: writes the register value, does not read (rd = x0). */
    CHECK(insn_decode_csr(0x18051073, &c));
    CHECK_EQ(csr_apply(&c, 0x1111, 0x8000000000012345ull, &writes), 0x8000000000012345ull);
    CHECK(writes);
    CHECK(!csr_insn_reads(&c));

    /* csrrw t0,satp,a1 reads and writes. */
    CHECK(insn_decode_csr(0x180592f3, &c));
    CHECK_EQ(csr_apply(&c, 0x1111, 0, &writes), 0);
    CHECK(writes);
    CHECK(csr_insn_reads(&c));

    /* csrr a0,satp: reads, no write. */
    CHECK(insn_decode_csr(0x18002573, &c));
    CHECK_EQ(csr_apply(&c, 0x1234, 0xffff, &writes), 0x1234);
    CHECK(!writes);
    CHECK(csr_insn_reads(&c));

    /* csrrs a2,satp,a3 with a3 = 0 still writes (rs1 is not x0). */
    CHECK(insn_decode_csr(0x1806a673, &c));
    CHECK_EQ(csr_apply(&c, 0x1234, 0, &writes), 0x1234);
    CHECK(writes);
    CHECK_EQ(csr_apply(&c, 0x1200, 0x0034, &writes), 0x1234);

    /* csrrc a4,satp,a5 clears bits. */
    CHECK(insn_decode_csr(0x1807b773, &c));
    CHECK_EQ(csr_apply(&c, 0xff, 0x0f, &writes), 0xf0);
    CHECK(writes);

    /* csrrwi zero,satp,31 writes the immediate, does not read. */
    CHECK(insn_decode_csr(0x180fd073, &c));
    CHECK_EQ(csr_apply(&c, 0xabc, c.rs1_or_uimm, &writes), 31);
    CHECK(writes);
    CHECK(!csr_insn_reads(&c));

    /* csrrsi a0,satp,5 */
    CHECK(insn_decode_csr(0x1802e573, &c));
    CHECK_EQ(csr_apply(&c, 0x10, c.rs1_or_uimm, &writes), 0x15);
    CHECK(writes);

    /* csrrci a1,satp,0: no write; csrrci a1,satp,3: clears bits 1:0. */
    CHECK(insn_decode_csr(0x180075f3, &c));
    CHECK_EQ(csr_apply(&c, 0xff, c.rs1_or_uimm, &writes), 0xff);
    CHECK(!writes);
    CHECK(insn_decode_csr(0x1801f5f3, &c));
    CHECK_EQ(csr_apply(&c, 0xff, c.rs1_or_uimm, &writes), 0xfc);
    CHECK(writes);

    /* writes may be NULL. */
    CHECK(insn_decode_csr(0x18052073, &c));  /* csrs satp,a0 */
    CHECK_EQ(csr_apply(&c, 0x1, 0x2, NULL), 0x3);
}

void unit_main(void)
{
    test_length();
    test_stores();
    test_loads();
    test_store_value();
    test_transformed();
    test_amo_compute();
    test_sfence();
    test_csr_decode();
    test_csr_apply();
}
