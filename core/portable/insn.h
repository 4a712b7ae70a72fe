/*
 * insn.h — decoding the few guest instructions Umbra emulates after a trap:
 * integer stores, AMOs and SC (write-protect faults on shadowed guest page
 * tables), SFENCE.VMA and Zicsr instructions (virtual-instruction traps with
 * hstatus.VTVM set), plus the arithmetic of the AMOs themselves.
 *
 * Decoders take the raw instruction bits fetched from the guest (or the
 * transformed instruction the hart wrote to htinst) and return false for
 * anything they do not recognise, so callers can fall back to injecting the
 * fault into the guest.  RV64 only: quadrant-0/2 funct3 011/111 are the
 * RV64C C.LD/C.SD forms, not RV32's C.FLW/C.FSW.
 *
 * Portable: built into the hypervisor and into the host unit tests.
 */
#ifndef UMBRA_CORE_INSN_H
#define UMBRA_CORE_INSN_H

#include "core/lib/base.h"

/* Length in bytes (2 or 4) of the instruction whose low 16 bits are `low`.
 * Encodings longer than 32 bits are not used by any standard extension
 * Umbra meets, so everything that is not compressed counts as 4. */
unsigned insn_length(uint16_t low);

enum store_kind { STORE_PLAIN, STORE_AMO, STORE_SC };
enum amo_op { AMO_SWAP, AMO_ADD, AMO_XOR, AMO_AND, AMO_OR, AMO_MIN, AMO_MAX, AMO_MINU, AMO_MAXU };

struct store_insn {
    enum store_kind kind;
    unsigned size;       /* 1, 2, 4, 8 */
    unsigned rs1;        /* base address register */
    unsigned rs2;        /* value register */
    unsigned rd;         /* AMO/SC result register (0 for plain stores) */
    int64_t offset;      /* plain stores: signed immediate (0 for AMO/SC) */
    enum amo_op amo;     /* STORE_AMO only */
    unsigned length;     /* 2 or 4: how far to advance the pc */
};

/* Decode `insn` (32-bit, or a 16-bit compressed one in the low half; the
 * upper half is then ignored) as an integer store (SB/SH/SW/SD, C.SW, C.SD,
 * C.SWSP, C.SDSP), an AMO*.W/D or SC.W/D.  False for everything else:
 * loads, LR, FP stores (FSW/FSD, C.FSD, C.FSDSP), reserved encodings. */
bool insn_decode_store(uint32_t insn, struct store_insn *out);

/* Same for an htinst value: a transformed standard instruction (bit 0 = 1;
 * bit 1 = 1 for a 32-bit original, 0 for a compressed one, which sets
 * out->length).  False for 0, the pseudoinstructions (bits 1:0 = 00), any
 * value with bits 63:32 set, and anything that is not an integer store, AMO
 * or SC.  The hart replaces the base register and immediate by zero, so
 * out->rs1 and out->offset are 0 and mean nothing here: the access address
 * comes from stval/htval, minus insn_transformed_addr_offset(htinst). */
bool insn_decode_transformed_store(uint64_t htinst, struct store_insn *out);

/* The "Addr. Offset" field of a transformed load/store/atomic: how far the
 * faulting address (stval) lies past the start of the access.  Nonzero only
 * for a misaligned access split by the hart. */
unsigned insn_transformed_addr_offset(uint64_t htinst);

/* An integer load (LB..LD, LBU/LHU/LWU, C.LW, C.LD, C.LWSP, C.LDSP), for
 * emulating loads from emulated devices.  FP loads are not decoded. */
struct load_insn {
    unsigned size;       /* 1, 2, 4, 8 */
    bool is_signed;      /* sign-extend to 64 bits (else zero-extend) */
    unsigned rd;
    unsigned rs1;
    int64_t offset;
    unsigned length;     /* 2 or 4 */
};
bool insn_decode_load(uint32_t insn, struct load_insn *out);
/* The same for a transformed load in htinst (rs1/offset then mean nothing). */
bool insn_decode_transformed_load(uint64_t htinst, struct load_insn *out);
/* What rd receives for `raw`, the size bytes read. */
uint64_t load_insn_value(const struct load_insn *l, uint64_t raw);

/* The bits a store of s->size bytes writes, taken from rs2's value. */
uint64_t store_insn_value(const struct store_insn *s, uint64_t rs2_value);

/* The new memory value of an AMO of `size` bytes (4 or 8) that found `old`
 * in memory and had `operand` in rs2.  For size 4 only the low 32 bits of
 * both are used, compared as signed (MIN/MAX) or unsigned (MINU/MAXU) 32-bit
 * values, and the result is the 32-bit memory value, zero-extended. */
uint64_t amo_compute(enum amo_op op, unsigned size, uint64_t old, uint64_t operand);

/* rd's value after an AMO.W/D that found `old` in memory: the old value,
 * sign-extended from 32 bits for .W. */
uint64_t amo_result(unsigned size, uint64_t old);

/* SFENCE.VMA rs1, rs2: true if insn is one (and not HFENCE.*, SINVAL.VMA). */
bool insn_decode_sfence_vma(uint32_t insn, unsigned *rs1, unsigned *rs2);

/* Zicsr: CSRRW/CSRRS/CSRRC and their immediate forms. */
enum csr_op_kind { CSR_RW, CSR_RS, CSR_RC };
struct csr_insn {
    enum csr_op_kind op;
    unsigned csr;          /* 12-bit CSR number */
    unsigned rd;
    bool imm;              /* CSRR*I: rs1_or_uimm is a 5-bit zero-extended immediate */
    unsigned rs1_or_uimm;
};
bool insn_decode_csr(uint32_t insn, struct csr_insn *out);

/* Apply a CSR instruction to the CSR's old value with source value `src`
 * (rs1's value, or the uimm for the immediate forms).  Returns the CSR's new
 * value and sets *writes (if writes is non-NULL) to whether the CSR is
 * written at all: CSRRS/CSRRC with rs1 = x0 and CSRRSI/CSRRCI with uimm = 0
 * do not write (so cause no write side effects), even though a register
 * that merely holds 0 does write. */
uint64_t csr_apply(const struct csr_insn *c, uint64_t old, uint64_t src, bool *writes);

/* Whether the CSR is read at all: CSRRW/CSRRWI with rd = x0 do not read it
 * (so cause no read side effects). */
bool csr_insn_reads(const struct csr_insn *c);

#endif
