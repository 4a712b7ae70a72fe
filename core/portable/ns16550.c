/*
 * ns16550.c — the ns16550a register model behind each VM's virtual UART
 * (see ns16550.h).  Every value comes from the guest, so every offset and
 * width is checked here and anything unexpected is a no-op.
 */
#include "core/portable/ns16550.h"

#define IER_MASK 0x0f   /* the four interrupt enables; the rest reads 0 */
#define MCR_MASK 0x1f   /* DTR, RTS, OUT1, OUT2, LOOP */
#define FCR_KEEP 0xc9   /* enable, DMA mode, receive trigger level */

void ns16550_reset(struct ns16550 *u)
{
    *u = (struct ns16550){ .dll = 0x0c, .mcr = 0x08 };
}

static bool dlab(const struct ns16550 *u)
{
    return (u->lcr & NS16550_LCR_DLAB) != 0;
}

static bool byte_reg(uint64_t offset, unsigned size)
{
    return size == 1 && offset < NS16550_REGS;
}

/* In loopback the modem inputs follow the outputs: DTR -> DSR, RTS -> CTS,
 * OUT1 -> RI, OUT2 -> DCD. */
static uint8_t modem_status(const struct ns16550 *u)
{
    if (!(u->mcr & NS16550_MCR_LOOP))
        return NS16550_MSR_IDLE;
    uint8_t m = u->mcr;
    return (uint8_t)(((m & 0x01) << 5) | ((m & 0x02) << 3) | ((m & 0x04) << 4) | ((m & 0x08) << 4));
}

bool ns16550_read_polls_rx(const struct ns16550 *u, uint64_t offset, unsigned size)
{
    return byte_reg(offset, size) && (offset == NS16550_LSR || (offset == NS16550_RBR && !dlab(u)));
}

uint8_t ns16550_read(struct ns16550 *u, uint64_t offset, unsigned size)
{
    if (!byte_reg(offset, size))
        return 0;
    switch (offset) {
    case NS16550_RBR:
        if (dlab(u))
            return u->dll;
        u->rx_full = false;
        return u->rbr;
    case NS16550_IER:
        return dlab(u) ? u->dlm : u->ier;
    case NS16550_IIR:
        return (uint8_t)(NS16550_IIR_NONE | ((u->fcr & NS16550_FCR_ENABLE) ? NS16550_IIR_FIFO : 0));
    case NS16550_LCR:
        return u->lcr;
    case NS16550_MCR:
        return u->mcr;
    case NS16550_LSR:
        return (uint8_t)(NS16550_LSR_THRE | NS16550_LSR_TEMT | (u->rx_full ? NS16550_LSR_DR : 0));
    case NS16550_MSR:
        return modem_status(u);
    default:
        return u->scr;
    }
}

int ns16550_write(struct ns16550 *u, uint64_t offset, unsigned size, uint64_t value)
{
    if (!byte_reg(offset, size))
        return -1;
    uint8_t v = (uint8_t)value;
    switch (offset) {
    case NS16550_RBR:
        if (dlab(u)) {
            u->dll = v;
            return -1;
        }
        if (u->mcr & NS16550_MCR_LOOP) {
            ns16550_rx_put(u, v);
            return -1;
        }
        return v;
    case NS16550_IER:
        if (dlab(u))
            u->dlm = v;
        else
            u->ier = v & IER_MASK;
        return -1;
    case NS16550_IIR: {             /* FCR */
        uint8_t fcr = (v & NS16550_FCR_ENABLE) ? (uint8_t)(v & FCR_KEEP) : 0;
        /* Turning the FIFOs on or off, or the receive reset bit, empties
         * the receive side. */
        if ((v & NS16550_FCR_CLEAR_RX) || ((fcr ^ u->fcr) & NS16550_FCR_ENABLE))
            u->rx_full = false;
        u->fcr = fcr;
        return -1;
    }
    case NS16550_LCR:
        u->lcr = v;
        return -1;
    case NS16550_MCR:
        u->mcr = v & MCR_MASK;
        return -1;
    case NS16550_SCR:
        u->scr = v;
        return -1;
    default:                        /* LSR and MSR are read-only */
        return -1;
    }
}

bool ns16550_rx_wants(const struct ns16550 *u)
{
    return !u->rx_full && !(u->mcr & NS16550_MCR_LOOP);
}

void ns16550_rx_put(struct ns16550 *u, uint8_t byte)
{
    if (u->rx_full)
        return;
    u->rbr = byte;
    u->rx_full = true;
}
