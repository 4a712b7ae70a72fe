/*
 * insn.c — the instruction decoders and AMO/CSR arithmetic behind Umbra's
 * trap-and-emulate paths (see insn.h).  Encodings follow the RISC-V
 * unprivileged spec (RV64I stores, A, C, Zicsr) and the privileged spec
 * (SFENCE.VMA, the H extension's transformed instructions for htinst).
 */
#include "core/portable/insn.h"

#define OPCODE_LOAD   0x03u
#define OPCODE_STORE  0x23u
#define OPCODE_AMO    0x2fu
#define OPCODE_SYSTEM 0x73u

/* funct5 (bits 31:27) of the A extension's instructions. */
#define FUNCT5_AMOADD  0x00u
#define FUNCT5_AMOSWAP 0x01u
#define FUNCT5_LR      0x02u
#define FUNCT5_SC      0x03u
#define FUNCT5_AMOXOR  0x04u
#define FUNCT5_AMOOR   0x08u
#define FUNCT5_AMOAND  0x0cu
#define FUNCT5_AMOMIN  0x10u
#define FUNCT5_AMOMAX  0x14u
#define FUNCT5_AMOMINU 0x18u
#define FUNCT5_AMOMAXU 0x1cu

/* SFENCE.VMA is funct7 0001001 with funct3 = 0, rd = 0 and opcode SYSTEM;
 * the mask keeps rs1/rs2 out of the comparison. */
#define SFENCE_VMA_MASK  0xfe007fffu
#define SFENCE_VMA_MATCH 0x12000073u

/* Bits hi..lo of v, shifted down to bit 0. */
static inline uint32_t insn_bits(uint32_t v, unsigned hi, unsigned lo)
{
    return (v >> lo) & ((1u << (hi - lo + 1)) - 1);
}

static inline int64_t sign_extend(uint64_t v, unsigned width)
{
    uint64_t sign = 1ull << (width - 1);
    v &= (sign << 1) - 1;
    return (int64_t)((v ^ sign) - sign);
}

unsigned insn_length(uint16_t low)
{
    return (low & 3u) == 3u ? 4 : 2;
}

static void store_init(struct store_insn *out, enum store_kind kind, unsigned size,
                       unsigned length)
{
    *out = (struct store_insn){ .kind = kind, .size = size, .length = length };
}

/* --- 32-bit stores and atomics -------------------------------------------- */

/* SB/SH/SW/SD: funct3 is log2 of the size; 100..111 are not RV64 stores. */
static bool decode_plain_store(uint32_t insn, unsigned length, struct store_insn *out)
{
    unsigned funct3 = insn_bits(insn, 14, 12);
    if (funct3 > 3)
        return false;
    store_init(out, STORE_PLAIN, 1u << funct3, length);
    out->rs1 = insn_bits(insn, 19, 15);
    out->rs2 = insn_bits(insn, 24, 20);
    uint32_t imm = (insn_bits(insn, 31, 25) << 5) | insn_bits(insn, 11, 7);
    out->offset = sign_extend(imm, 12);
    return true;
}

static bool amo_op_from_funct5(unsigned funct5, enum amo_op *op)
{
    switch (funct5) {
    case FUNCT5_AMOSWAP: *op = AMO_SWAP; return true;
    case FUNCT5_AMOADD:  *op = AMO_ADD;  return true;
    case FUNCT5_AMOXOR:  *op = AMO_XOR;  return true;
    case FUNCT5_AMOAND:  *op = AMO_AND;  return true;
    case FUNCT5_AMOOR:   *op = AMO_OR;   return true;
    case FUNCT5_AMOMIN:  *op = AMO_MIN;  return true;
    case FUNCT5_AMOMAX:  *op = AMO_MAX;  return true;
    case FUNCT5_AMOMINU: *op = AMO_MINU; return true;
    case FUNCT5_AMOMAXU: *op = AMO_MAXU; return true;
    default:             return false;
    }
}

/* AMO*.W/D and SC.W/D.  LR only reads, so it is not a store; other widths
 * (Zabha's .B/.H) and funct5 values (Zacas) are not handled. */
static bool decode_atomic(uint32_t insn, unsigned length, struct store_insn *out)
{
    unsigned funct3 = insn_bits(insn, 14, 12);
    if (funct3 != 2 && funct3 != 3)
        return false;
    unsigned funct5 = insn_bits(insn, 31, 27);
    enum amo_op op = AMO_SWAP;
    enum store_kind kind;
    if (funct5 == FUNCT5_SC)
        kind = STORE_SC;
    else if (amo_op_from_funct5(funct5, &op))
        kind = STORE_AMO;
    else
        return false;
    store_init(out, kind, 1u << funct3, length);
    out->amo = op;
    out->rd = insn_bits(insn, 11, 7);
    out->rs1 = insn_bits(insn, 19, 15);
    out->rs2 = insn_bits(insn, 24, 20);
    return true;
}

/* --- compressed stores ------------------------------------------------------ */

/* CS format (C.SW, C.SD): 3-bit register fields name x8..x15. */
static void decode_cs_regs(uint16_t c, struct store_insn *out)
{
    out->rs1 = 8 + insn_bits(c, 9, 7);
    out->rs2 = 8 + insn_bits(c, 4, 2);
}

/* Quadrant 0: C.SW (funct3 110) and C.SD (111).  C.FSD (101) and the
 * loads are not integer stores. */
static bool decode_compressed_q0(uint16_t c, struct store_insn *out)
{
    switch (insn_bits(c, 15, 13)) {
    case 6:  /* C.SW: offset[5:3] = 12:10, offset[2] = 6, offset[6] = 5 */
        store_init(out, STORE_PLAIN, 4, 2);
        decode_cs_regs(c, out);
        out->offset = (insn_bits(c, 12, 10) << 3) | (insn_bits(c, 6, 6) << 2) |
                      (insn_bits(c, 5, 5) << 6);
        return true;
    case 7:  /* C.SD: offset[5:3] = 12:10, offset[7:6] = 6:5 */
        store_init(out, STORE_PLAIN, 8, 2);
        decode_cs_regs(c, out);
        out->offset = (insn_bits(c, 12, 10) << 3) | (insn_bits(c, 6, 5) << 6);
        return true;
    default:
        return false;
    }
}

/* Quadrant 2: C.SWSP (110) and C.SDSP (111), CSS format with sp as base
 * and a full 5-bit rs2 (x0 allowed: it stores zero). */
static bool decode_compressed_q2(uint16_t c, struct store_insn *out)
{
    switch (insn_bits(c, 15, 13)) {
    case 6:  /* C.SWSP: offset[5:2] = 12:9, offset[7:6] = 8:7 */
        store_init(out, STORE_PLAIN, 4, 2);
        out->offset = (insn_bits(c, 12, 9) << 2) | (insn_bits(c, 8, 7) << 6);
        break;
    case 7:  /* C.SDSP: offset[5:3] = 12:10, offset[8:6] = 9:7 */
        store_init(out, STORE_PLAIN, 8, 2);
        out->offset = (insn_bits(c, 12, 10) << 3) | (insn_bits(c, 9, 7) << 6);
        break;
    default:
        return false;
    }
    out->rs1 = 2;
    out->rs2 = insn_bits(c, 6, 2);
    return true;
}

static bool decode_compressed_store(uint16_t c, struct store_insn *out)
{
    switch (c & 3u) {
    case 0:  return decode_compressed_q0(c, out);
    case 2:  return decode_compressed_q2(c, out);
    default: return false;  /* quadrant 1 has no loads or stores */
    }
}

bool insn_decode_store(uint32_t insn, struct store_insn *out)
{
    if (insn_length((uint16_t)insn) == 2)
        return decode_compressed_store((uint16_t)insn, out);
    switch (insn & 0x7fu) {
    case OPCODE_STORE: return decode_plain_store(insn, 4, out);
    case OPCODE_AMO:   return decode_atomic(insn, 4, out);
    default:           return false;
    }
}

/* --- transformed instructions (htinst) ---------------------------------- */

unsigned insn_transformed_addr_offset(uint64_t htinst)
{
    return insn_bits((uint32_t)htinst, 19, 15);
}

/* The hart writes, for a store or atomic that faulted, the instruction (the
 * 32-bit expansion of a compressed one) with rs1 replaced by the address
 * offset and a store's immediate zeroed, then clears bit 1 if the original
 * was compressed.  Setting bit 1 again must give a standard instruction;
 * upper bits set mean a future format we must treat as "no information". */
bool insn_decode_transformed_store(uint64_t htinst, struct store_insn *out)
{
    if ((htinst >> 32) != 0 || (htinst & 1u) == 0)
        return false;
    uint32_t insn = (uint32_t)htinst | 2u;
    unsigned length = (htinst & 2u) ? 4 : 2;
    bool ok;
    switch (insn & 0x7fu) {
    case OPCODE_STORE:
        ok = decode_plain_store(insn, length, out);
        break;
    case OPCODE_AMO:
        /* No compressed atomics exist, so "compressed AMO" is not a value a
         * conforming hart writes. */
        ok = length == 4 && decode_atomic(insn, length, out);
        break;
    default:
        ok = false;
        break;
    }
    if (!ok)
        return false;
    /* The fields that held them now hold the address offset and zeros. */
    out->rs1 = 0;
    out->offset = 0;
    return true;
}

uint64_t store_insn_value(const struct store_insn *s, uint64_t rs2_value)
{
    if (s->size >= 8)
        return rs2_value;
    return rs2_value & ((1ull << (s->size * 8)) - 1);
}

/* --- loads (MMIO emulation) ------------------------------------------------ */

/* LB/LH/LW/LD/LBU/LHU/LWU: funct3 bit 2 = zero-extend, bits 1:0 = log2 of
 * the size; 111 (LDU) does not exist. */
static bool decode_plain_load(uint32_t insn, unsigned length, struct load_insn *out)
{
    unsigned funct3 = insn_bits(insn, 14, 12);
    if (funct3 == 7)
        return false;
    *out = (struct load_insn){
        .size = 1u << (funct3 & 3u),
        .is_signed = (funct3 & 4u) == 0,
        .rd = insn_bits(insn, 11, 7),
        .rs1 = insn_bits(insn, 19, 15),
        .offset = sign_extend(insn_bits(insn, 31, 20), 12),
        .length = length,
    };
    return true;
}

/* C.LW (quadrant 0, 010), C.LD (011): CL format, registers x8..x15. */
static bool decode_compressed_load_q0(uint16_t c, struct load_insn *out)
{
    unsigned funct3 = insn_bits(c, 15, 13);
    if (funct3 != 2 && funct3 != 3)
        return false;
    *out = (struct load_insn){ .size = funct3 == 2 ? 4 : 8, .is_signed = true, .length = 2,
                               .rd = 8 + insn_bits(c, 4, 2), .rs1 = 8 + insn_bits(c, 9, 7) };
    out->offset = funct3 == 2 ? (insn_bits(c, 12, 10) << 3) | (insn_bits(c, 6, 6) << 2) |
                                    (insn_bits(c, 5, 5) << 6)
                              : (insn_bits(c, 12, 10) << 3) | (insn_bits(c, 6, 5) << 6);
    return true;
}

/* C.LWSP (quadrant 2, 010), C.LDSP (011): base sp; rd = x0 is reserved. */
static bool decode_compressed_load_q2(uint16_t c, struct load_insn *out)
{
    unsigned funct3 = insn_bits(c, 15, 13);
    unsigned rd = insn_bits(c, 11, 7);
    if ((funct3 != 2 && funct3 != 3) || rd == 0)
        return false;
    *out = (struct load_insn){ .size = funct3 == 2 ? 4 : 8, .is_signed = true, .length = 2,
                               .rd = rd, .rs1 = 2 };
    out->offset = funct3 == 2 ? (insn_bits(c, 12, 12) << 5) | (insn_bits(c, 6, 4) << 2) |
                                    (insn_bits(c, 3, 2) << 6)
                              : (insn_bits(c, 12, 12) << 5) | (insn_bits(c, 6, 5) << 3) |
                                    (insn_bits(c, 4, 2) << 6);
    return true;
}

bool insn_decode_load(uint32_t insn, struct load_insn *out)
{
    if (insn_length((uint16_t)insn) == 2) {
        uint16_t c = (uint16_t)insn;
        switch (c & 3u) {
        case 0:  return decode_compressed_load_q0(c, out);
        case 2:  return decode_compressed_load_q2(c, out);
        default: return false;
        }
    }
    return (insn & 0x7fu) == OPCODE_LOAD && decode_plain_load(insn, 4, out);
}

bool insn_decode_transformed_load(uint64_t htinst, struct load_insn *out)
{
    if ((htinst >> 32) != 0 || (htinst & 1u) == 0)
        return false;
    uint32_t insn = (uint32_t)htinst | 2u;
    if ((insn & 0x7fu) != OPCODE_LOAD || !decode_plain_load(insn, (htinst & 2u) ? 4 : 2, out))
        return false;
    out->rs1 = 0;        /* holds the address offset */
    out->offset = 0;
    return true;
}

uint64_t load_insn_value(const struct load_insn *l, uint64_t raw)
{
    if (l->size >= 8)
        return raw;
    raw &= (1ull << (l->size * 8)) - 1;
    return l->is_signed ? (uint64_t)sign_extend(raw, l->size * 8) : raw;
}

/* --- AMO arithmetic ----------------------------------------------------- */

uint64_t amo_result(unsigned size, uint64_t old)
{
    ASSERT(size == 4 || size == 8);
    return size == 4 ? (uint64_t)sign_extend(old, 32) : old;
}

/* The operation on 64-bit operands.  For .W, callers pass both operands
 * sign-extended from 32 bits, which serves MINU/MAXU too: sign extension
 * keeps the unsigned order of 32-bit values (0x80000000.. map above
 * 0x7fffffff), and the caller keeps only the low 32 bits of the result. */
static uint64_t amo_apply(enum amo_op op, uint64_t a, uint64_t b)
{
    switch (op) {
    case AMO_SWAP: return b;
    case AMO_ADD:  return a + b;
    case AMO_XOR:  return a ^ b;
    case AMO_AND:  return a & b;
    case AMO_OR:   return a | b;
    case AMO_MIN:  return (int64_t)a < (int64_t)b ? a : b;
    case AMO_MAX:  return (int64_t)a > (int64_t)b ? a : b;
    case AMO_MINU: return a < b ? a : b;
    case AMO_MAXU: return a > b ? a : b;
    }
    panic("amo_apply: bad op %d", (int)op);
}

uint64_t amo_compute(enum amo_op op, unsigned size, uint64_t old, uint64_t operand)
{
    ASSERT(size == 4 || size == 8);
    if (size == 8)
        return amo_apply(op, old, operand);
    uint64_t a = (uint64_t)sign_extend(old, 32);
    uint64_t b = (uint64_t)sign_extend(operand, 32);
    return (uint32_t)amo_apply(op, a, b);
}

/* --- SFENCE.VMA and Zicsr ---------------------------------------------- */

bool insn_decode_sfence_vma(uint32_t insn, unsigned *rs1, unsigned *rs2)
{
    if ((insn & SFENCE_VMA_MASK) != SFENCE_VMA_MATCH)
        return false;
    *rs1 = insn_bits(insn, 19, 15);
    *rs2 = insn_bits(insn, 24, 20);
    return true;
}

/* funct3 001/010/011 are CSRRW/RS/RC, 101/110/111 the immediate forms;
 * 000 (ECALL, SRET, SFENCE.VMA, ...) and 100 (HLV/HSV) are not Zicsr. */
bool insn_decode_csr(uint32_t insn, struct csr_insn *out)
{
    if ((insn & 0x7fu) != OPCODE_SYSTEM)
        return false;
    unsigned funct3 = insn_bits(insn, 14, 12);
    static const enum csr_op_kind ops[4] = { [1] = CSR_RW, [2] = CSR_RS, [3] = CSR_RC };
    unsigned low = funct3 & 3u;  /* the immediate forms differ only in bit 2 */
    if (low == 0)
        return false;
    *out = (struct csr_insn){
        .op = ops[low],
        .csr = insn_bits(insn, 31, 20),
        .rd = insn_bits(insn, 11, 7),
        .imm = (funct3 & 4u) != 0,
        .rs1_or_uimm = insn_bits(insn, 19, 15),
    };
    return true;
}

uint64_t csr_apply(const struct csr_insn *c, uint64_t old, uint64_t src, bool *writes)
{
    /* The spec ties "no write" to the rs1/uimm field being zero, not to
     * the source value: csrs satp, a0 with a0 = 0 still writes. */
    bool does_write = c->op == CSR_RW || c->rs1_or_uimm != 0;
    if (writes)
        *writes = does_write;
    if (!does_write)
        return old;
    switch (c->op) {
    case CSR_RW: return src;
    case CSR_RS: return old | src;
    case CSR_RC: return old & ~src;
    }
    panic("csr_apply: bad op %d", (int)c->op);
}

bool csr_insn_reads(const struct csr_insn *c)
{
    return c->op != CSR_RW || c->rd != 0;
}
