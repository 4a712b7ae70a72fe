/*
 * ns16550.h — the register file of an ns16550a UART as a pure state
 * machine, for the virtual UART each VM gets (core/devices/vuart.c).
 * Portable: no globals, no hardware, no console.  The caller moves bytes:
 * a register write may hand back a byte to transmit, and the caller
 * offers received bytes with ns16550_rx_put when ns16550_rx_wants says
 * the receive buffer is free.
 *
 * What it models: the eight byte registers at offsets 0..7 (reg-shift 0),
 * DLAB switching offsets 0 and 1 to the divisor latch, a one-byte receive
 * buffer, instantaneous transmit (LSR.THRE and TEMT always set), the
 * modem-control loopback mode, and IIR's FIFO bits following FCR.  It
 * raises no interrupt: IIR always reads "none pending".  An access that is
 * not one byte wide, or lies past offset 7, reads 0 and writes nothing.
 */
#ifndef UMBRA_CORE_NS16550_H
#define UMBRA_CORE_NS16550_H

#include "core/lib/base.h"

/* Register offsets (DLAB = 0 unless said). */
#define NS16550_RBR 0   /* read: receive buffer; write: THR */
#define NS16550_IER 1
#define NS16550_IIR 2   /* read; write: FCR */
#define NS16550_LCR 3
#define NS16550_MCR 4
#define NS16550_LSR 5
#define NS16550_MSR 6
#define NS16550_SCR 7
#define NS16550_REGS 8

#define NS16550_LSR_DR   0x01
#define NS16550_LSR_THRE 0x20
#define NS16550_LSR_TEMT 0x40
#define NS16550_LCR_DLAB 0x80
#define NS16550_MCR_LOOP 0x10
#define NS16550_FCR_ENABLE 0x01
#define NS16550_FCR_CLEAR_RX 0x02
#define NS16550_IIR_NONE 0x01
#define NS16550_IIR_FIFO 0xc0
/* Modem status outside loopback: carrier, data set ready, clear to send,
 * as QEMU's 16550 reports with its character device connected. */
#define NS16550_MSR_IDLE 0xb0

struct ns16550 {
    uint8_t ier, fcr, lcr, mcr, scr, dll, dlm;
    uint8_t rbr;            /* the last byte received */
    bool rx_full;           /* rbr holds a byte not yet read (LSR.DR) */
};

/* The state after a hardware reset (QEMU's: divisor 12, MCR.OUT2). */
void ns16550_reset(struct ns16550 *u);

/* A guest read of `size` bytes at `offset`. */
uint8_t ns16550_read(struct ns16550 *u, uint64_t offset, unsigned size);

/* A guest write; returns the byte to transmit, or -1 (none: not THR, or
 * loopback, where the byte is received instead). */
int ns16550_write(struct ns16550 *u, uint64_t offset, unsigned size, uint64_t value);

/* Would the UART take a received byte now (the buffer is empty and the
 * line is not looped back)? */
bool ns16550_rx_wants(const struct ns16550 *u);
/* A byte arrives on the line; dropped (an overrun) if the buffer is full. */
void ns16550_rx_put(struct ns16550 *u, uint8_t byte);

/* Whether a read at offset would consume or report received data, so the
 * caller knows when to look for input first (RBR, LSR; not with DLAB). */
bool ns16550_read_polls_rx(const struct ns16550 *u, uint64_t offset, unsigned size);

#endif
