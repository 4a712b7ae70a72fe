/*
 * riscv_iommu.c — encoders and decoders for the RISC-V IOMMU (see
 * riscv_iommu.h).  Field positions follow the RISC-V IOMMU specification
 * 1.0; where QEMU's model is stricter than the spec (it refuses a DC with
 * tc.SBE set, and never sets A/D itself), the encodings here satisfy both.
 */
#include "iommu/riscv/riscv_iommu.h"
#include "mm/pt.h"

#define IOMMU_PAGE_SHIFT 12
#define PPN_FIELD_SHIFT 10 /* PPN at 53:10 in ddtp, cqb, fqb and DDT entries */
#define PA_LIMIT (1ull << 56)

static bool caps_bit(uint64_t caps, unsigned n)
{
    return (caps >> n) & 1;
}

void iommu_caps_decode(uint64_t caps, struct iommu_caps *out)
{
    out->version = (uint8_t)(caps & 0xff);
    out->sv32 = caps_bit(caps, 8);
    out->sv39 = caps_bit(caps, 9);
    out->sv48 = caps_bit(caps, 10);
    out->sv57 = caps_bit(caps, 11);
    out->svpbmt = caps_bit(caps, 15);
    out->sv32x4 = caps_bit(caps, 16);
    out->sv39x4 = caps_bit(caps, 17);
    out->sv48x4 = caps_bit(caps, 18);
    out->sv57x4 = caps_bit(caps, 19);
    out->amo_mrif = caps_bit(caps, 21);
    out->msi_flat = caps_bit(caps, 22);
    out->msi_mrif = caps_bit(caps, 23);
    out->amo_hwad = caps_bit(caps, 24);
    out->ats = caps_bit(caps, 25);
    out->t2gpa = caps_bit(caps, 26);
    out->end = caps_bit(caps, 27);
    out->igs = (uint8_t)((caps >> 28) & 3);
    out->hpm = caps_bit(caps, 30);
    out->dbg = caps_bit(caps, 31);
    out->pas = (uint8_t)((caps >> 32) & 0x3f);
    out->pd8 = caps_bit(caps, 38);
    out->pd17 = caps_bit(caps, 39);
    out->pd20 = caps_bit(caps, 40);
    out->qosid = caps_bit(caps, 41);
}

/* Everything else Umbra leaves at its reset meaning: no ATS, no first
 * stage, no MSI translation, A/D preset by software, polled queues. */
const char *iommu_caps_check(const struct iommu_caps *caps, paddr_t top_pa)
{
    if ((caps->version >> 4) != 1)
        return "the IOMMU does not implement version 1.x of the RISC-V IOMMU specification "
               "(capabilities.version)";
    if (!caps->sv39x4)
        return "the IOMMU has no Sv39x4 second-stage translation (capabilities.Sv39x4 = 0), "
               "which Umbra needs to confine a device's DMA to its VM";
    if (caps->pas == 0 || (caps->pas < 64 && top_pa > (1ull << caps->pas)))
        return "the IOMMU cannot address all of host memory (capabilities.PAS too small)";
    return NULL;
}

unsigned iommu_dc_size(enum iommu_dc_format fmt)
{
    return fmt == IOMMU_DC_EXTENDED ? 64 : 32;
}

/* DDI[level] bit positions: the leaf level's width is what makes one 4 KiB
 * page of DCs (128 base or 64 extended), the middle level is 9 bits (512
 * eight-byte entries), the root takes what is left of the 24 bits. */
static const uint8_t ddi_shift[2][3] = { [IOMMU_DC_BASE] = { 0, 7, 16 }, [IOMMU_DC_EXTENDED] = { 0, 6, 15 } };
static const uint8_t ddi_width[2][3] = { [IOMMU_DC_BASE] = { 7, 9, 8 }, [IOMMU_DC_EXTENDED] = { 6, 9, 9 } };

unsigned iommu_ddt_index(uint32_t device_id, unsigned level, enum iommu_dc_format fmt)
{
    ASSERT(level < 3);
    return (device_id >> ddi_shift[fmt][level]) & ((1u << ddi_width[fmt][level]) - 1);
}

unsigned iommu_ddt_levels(enum iommu_ddtp_mode mode)
{
    switch (mode) {
    case IOMMU_DDTP_1LVL: return 1;
    case IOMMU_DDTP_2LVL: return 2;
    case IOMMU_DDTP_3LVL: return 3;
    default:              return 0;
    }
}

bool iommu_ddt_covers(enum iommu_ddtp_mode mode, uint32_t device_id, enum iommu_dc_format fmt)
{
    unsigned levels = iommu_ddt_levels(mode);
    if (levels == 0)
        return false;
    unsigned bits = ddi_shift[fmt][levels - 1] + ddi_width[fmt][levels - 1];
    return device_id < (1u << bits);
}

enum iommu_ddtp_mode iommu_ddt_mode_for(uint32_t max_device_id, enum iommu_dc_format fmt)
{
    ASSERT(max_device_id < (1u << IOMMU_DEVICE_ID_BITS));
    if (iommu_ddt_covers(IOMMU_DDTP_1LVL, max_device_id, fmt))
        return IOMMU_DDTP_1LVL;
    if (iommu_ddt_covers(IOMMU_DDTP_2LVL, max_device_id, fmt))
        return IOMMU_DDTP_2LVL;
    return IOMMU_DDTP_3LVL;
}

/* ppn | other fields, for the registers and entries with PPN at 53:10. */
static uint64_t ppn_field(paddr_t pa)
{
    ASSERT(IS_ALIGNED(pa, PAGE_SIZE) && pa < PA_LIMIT);
    return (pa >> IOMMU_PAGE_SHIFT) << PPN_FIELD_SHIFT;
}

uint64_t iommu_ddte_make(paddr_t next_table)
{
    return ppn_field(next_table) | IOMMU_DDTE_V;
}

paddr_t iommu_ddte_to_pa(uint64_t ddte)
{
    return ((ddte >> PPN_FIELD_SHIFT) & IOMMU_ATP_PPN_MASK) << IOMMU_PAGE_SHIFT;
}

uint64_t iommu_ddtp_value(enum iommu_ddtp_mode mode, paddr_t root)
{
    ASSERT(mode <= IOMMU_DDTP_3LVL);
    return ppn_field(root) | (uint64_t)mode;
}

void iommu_dc_build(struct iommu_dc *dc, const struct iommu_dc_params *p)
{
    ASSERT(IS_ALIGNED(p->gstage_root, KIB(16)) && p->gstage_root < PA_LIMIT);
    /* Only V: no ATS/PRI (the devices Umbra passes through do not use
     * them), no process directory, GADE=0 (A/D are preset in the leaves),
     * SBE=0 and SXL=0 (little-endian, 64-bit schemes; QEMU refuses SBE=1). */
    dc->tc = IOMMU_TC_V;
    dc->iohgatp = IOMMU_IOHGATP_SV39X4 | ((uint64_t)p->gscid << IOMMU_IOHGATP_GSCID_SHIFT) |
                  (p->gstage_root >> IOMMU_PAGE_SHIFT);
    /* RCID/MCID must be 0 without QOSID.  With a Bare first stage (the
     * passthrough case) DMA addresses are guest-physical. */
    dc->ta = 0;
    dc->fsc = 0;
    if (p->fstage_root) {
        ASSERT(IS_ALIGNED(p->fstage_root, PAGE_SIZE) && p->pscid <= IOMMU_PSCID_MAX);
        dc->ta = (uint64_t)p->pscid << IOMMU_TA_PSCID_SHIFT;
        dc->fsc = IOMMU_FSC_SV39 | (p->fstage_root >> IOMMU_PAGE_SHIFT);
    }
}

unsigned iommu_dc_offset(uint32_t device_id, enum iommu_dc_format fmt)
{
    return iommu_ddt_index(device_id, 0, fmt) * iommu_dc_size(fmt);
}

void iommu_dc_store(void *slot, enum iommu_dc_format fmt, const struct iommu_dc *dc)
{
    ASSERT(IS_ALIGNED(ptr_to_pa(slot), iommu_dc_size(fmt)));
    volatile uint64_t *w = slot;
    w[1] = dc->iohgatp;
    w[2] = dc->ta;
    w[3] = dc->fsc;
    if (fmt == IOMMU_DC_EXTENDED) {
        for (unsigned i = 4; i < 8; i++)
            w[i] = 0;
    }
    __atomic_thread_fence(__ATOMIC_RELEASE);
    w[0] = dc->tc;
}

static uint64_t queue_base_value(paddr_t base, unsigned log2_entries, unsigned entry_size)
{
    ASSERT(log2_entries >= IOMMU_QUEUE_LOG2_MIN && log2_entries <= IOMMU_QUEUE_LOG2_MAX);
    uint64_t bytes = (uint64_t)entry_size << log2_entries;
    ASSERT(IS_ALIGNED(base, MAX(bytes, PAGE_SIZE)));
    return ppn_field(base) | (log2_entries - 1);
}

uint64_t iommu_cqb_value(paddr_t base, unsigned log2_entries)
{
    return queue_base_value(base, log2_entries, IOMMU_CMD_SIZE);
}

uint64_t iommu_fqb_value(paddr_t base, unsigned log2_entries)
{
    return queue_base_value(base, log2_entries, IOMMU_FAULT_RECORD_SIZE);
}

const char *iommu_cqcsr_error_name(uint32_t cqcsr)
{
    if (cqcsr & IOMMU_CQCSR_CMD_ILL)
        return "illegal or unsupported command (cqcsr.cmd_ill)";
    if (cqcsr & IOMMU_CQCSR_CQMF)
        return "command queue memory fault (cqcsr.cqmf)";
    if (cqcsr & IOMMU_CQCSR_CMD_TO)
        return "command timed out (cqcsr.cmd_to)";
    return NULL;
}

/* Command dword 0 fields. */
#define CMD_FUNC_SHIFT 7
#define CMD_AV (1ull << 10)
#define CMD_PSCID_SHIFT 12
#define CMD_PSCV (1ull << 32)
#define CMD_GV (1ull << 33)
#define CMD_GSCID_SHIFT 44
#define CMD_DV (1ull << 33)
#define CMD_DID_SHIFT 40
#define CMD_FENCE_FLAGS_SHIFT 10 /* AV, WSI, PR, PW at 10..13 */
#define CMD_FENCE_DATA_SHIFT 32
#define PSCID_MAX 0xfffffu

static struct iommu_cmd cmd_make(unsigned opcode, unsigned func)
{
    struct iommu_cmd c = { { opcode | ((uint64_t)func << CMD_FUNC_SHIFT), 0 } };
    return c;
}

/* Operands shared by IOTINVAL.VMA and .GVMA; ADDR[63:12] sits at dword 1
 * bits 61:10. */
static struct iommu_cmd iotinval_make(unsigned func, uint32_t gscid, uint32_t pscid, uint64_t addr)
{
    struct iommu_cmd c = cmd_make(IOMMU_OP_IOTINVAL, func);
    if (gscid != IOMMU_ALL_GSCIDS) {
        ASSERT(gscid <= IOMMU_GSCID_MAX);
        c.dw[0] |= CMD_GV | ((uint64_t)gscid << CMD_GSCID_SHIFT);
    }
    if (pscid != IOMMU_ALL_PSCIDS) {
        ASSERT(pscid <= PSCID_MAX);
        c.dw[0] |= CMD_PSCV | ((uint64_t)pscid << CMD_PSCID_SHIFT);
    }
    if (addr != IOMMU_ALL_ADDRS) {
        c.dw[0] |= CMD_AV;
        c.dw[1] = (addr >> IOMMU_PAGE_SHIFT) << 10;
    }
    return c;
}

struct iommu_cmd iommu_cmd_iotinval_gvma(uint32_t gscid, uint64_t gpa)
{
    /* With GV=0 the IOMMU ignores ADDR and drops everything: refuse the
     * call rather than silently widen it. */
    ASSERT(gscid != IOMMU_ALL_GSCIDS || gpa == IOMMU_ALL_ADDRS);
    return iotinval_make(IOMMU_FUNC_IOTINVAL_GVMA, gscid, IOMMU_ALL_PSCIDS, gpa);
}

struct iommu_cmd iommu_cmd_iotinval_vma(uint32_t gscid, uint32_t pscid, uint64_t iova)
{
    return iotinval_make(IOMMU_FUNC_IOTINVAL_VMA, gscid, pscid, iova);
}

struct iommu_cmd iommu_cmd_iodir_inval_ddt(uint32_t device_id)
{
    struct iommu_cmd c = cmd_make(IOMMU_OP_IODIR, IOMMU_FUNC_IODIR_INVAL_DDT);
    if (device_id != IOMMU_ALL_DEVICES) {
        ASSERT(device_id < (1u << IOMMU_DEVICE_ID_BITS));
        c.dw[0] |= CMD_DV | ((uint64_t)device_id << CMD_DID_SHIFT);
    }
    return c;
}

struct iommu_cmd iommu_cmd_iofence_c(unsigned flags, paddr_t addr, uint32_t data)
{
    const unsigned known = IOMMU_FENCE_AV | IOMMU_FENCE_WSI | IOMMU_FENCE_PR | IOMMU_FENCE_PW;
    ASSERT((flags & ~known) == 0);
    struct iommu_cmd c = cmd_make(IOMMU_OP_IOFENCE, IOMMU_FUNC_IOFENCE_C);
    c.dw[0] |= (uint64_t)flags << CMD_FENCE_FLAGS_SHIFT;
    if (flags & IOMMU_FENCE_AV) {
        ASSERT(IS_ALIGNED(addr, 4));
        c.dw[0] |= (uint64_t)data << CMD_FENCE_DATA_SHIFT;
        c.dw[1] = addr >> 2; /* ADDR[63:2] at bits 61:0 */
    } else {
        ASSERT(addr == 0 && data == 0);
    }
    return c;
}

void iommu_cmd_decode(const struct iommu_cmd *cmd, struct iommu_cmd_fields *out)
{
    uint64_t d0 = cmd->dw[0], d1 = cmd->dw[1];
    *out = (struct iommu_cmd_fields){
        .opcode = (unsigned)(d0 & 0x7f),
        .func = (unsigned)((d0 >> CMD_FUNC_SHIFT) & 7),
    };
    switch (out->opcode) {
    case IOMMU_OP_IOTINVAL:
        out->av = d0 & CMD_AV;
        out->pscv = d0 & CMD_PSCV;
        out->gv = d0 & CMD_GV;
        out->pscid = (uint32_t)(d0 >> CMD_PSCID_SHIFT) & PSCID_MAX;
        out->gscid = (uint32_t)(d0 >> CMD_GSCID_SHIFT) & IOMMU_GSCID_MAX;
        out->addr = ((d1 >> 10) & ((1ull << 52) - 1)) << IOMMU_PAGE_SHIFT;
        break;
    case IOMMU_OP_IODIR:
        out->dv = d0 & CMD_DV;
        out->did = (uint32_t)(d0 >> CMD_DID_SHIFT);
        out->pid = (uint32_t)(d0 >> CMD_PSCID_SHIFT) & PSCID_MAX;
        break;
    case IOMMU_OP_IOFENCE:
        out->fence_flags = (unsigned)((d0 >> CMD_FENCE_FLAGS_SHIFT) & 0xf);
        out->av = out->fence_flags & IOMMU_FENCE_AV;
        out->data = (uint32_t)(d0 >> CMD_FENCE_DATA_SHIFT);
        out->addr = (d1 & ((1ull << 62) - 1)) << 2;
        break;
    default:
        break;
    }
}

void iommu_fault_encode(const struct iommu_fault *f, struct iommu_fault_record *out)
{
    out->dw[0] = (uint64_t)(f->cause & 0xfff) | ((uint64_t)(f->pid & 0xfffff) << 12) |
                 ((uint64_t)f->pv << 32) | ((uint64_t)f->priv << 33) |
                 ((uint64_t)(f->ttyp & 0x3f) << 34) | ((uint64_t)(f->did & 0xffffff) << 40);
    out->dw[1] = 0;
    out->dw[2] = f->iotval;
    out->dw[3] = f->iotval2;
}

bool iommu_fault_is_write(unsigned cause)
{
    return cause == IOMMU_CAUSE_WRITE_MISALIGNED || cause == IOMMU_CAUSE_WRITE_ACCESS ||
           cause == IOMMU_CAUSE_WRITE_PAGE || cause == IOMMU_CAUSE_WRITE_GUEST_PAGE;
}

void iommu_fault_decode(const struct iommu_fault_record *rec, struct iommu_fault *out)
{
    uint64_t hdr = rec->dw[0];
    out->cause = (uint16_t)(hdr & 0xfff);
    out->pid = (uint32_t)((hdr >> 12) & 0xfffff);
    out->pv = (hdr >> 32) & 1;
    out->priv = (hdr >> 33) & 1;
    out->ttyp = (uint8_t)((hdr >> 34) & 0x3f);
    out->did = (uint32_t)(hdr >> 40);
    out->iotval = rec->dw[2];
    out->iotval2 = rec->dw[3];
}

const char *iommu_fault_cause_name(unsigned cause)
{
    switch (cause) {
    case IOMMU_CAUSE_INSN_ACCESS:           return "instruction access fault";
    case IOMMU_CAUSE_READ_MISALIGNED:       return "read address misaligned";
    case IOMMU_CAUSE_READ_ACCESS:           return "read access fault";
    case IOMMU_CAUSE_WRITE_MISALIGNED:      return "write/amo address misaligned";
    case IOMMU_CAUSE_WRITE_ACCESS:          return "write/amo access fault";
    case IOMMU_CAUSE_INSN_PAGE:             return "instruction page fault";
    case IOMMU_CAUSE_READ_PAGE:             return "read page fault";
    case IOMMU_CAUSE_WRITE_PAGE:            return "write/amo page fault";
    case IOMMU_CAUSE_INSN_GUEST_PAGE:       return "instruction guest-page fault";
    case IOMMU_CAUSE_READ_GUEST_PAGE:       return "read guest-page fault";
    case IOMMU_CAUSE_WRITE_GUEST_PAGE:      return "write/amo guest-page fault";
    case IOMMU_CAUSE_ALL_DISALLOWED:        return "all inbound transactions disallowed";
    case IOMMU_CAUSE_DDT_LOAD_ACCESS:       return "ddt entry load access fault";
    case IOMMU_CAUSE_DDT_INVALID:           return "ddt entry not valid";
    case IOMMU_CAUSE_DDT_MISCONFIGURED:     return "ddt entry misconfigured";
    case IOMMU_CAUSE_TTYP_DISALLOWED:       return "transaction type disallowed";
    case IOMMU_CAUSE_MSI_PTE_LOAD_ACCESS:   return "msi pte load access fault";
    case IOMMU_CAUSE_MSI_PTE_INVALID:       return "msi pte not valid";
    case IOMMU_CAUSE_MSI_PTE_MISCONFIGURED: return "msi pte misconfigured";
    case IOMMU_CAUSE_MRIF_ACCESS:           return "mrif access fault";
    case IOMMU_CAUSE_PDT_LOAD_ACCESS:       return "pdt entry load access fault";
    case IOMMU_CAUSE_PDT_INVALID:           return "pdt entry not valid";
    case IOMMU_CAUSE_PDT_MISCONFIGURED:     return "pdt entry misconfigured";
    case IOMMU_CAUSE_DDT_CORRUPTION:        return "ddt data corruption";
    case IOMMU_CAUSE_PDT_CORRUPTION:        return "pdt data corruption";
    case IOMMU_CAUSE_MSI_PT_CORRUPTION:     return "msi pt data corruption";
    case IOMMU_CAUSE_MRIF_CORRUPTION:       return "msi mrif data corruption";
    case IOMMU_CAUSE_INTERNAL_DATAPATH:     return "internal data path error";
    case IOMMU_CAUSE_MSI_WRITE_ACCESS:      return "iommu msi write access fault";
    case IOMMU_CAUSE_PT_CORRUPTION:         return "first/second-stage pt data corruption";
    default:
        return cause >= 2048 && cause <= 4095 ? "custom" : "reserved";
    }
}

const char *iommu_fault_ttyp_name(unsigned ttyp)
{
    switch (ttyp) {
    case IOMMU_TTYP_NONE:               return "none";
    case IOMMU_TTYP_UNTRANSLATED_EXEC:  return "untranslated read-for-execute";
    case IOMMU_TTYP_UNTRANSLATED_READ:  return "untranslated read";
    case IOMMU_TTYP_UNTRANSLATED_WRITE: return "untranslated write/amo";
    case IOMMU_TTYP_TRANSLATED_EXEC:    return "translated read-for-execute";
    case IOMMU_TTYP_TRANSLATED_READ:    return "translated read";
    case IOMMU_TTYP_TRANSLATED_WRITE:   return "translated write/amo";
    case IOMMU_TTYP_ATS_REQUEST:        return "pcie ats translation request";
    case IOMMU_TTYP_PCIE_MESSAGE:       return "pcie message request";
    default:
        return ttyp >= 32 && ttyp <= 63 ? "custom" : "reserved";
    }
}

bool iommu_fault_is_guest_page(unsigned cause)
{
    return cause == IOMMU_CAUSE_INSN_GUEST_PAGE || cause == IOMMU_CAUSE_READ_GUEST_PAGE ||
           cause == IOMMU_CAUSE_WRITE_GUEST_PAGE;
}

bool iommu_gstage_leaf_usable(pte_t leaf, bool write)
{
    const pte_t read_needs = PTE_V | PTE_R | PTE_U | PTE_A;
    const pte_t needs = write ? read_needs | PTE_W | PTE_D : read_needs;
    return (leaf & needs) == needs && (leaf & PTE_HIGH_BITS) == 0;
}

int iommu_gscid_for(struct iommu_gscids *g, paddr_t root)
{
    ASSERT(root != 0);
    for (unsigned i = 0; i < g->count; i++) {
        if (g->roots[i] == root)
            return (int)i + 1;
    }
    if (g->count == IOMMU_GSCIDS_MAX)
        return -1;
    g->roots[g->count++] = root;
    return (int)g->count;
}
