/* test_ns16550.c — the virtual UART's register model: reset values,
 * transmit, receive, DLAB, FCR/IIR, loopback, and accesses it ignores. */
#include <string.h>
#include "core/portable/ns16550.h"
#include "tests/unit/unit.h"

static void check_reset_and_status(void)
{
    struct ns16550 u;
    ns16550_reset(&u);
    CHECK_EQ(ns16550_read(&u, NS16550_LSR, 1), 0x60);      /* THRE | TEMT, no data */
    CHECK_EQ(ns16550_read(&u, NS16550_IIR, 1), 0x01);      /* no interrupt, no FIFO */
    CHECK_EQ(ns16550_read(&u, NS16550_IER, 1), 0);
    CHECK_EQ(ns16550_read(&u, NS16550_LCR, 1), 0);
    CHECK_EQ(ns16550_read(&u, NS16550_MCR, 1), 0x08);
    CHECK_EQ(ns16550_read(&u, NS16550_MSR, 1), 0xb0);
    CHECK_EQ(ns16550_read(&u, NS16550_SCR, 1), 0);
    /* LSR and MSR ignore writes. */
    CHECK_EQ(ns16550_write(&u, NS16550_LSR, 1, 0xff), -1);
    CHECK_EQ(ns16550_write(&u, NS16550_MSR, 1, 0xff), -1);
    CHECK_EQ(ns16550_read(&u, NS16550_LSR, 1), 0x60);
    CHECK_EQ(ns16550_read(&u, NS16550_MSR, 1), 0xb0);
}

static void check_transmit_and_registers(void)
{
    struct ns16550 u;
    ns16550_reset(&u);
    CHECK_EQ(ns16550_write(&u, NS16550_RBR, 1, 'A'), 'A');
    CHECK_EQ(ns16550_write(&u, NS16550_RBR, 1, 0x1ff), 0xff);   /* only the low byte */
    CHECK_EQ(ns16550_read(&u, NS16550_LSR, 1), 0x60);           /* transmit is instantaneous */
    CHECK_EQ(ns16550_write(&u, NS16550_SCR, 1, 0x5a), -1);
    CHECK_EQ(ns16550_read(&u, NS16550_SCR, 1), 0x5a);
    ns16550_write(&u, NS16550_IER, 1, 0xff);
    CHECK_EQ(ns16550_read(&u, NS16550_IER, 1), 0x0f);
    ns16550_write(&u, NS16550_MCR, 1, 0xff);
    CHECK_EQ(ns16550_read(&u, NS16550_MCR, 1), 0x1f);
    ns16550_write(&u, NS16550_MCR, 1, 0x0b);
    ns16550_write(&u, NS16550_LCR, 1, 0x03);
    CHECK_EQ(ns16550_read(&u, NS16550_LCR, 1), 0x03);

    /* DLAB: offsets 0 and 1 are the divisor latch; THR writes do not transmit. */
    ns16550_write(&u, NS16550_LCR, 1, 0x83);
    CHECK_EQ(ns16550_read(&u, NS16550_RBR, 1), 0x0c);
    CHECK_EQ(ns16550_write(&u, NS16550_RBR, 1, 0x01), -1);
    ns16550_write(&u, NS16550_IER, 1, 0x02);
    CHECK_EQ(ns16550_read(&u, NS16550_RBR, 1), 0x01);
    CHECK_EQ(ns16550_read(&u, NS16550_IER, 1), 0x02);
    CHECK(!ns16550_read_polls_rx(&u, NS16550_RBR, 1));
    CHECK(ns16550_read_polls_rx(&u, NS16550_LSR, 1));
    ns16550_write(&u, NS16550_LCR, 1, 0x03);
    CHECK_EQ(ns16550_read(&u, NS16550_IER, 1), 0x0f);          /* IER kept behind the latch */
    CHECK(ns16550_read_polls_rx(&u, NS16550_RBR, 1));

    /* FCR: IIR's FIFO bits follow the enable bit. */
    ns16550_write(&u, NS16550_IIR, 1, 0xc7);
    CHECK_EQ(ns16550_read(&u, NS16550_IIR, 1), 0xc1);
    ns16550_write(&u, NS16550_IIR, 1, 0xc6);                   /* enable off: all off */
    CHECK_EQ(ns16550_read(&u, NS16550_IIR, 1), 0x01);
}

static void check_receive(void)
{
    struct ns16550 u;
    ns16550_reset(&u);
    CHECK(ns16550_rx_wants(&u));
    ns16550_rx_put(&u, 'x');
    CHECK(!ns16550_rx_wants(&u));
    CHECK_EQ(ns16550_read(&u, NS16550_LSR, 1), 0x61);
    ns16550_rx_put(&u, 'y');                                   /* overrun: dropped */
    CHECK_EQ(ns16550_read(&u, NS16550_RBR, 1), 'x');
    CHECK_EQ(ns16550_read(&u, NS16550_LSR, 1), 0x60);
    CHECK_EQ(ns16550_read(&u, NS16550_RBR, 1), 'x');           /* stale, as a 16550 */
    CHECK(ns16550_rx_wants(&u));
    /* The FIFO reset bit empties the receive buffer. */
    ns16550_rx_put(&u, 'z');
    ns16550_write(&u, NS16550_IIR, 1, 0x01);                   /* FIFOs on: reset too */
    CHECK_EQ(ns16550_read(&u, NS16550_LSR, 1), 0x60);
    ns16550_rx_put(&u, 'z');
    ns16550_write(&u, NS16550_IIR, 1, 0x03);
    CHECK_EQ(ns16550_read(&u, NS16550_LSR, 1), 0x60);
    ns16550_rx_put(&u, 'w');
    ns16550_write(&u, NS16550_IIR, 1, 0x01);                   /* no change: kept */
    CHECK_EQ(ns16550_read(&u, NS16550_LSR, 1), 0x61);
}

static void check_loopback(void)
{
    struct ns16550 u;
    ns16550_reset(&u);
    ns16550_write(&u, NS16550_MCR, 1, 0x1a);   /* LOOP | OUT2 | RTS, as Linux's probe */
    CHECK_EQ(ns16550_read(&u, NS16550_MSR, 1), 0x90);
    ns16550_write(&u, NS16550_MCR, 1, 0x1f);
    CHECK_EQ(ns16550_read(&u, NS16550_MSR, 1), 0xf0);
    CHECK(!ns16550_rx_wants(&u));
    CHECK_EQ(ns16550_write(&u, NS16550_RBR, 1, 'L'), -1);     /* received, not sent */
    CHECK_EQ(ns16550_read(&u, NS16550_LSR, 1), 0x61);
    CHECK_EQ(ns16550_read(&u, NS16550_RBR, 1), 'L');
    ns16550_write(&u, NS16550_MCR, 1, 0x08);
    CHECK_EQ(ns16550_read(&u, NS16550_MSR, 1), 0xb0);
    CHECK_EQ(ns16550_write(&u, NS16550_RBR, 1, 'M'), 'M');
}

static void check_ignored_accesses(void)
{
    struct ns16550 u;
    ns16550_reset(&u);
    ns16550_write(&u, NS16550_SCR, 1, 0x77);
    ns16550_rx_put(&u, 'q');
    struct ns16550 before = u;
    /* Wider accesses, and offsets past the eight registers, do nothing. */
    const unsigned sizes[] = { 2, 4, 8 };
    for (unsigned i = 0; i < 3; i++)
        for (uint64_t off = 0; off < 8; off++) {
            CHECK_EQ(ns16550_read(&u, off, sizes[i]), 0);
            CHECK_EQ(ns16550_write(&u, off, sizes[i], ~0ull), -1);
            CHECK(!ns16550_read_polls_rx(&u, off, sizes[i]));
        }
    const uint64_t offs[] = { 8, 0x10, 0xff, 0x100, ~0ull };
    for (unsigned i = 0; i < 5; i++) {
        CHECK_EQ(ns16550_read(&u, offs[i], 1), 0);
        CHECK_EQ(ns16550_write(&u, offs[i], 1, 'x'), -1);
    }
    CHECK(memcmp(&before, &u, sizeof(u)) == 0);
    CHECK_EQ(ns16550_read(&u, NS16550_SCR, 1), 0x77);
    CHECK_EQ(ns16550_read(&u, NS16550_RBR, 1), 'q');
}

/* Random guest traffic never breaks the invariants: LSR's transmit bits
 * always set, IIR never claims an interrupt. */
static void check_random_traffic(void)
{
    struct ns16550 u;
    ns16550_reset(&u);
    for (int i = 0; i < 20000; i++) {
        uint64_t r = unit_random();
        uint64_t off = r & 0xf;
        unsigned size = 1u << ((r >> 4) & 3);
        if (r & 0x100)
            ns16550_write(&u, off, size, r >> 16);
        else
            ns16550_read(&u, off, size);
        if ((r & 0x3000) == 0 && ns16550_rx_wants(&u))
            ns16550_rx_put(&u, (uint8_t)(r >> 24));
        CHECK((ns16550_read(&u, NS16550_LSR, 1) & 0x60) == 0x60);
        CHECK((ns16550_read(&u, NS16550_IIR, 1) & 0x0f) == 0x01);
    }
}

void unit_main(void)
{
    check_reset_and_status();
    check_transmit_and_registers();
    check_receive();
    check_loopback();
    check_ignored_accesses();
    check_random_traffic();
}
