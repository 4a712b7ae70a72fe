/*
 * riscv_iommu.h — the portable core of Umbra's RISC-V IOMMU driver: register
 * offsets and fields, capability checks, the device directory (DDT) and
 * device-context (DC) formats, command encodings, fault-record decoding and
 * the rules a second-stage leaf must follow, all as in the RISC-V IOMMU
 * specification 1.0.  Nothing here touches MMIO: these are pure encoders
 * and decoders, so the host unit tests can check them bit for bit.
 *
 * Umbra gives a passed-through device second-stage translation only: its DC
 * has iohgatp = Sv39x4 | GSCID | root of a VM's G-stage table and fsc = Bare,
 * so the device's DMA addresses are guest-physical addresses of that VM.
 * Portable: built for the hypervisor and for host unit tests.
 */
#ifndef UMBRA_IOMMU_RISCV_IOMMU_H
#define UMBRA_IOMMU_RISCV_IOMMU_H

#include "core/lib/base.h"
#include "core/lib/pte.h"

/* ---- Memory-mapped registers (byte offsets in the 4 KiB register page) --- */

#define IOMMU_REG_SIZE 0x1000
#define IOMMU_REG_CAPS   0x000 /* 64-bit, RO */
#define IOMMU_REG_FCTL   0x008 /* 32-bit */
#define IOMMU_REG_DDTP   0x010 /* 64-bit */
#define IOMMU_REG_CQB    0x018 /* 64-bit */
#define IOMMU_REG_CQH    0x020 /* 32-bit, RO: IOMMU's read index */
#define IOMMU_REG_CQT    0x024 /* 32-bit: software's write index */
#define IOMMU_REG_FQB    0x028 /* 64-bit */
#define IOMMU_REG_FQH    0x030 /* 32-bit: software's read index */
#define IOMMU_REG_FQT    0x034 /* 32-bit, RO: IOMMU's write index */
#define IOMMU_REG_PQB    0x038
#define IOMMU_REG_PQH    0x040
#define IOMMU_REG_PQT    0x044
#define IOMMU_REG_CQCSR  0x048 /* 32-bit */
#define IOMMU_REG_FQCSR  0x04c /* 32-bit */
#define IOMMU_REG_PQCSR  0x050 /* 32-bit */
#define IOMMU_REG_IPSR   0x054 /* 32-bit, RW1C */
#define IOMMU_REG_ICVEC  0x2f8 /* 64-bit */
#define IOMMU_REG_MSI_CFG_TBL 0x300

/* fctl */
#define IOMMU_FCTL_BE  (1u << 0) /* big-endian in-memory structures */
#define IOMMU_FCTL_WSI (1u << 1) /* wired instead of message-signalled interrupts */
#define IOMMU_FCTL_GXL (1u << 2) /* 32-bit guest-physical schemes (Sv32x4) */

/* ddtp: iommu_mode 3:0, busy 4, PPN 53:10. */
enum iommu_ddtp_mode {
    IOMMU_DDTP_OFF = 0,  /* every inbound transaction is refused */
    IOMMU_DDTP_BARE = 1, /* no translation at all */
    IOMMU_DDTP_1LVL = 2,
    IOMMU_DDTP_2LVL = 3,
    IOMMU_DDTP_3LVL = 4,
};
#define IOMMU_DDTP_MODE_MASK 0xfull
#define IOMMU_DDTP_BUSY (1ull << 4)

/* cqcsr */
#define IOMMU_CQCSR_CQEN       (1u << 0)
#define IOMMU_CQCSR_CIE        (1u << 1)
#define IOMMU_CQCSR_CQMF       (1u << 8)  /* RW1C: memory fault fetching a command or doing its write */
#define IOMMU_CQCSR_CMD_TO     (1u << 9)  /* RW1C: a command timed out (ATS.INVAL) */
#define IOMMU_CQCSR_CMD_ILL    (1u << 10) /* RW1C: illegal or unsupported command, queue stopped */
#define IOMMU_CQCSR_FENCE_W_IP (1u << 11) /* RW1C: IOFENCE.C with WSI completed */
#define IOMMU_CQCSR_CQON       (1u << 16)
#define IOMMU_CQCSR_BUSY       (1u << 17)
#define IOMMU_CQCSR_ERRORS (IOMMU_CQCSR_CQMF | IOMMU_CQCSR_CMD_TO | IOMMU_CQCSR_CMD_ILL)

/* fqcsr */
#define IOMMU_FQCSR_FQEN (1u << 0)
#define IOMMU_FQCSR_FIE  (1u << 1)
#define IOMMU_FQCSR_FQMF (1u << 8) /* RW1C: memory fault writing a record; records dropped */
#define IOMMU_FQCSR_FQOF (1u << 9) /* RW1C: queue was full; records dropped */
#define IOMMU_FQCSR_FQON (1u << 16)
#define IOMMU_FQCSR_BUSY (1u << 17)
#define IOMMU_FQCSR_ERRORS (IOMMU_FQCSR_FQMF | IOMMU_FQCSR_FQOF)

/* ipsr */
#define IOMMU_IPSR_CIP  (1u << 0)
#define IOMMU_IPSR_FIP  (1u << 1)
#define IOMMU_IPSR_PMIP (1u << 2)
#define IOMMU_IPSR_PIP  (1u << 3)

/* ---- Capabilities --------------------------------------------------------- */

#define IOMMU_VERSION_1_0 0x10 /* major in the high nibble, minor in the low */

/* capabilities.IGS: how the IOMMU can signal interrupts. */
enum iommu_igs { IOMMU_IGS_MSI = 0, IOMMU_IGS_WSI = 1, IOMMU_IGS_BOTH = 2 };

struct iommu_caps {
    uint8_t version;     /* 7:0 */
    bool sv32, sv39, sv48, sv57;               /* 8..11: first-stage schemes */
    bool svpbmt;                               /* 15 */
    bool sv32x4, sv39x4, sv48x4, sv57x4;       /* 16..19: second-stage schemes */
    bool amo_mrif;       /* 21 */
    bool msi_flat;       /* 22: DCs are in the 64-byte extended format */
    bool msi_mrif;       /* 23 */
    bool amo_hwad;       /* 24: can update A/D itself (DC.tc.GADE/SADE allowed) */
    bool ats;            /* 25 */
    bool t2gpa;          /* 26 */
    bool end;            /* 27: both endiannesses */
    uint8_t igs;         /* 29:28, enum iommu_igs (3 is reserved) */
    bool hpm;            /* 30 */
    bool dbg;            /* 31 */
    uint8_t pas;         /* 37:32: physical address bits the IOMMU can reach */
    bool pd8, pd17, pd20; /* 38..40 */
    bool qosid;          /* 41 */
};

void iommu_caps_decode(uint64_t caps, struct iommu_caps *out);

/* NULL if Umbra can drive this IOMMU, else why not, as a sentence.  Umbra
 * needs a 1.x IOMMU with Sv39x4 second-stage translation that can address
 * every byte below top_pa (the end of the highest memory it will hand to
 * the IOMMU: directory, queues, page tables and guest RAM). */
const char *iommu_caps_check(const struct iommu_caps *caps, paddr_t top_pa);

/* ---- Device directory ----------------------------------------------------- */

/* Which DC layout the IOMMU reads: fixed by capabilities.MSI_FLAT. */
enum iommu_dc_format {
    IOMMU_DC_BASE,     /* 32-byte DC; device_id split 23:16 | 15:7 | 6:0 */
    IOMMU_DC_EXTENDED, /* 64-byte DC; device_id split 23:15 | 14:6 | 5:0 */
};

#define IOMMU_DEVICE_ID_BITS 24

static inline enum iommu_dc_format iommu_dc_format_of(const struct iommu_caps *caps)
{
    return caps->msi_flat ? IOMMU_DC_EXTENDED : IOMMU_DC_BASE;
}

unsigned iommu_dc_size(enum iommu_dc_format fmt); /* 32 or 64 */

/* Index into the DDT table at `level` (0 = the leaf page of DCs, 1, 2) for
 * device_id: the spec's DDI[level]. */
unsigned iommu_ddt_index(uint32_t device_id, unsigned level, enum iommu_dc_format fmt);

/* Levels a DDT walk takes in `mode` (1..3); 0 for Off and Bare. */
unsigned iommu_ddt_levels(enum iommu_ddtp_mode mode);

/* Whether device_id can be looked up in a DDT of `mode` (wider ids are
 * refused by the IOMMU with "transaction type disallowed"). */
bool iommu_ddt_covers(enum iommu_ddtp_mode mode, uint32_t device_id, enum iommu_dc_format fmt);

/* The DDT mode with the fewest levels that covers every id <= max_device_id. */
enum iommu_ddtp_mode iommu_ddt_mode_for(uint32_t max_device_id, enum iommu_dc_format fmt);

/* Non-leaf DDT entry: V (bit 0) | PPN of the next table (53:10). */
#define IOMMU_DDTE_V 1ull
uint64_t iommu_ddte_make(paddr_t next_table);
paddr_t iommu_ddte_to_pa(uint64_t ddte);

/* ddtp value selecting a directory (root: 4 KiB aligned; ignored, pass 0,
 * for Off and Bare). */
uint64_t iommu_ddtp_value(enum iommu_ddtp_mode mode, paddr_t root);

static inline enum iommu_ddtp_mode iommu_ddtp_mode(uint64_t ddtp)
{
    return (enum iommu_ddtp_mode)(ddtp & IOMMU_DDTP_MODE_MASK);
}

/* ---- Device context ------------------------------------------------------- */

/* tc (translation control) */
#define IOMMU_TC_V      (1ull << 0)
#define IOMMU_TC_EN_ATS (1ull << 1)
#define IOMMU_TC_EN_PRI (1ull << 2)
#define IOMMU_TC_T2GPA  (1ull << 3)
#define IOMMU_TC_DTF    (1ull << 4) /* don't report translation faults */
#define IOMMU_TC_PDTV   (1ull << 5)
#define IOMMU_TC_PRPR   (1ull << 6)
#define IOMMU_TC_GADE   (1ull << 7)
#define IOMMU_TC_SADE   (1ull << 8)
#define IOMMU_TC_DPE    (1ull << 9)
#define IOMMU_TC_SBE    (1ull << 10)
#define IOMMU_TC_SXL    (1ull << 11)

/* iohgatp / iosatp / msiptp: MODE 63:60, GSCID 59:44 (iohgatp), PPN 43:0. */
#define IOMMU_ATP_MODE_SHIFT 60
#define IOMMU_ATP_PPN_MASK ((1ull << 44) - 1)
#define IOMMU_IOHGATP_BARE   0ull
#define IOMMU_IOHGATP_SV39X4 (8ull << IOMMU_ATP_MODE_SHIFT)
#define IOMMU_IOHGATP_GSCID_SHIFT 44
#define IOMMU_GSCID_MAX 0xffffu

/* The base-format DC.  In the extended format these are the first 32
 * bytes, followed by the MSI fields (struct iommu_dc_ext). */
struct iommu_dc {
    uint64_t tc;
    uint64_t iohgatp;
    uint64_t ta;
    uint64_t fsc;
};
_Static_assert(sizeof(struct iommu_dc) == 32, "base-format DC is 32 bytes");

struct iommu_dc_ext {
    struct iommu_dc base;
    uint64_t msiptp;           /* MODE 0 = Off: MSIs are translated like any write */
    uint64_t msi_addr_mask;
    uint64_t msi_addr_pattern;
    uint64_t reserved;
};
_Static_assert(sizeof(struct iommu_dc_ext) == 64, "extended-format DC is 64 bytes");

struct iommu_dc_params {
    paddr_t gstage_root; /* Sv39x4 root, 16 KiB aligned */
    uint16_t gscid;      /* the same for every DC that uses this root */
    /* Nested translation (a vIOMMU's guest programs the first stage): an
     * Sv39 root, a guest-physical address translated by the second stage
     * like every other access of the walk; 0 = first stage Bare. */
    gpaddr_t fstage_root;
    uint32_t pscid;      /* the first stage's address-space tag */
};

/* A valid DC translating the device's DMA by the second stage, after the
 * first stage when p->fstage_root is set. */
void iommu_dc_build(struct iommu_dc *dc, const struct iommu_dc_params *p);

/* fsc / iosatp: MODE 63:60 (Bare 0, Sv39 8), PPN 43:0.  ta: PSCID 31:12. */
#define IOMMU_FSC_SV39 (8ull << IOMMU_ATP_MODE_SHIFT)
#define IOMMU_TA_PSCID_SHIFT 12
#define IOMMU_PSCID_MAX 0xfffffu

static inline unsigned iommu_atp_mode(uint64_t atp) { return (unsigned)(atp >> IOMMU_ATP_MODE_SHIFT); }
static inline paddr_t iommu_atp_root(uint64_t atp) { return (atp & IOMMU_ATP_PPN_MASK) << 12; }
static inline uint32_t iommu_ta_pscid(uint64_t ta) { return (uint32_t)(ta >> IOMMU_TA_PSCID_SHIFT) & IOMMU_PSCID_MAX; }

/* Byte offset of device_id's DC inside its leaf DDT page. */
unsigned iommu_dc_offset(uint32_t device_id, enum iommu_dc_format fmt);

/* Store dc into a DDT leaf slot (the extended format's MSI fields zeroed:
 * MSI translation Off).  tc goes last, after a release fence, so an IOMMU
 * that reads the slot concurrently never sees V=1 with stale fields.  The
 * caller still owes IODIR.INVAL_DDT + IOFENCE.C before relying on it. */
void iommu_dc_store(void *slot, enum iommu_dc_format fmt, const struct iommu_dc *dc);

/* ---- Queues --------------------------------------------------------------- */

#define IOMMU_CMD_SIZE 16
#define IOMMU_FAULT_RECORD_SIZE 32
#define IOMMU_QUEUE_LOG2_MIN 1  /* LOG2SZ-1 = 0: two entries */
#define IOMMU_QUEUE_LOG2_MAX 32

/* cqb / fqb: LOG2SZ-1 (4:0) | PPN (53:10).  base must be aligned to 4 KiB
 * and to the queue's size. */
uint64_t iommu_cqb_value(paddr_t base, unsigned log2_entries);
uint64_t iommu_fqb_value(paddr_t base, unsigned log2_entries);

static inline uint32_t iommu_queue_next(uint32_t index, unsigned log2_entries)
{
    return (uint32_t)((index + 1ull) & ((1ull << log2_entries) - 1));
}

/* Full when the producer's index is one behind the consumer's. */
static inline bool iommu_queue_full(uint32_t head, uint32_t tail, unsigned log2_entries)
{
    return iommu_queue_next(tail, log2_entries) == head;
}

/* Name of the first error bit set in cqcsr, or NULL if none. */
const char *iommu_cqcsr_error_name(uint32_t cqcsr);

/* ---- Commands ------------------------------------------------------------- */

struct iommu_cmd {
    uint64_t dw[2];
};
_Static_assert(sizeof(struct iommu_cmd) == IOMMU_CMD_SIZE, "commands are 16 bytes");

#define IOMMU_OP_IOTINVAL 1
#define IOMMU_OP_IOFENCE  2
#define IOMMU_OP_IODIR    3
#define IOMMU_OP_ATS      4
#define IOMMU_FUNC_IOTINVAL_VMA  0
#define IOMMU_FUNC_IOTINVAL_GVMA 1
#define IOMMU_FUNC_IOFENCE_C     0
#define IOMMU_FUNC_IODIR_INVAL_DDT 0
#define IOMMU_FUNC_IODIR_INVAL_PDT 1

/* "Every X" arguments: they clear the operand's valid bit (GV, PSCV, AV, DV). */
#define IOMMU_ALL_GSCIDS  UINT32_MAX
#define IOMMU_ALL_PSCIDS  UINT32_MAX
#define IOMMU_ALL_ADDRS   UINT64_MAX
#define IOMMU_ALL_DEVICES UINT32_MAX

/* IOTINVAL.GVMA: drop cached second-stage translations of VM gscid (or of
 * every VM) for the page holding gpa (or for every address).  An address
 * needs a GSCID. */
struct iommu_cmd iommu_cmd_iotinval_gvma(uint32_t gscid, uint64_t gpa);

/* IOTINVAL.VMA: drop cached first-stage translations for the page holding
 * iova (or all), of address space pscid (or all), of VM gscid (or the
 * host's, i.e. second stage Bare, with IOMMU_ALL_GSCIDS). */
struct iommu_cmd iommu_cmd_iotinval_vma(uint32_t gscid, uint32_t pscid, uint64_t iova);

/* IODIR.INVAL_DDT: drop the cached DC of device_id (or of every device). */
struct iommu_cmd iommu_cmd_iodir_inval_ddt(uint32_t device_id);

/* IOFENCE.C flags. */
#define IOMMU_FENCE_AV  (1u << 0) /* write `data` to `addr` on completion */
#define IOMMU_FENCE_WSI (1u << 1) /* raise cqcsr.fence_w_ip (only if fctl.WSI) */
#define IOMMU_FENCE_PR  (1u << 2) /* order earlier device reads */
#define IOMMU_FENCE_PW  (1u << 3) /* order earlier device writes */

/* IOFENCE.C: completes after every earlier command.  With IOMMU_FENCE_AV
 * the IOMMU then stores the 32-bit data at addr (4-byte aligned); without
 * it, addr and data must be 0. */
struct iommu_cmd iommu_cmd_iofence_c(unsigned flags, paddr_t addr, uint32_t data);

/* What a command says, decoded for an IOMMU that executes them (Umbra's
 * virtual one).  Operands a command does not have are left 0. */
struct iommu_cmd_fields {
    unsigned opcode;     /* dword 0 bits 6:0 */
    unsigned func;       /* 9:7 */
    bool av, pscv, gv, dv; /* operand-valid bits (AV is also IOFENCE.C's) */
    uint32_t pscid;      /* IOTINVAL: 31:12 */
    uint32_t gscid;      /* IOTINVAL: 59:44 */
    uint64_t addr;       /* IOTINVAL: page address; IOFENCE.C: the 4-byte word's */
    uint32_t did;        /* IODIR: 63:40 */
    uint32_t pid;        /* IODIR.INVAL_PDT: 31:12 */
    unsigned fence_flags; /* IOFENCE.C: IOMMU_FENCE_* */
    uint32_t data;       /* IOFENCE.C: 63:32 */
};

void iommu_cmd_decode(const struct iommu_cmd *cmd, struct iommu_cmd_fields *out);

/* ---- Fault queue ---------------------------------------------------------- */

struct iommu_fault_record {
    uint64_t dw[4];
};
_Static_assert(sizeof(struct iommu_fault_record) == IOMMU_FAULT_RECORD_SIZE, "fault records are 32 bytes");

/* Cause codes (spec table "Fault record CAUSE field encodings"). */
enum iommu_fault_cause {
    IOMMU_CAUSE_INSN_ACCESS = 1,
    IOMMU_CAUSE_READ_MISALIGNED = 4,
    IOMMU_CAUSE_READ_ACCESS = 5,
    IOMMU_CAUSE_WRITE_MISALIGNED = 6,
    IOMMU_CAUSE_WRITE_ACCESS = 7,
    IOMMU_CAUSE_INSN_PAGE = 12,
    IOMMU_CAUSE_READ_PAGE = 13,
    IOMMU_CAUSE_WRITE_PAGE = 15,
    IOMMU_CAUSE_INSN_GUEST_PAGE = 20,
    IOMMU_CAUSE_READ_GUEST_PAGE = 21,
    IOMMU_CAUSE_WRITE_GUEST_PAGE = 23,
    IOMMU_CAUSE_ALL_DISALLOWED = 256,
    IOMMU_CAUSE_DDT_LOAD_ACCESS = 257,
    IOMMU_CAUSE_DDT_INVALID = 258,
    IOMMU_CAUSE_DDT_MISCONFIGURED = 259,
    IOMMU_CAUSE_TTYP_DISALLOWED = 260,
    IOMMU_CAUSE_MSI_PTE_LOAD_ACCESS = 261,
    IOMMU_CAUSE_MSI_PTE_INVALID = 262,
    IOMMU_CAUSE_MSI_PTE_MISCONFIGURED = 263,
    IOMMU_CAUSE_MRIF_ACCESS = 264,
    IOMMU_CAUSE_PDT_LOAD_ACCESS = 265,
    IOMMU_CAUSE_PDT_INVALID = 266,
    IOMMU_CAUSE_PDT_MISCONFIGURED = 267,
    IOMMU_CAUSE_DDT_CORRUPTION = 268,
    IOMMU_CAUSE_PDT_CORRUPTION = 269,
    IOMMU_CAUSE_MSI_PT_CORRUPTION = 270,
    IOMMU_CAUSE_MRIF_CORRUPTION = 271,
    IOMMU_CAUSE_INTERNAL_DATAPATH = 272,
    IOMMU_CAUSE_MSI_WRITE_ACCESS = 273,
    IOMMU_CAUSE_PT_CORRUPTION = 274,
};

/* Transaction types (TTYP). */
enum iommu_ttyp {
    IOMMU_TTYP_NONE = 0,
    IOMMU_TTYP_UNTRANSLATED_EXEC = 1,
    IOMMU_TTYP_UNTRANSLATED_READ = 2,
    IOMMU_TTYP_UNTRANSLATED_WRITE = 3,
    IOMMU_TTYP_TRANSLATED_EXEC = 5,
    IOMMU_TTYP_TRANSLATED_READ = 6,
    IOMMU_TTYP_TRANSLATED_WRITE = 7,
    IOMMU_TTYP_ATS_REQUEST = 8,
    IOMMU_TTYP_PCIE_MESSAGE = 9,
};

struct iommu_fault {
    uint16_t cause;    /* 11:0 */
    uint32_t pid;      /* 31:12, process_id when pv */
    bool pv;           /* 32 */
    bool priv;         /* 33 */
    uint8_t ttyp;      /* 39:34 */
    uint32_t did;      /* 63:40, the device_id */
    uint64_t iotval;   /* the IOVA (here a GPA) for address faults */
    uint64_t iotval2;  /* guest-page faults: GPA 63:2, bit 0 implicit access, bit 1 its write */
};

void iommu_fault_decode(const struct iommu_fault_record *rec, struct iommu_fault *out);
/* The inverse, for an IOMMU that writes records (reserved fields zero). */
void iommu_fault_encode(const struct iommu_fault *f, struct iommu_fault_record *out);

/* Whether a translation-fault cause is for a write (store/AMO) access. */
bool iommu_fault_is_write(unsigned cause);

/* Short lower-case description of a cause: every code the spec defines,
 * "reserved" or "custom" for the rest. */
const char *iommu_fault_cause_name(unsigned cause);
const char *iommu_fault_ttyp_name(unsigned ttyp);
bool iommu_fault_is_guest_page(unsigned cause);

/* The faulting guest-physical address of a guest-page fault, where the spec
 * puts it.  With Umbra's DCs (first stage Bare) iotval, the IOVA, is that
 * GPA as well — and the one to log on QEMU, whose model reports iotval2 = 0
 * for these faults (it also sets PV=1 and TTYP=3 on every translation
 * fault, so neither is trustworthy there). */
static inline gpaddr_t iommu_fault_gpa(const struct iommu_fault *f)
{
    return f->iotval2 & ~3ull;
}

/* ---- Second stage --------------------------------------------------------- */

/* Permissions for a G-stage leaf the IOMMU walks (to pass to pt_map).  A
 * and D preset: without capabilities.AMO_HWAD the IOMMU cannot set them
 * (DC.tc.GADE must stay 0) and faults instead.  U: the IOMMU, like a hart's
 * G-stage walk, checks second-stage leaves as user accesses.  No X: devices
 * do not fetch instructions. */
#define IOMMU_GSTAGE_LEAF_PERM (PTE_R | PTE_W | PTE_U | PTE_A | PTE_D)

/* Whether the IOMMU, with GADE=0, can use this leaf for a DMA read (or a
 * write if `write`) without a guest-page fault. */
bool iommu_gstage_leaf_usable(pte_t leaf, bool write);

/* ---- GSCIDs --------------------------------------------------------------- */

/* One GSCID per distinct second-stage root: the IOMMU tags cached
 * translations by GSCID, so two tables sharing one would leak each other's
 * mappings, and one table under two GSCIDs would need two invalidations.
 * GSCID 0 is never handed out, so a zeroed DC never names a live one. */
#define IOMMU_GSCIDS_MAX 64

struct iommu_gscids {
    unsigned count;
    paddr_t roots[IOMMU_GSCIDS_MAX]; /* roots[i] has GSCID i + 1 */
};

/* The GSCID of root, assigned on first use; -1 when all are taken. */
int iommu_gscid_for(struct iommu_gscids *g, paddr_t root);

#endif
