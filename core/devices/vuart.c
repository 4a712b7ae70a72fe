/*
 * vuart.c — a VM's virtual ns16550a (see vuart.h): the device-registry
 * handlers around the portable register model.
 *
 * Every access traps (nothing maps the UART's page) and arrives here as an
 * `mmio` exit.  Only byte accesses to offsets 0..7 do anything; the model
 * reads anything else as 0 and ignores its writes.  Transmit is at once:
 * a THR write is one byte of console_guest_write, so with several VMs the
 * VM's lines get their "[name] " prefix as its SBI output does.
 *
 * Receive: a read of RBR or LSR with the buffer empty looks for one byte
 * typed on the console.  Only the first VM receives.  With the monitor
 * shell on, the monitor owns the console and passes on what is typed while
 * its prompt is closed (monitor_input_take); else the UART reads the
 * console itself (console_getc).
 */
#include "core/devices/vuart.h"
#include "core/console.h"
#include "core/mmio.h"
#include "core/monitor/monitor.h"
#include "core/portable/ns16550.h"
#include "core/spinlock.h"

static struct vuart {
    struct spinlock lock;      /* the VM's vCPUs may use the UART at once */
    struct ns16550 regs;
} vuarts[CONFIG_MAX_VMS];

static int vuart_next_input(const struct vm *vm)
{
    if (vm->index != 0)
        return -1;
    return monitor_enabled() ? monitor_input_take() : console_getc();
}

static uint64_t vuart_read(struct vcpu *vcpu, void *dev, uint64_t offset, unsigned size)
{
    struct vuart *u = dev;
    spin_lock(&u->lock);
    if (ns16550_read_polls_rx(&u->regs, offset, size) && ns16550_rx_wants(&u->regs)) {
        int c = vuart_next_input(vcpu->vm);
        if (c >= 0)
            ns16550_rx_put(&u->regs, (uint8_t)c);
    }
    uint8_t value = ns16550_read(&u->regs, offset, size);
    spin_unlock(&u->lock);
    return value;
}

static void vuart_write(struct vcpu *vcpu, void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    struct vuart *u = dev;
    spin_lock(&u->lock);
    int tx = ns16550_write(&u->regs, offset, size, value);
    spin_unlock(&u->lock);
    if (tx >= 0) {
        char c = (char)tx;
        console_guest_write(vcpu->vm, &c, 1);
    }
}

static const struct mmio_ops vuart_ops = {
    .cause = EXIT_MMIO,
    .read = vuart_read,
    .write = vuart_write,
};

int vuart_vm_init(struct vm *vm)
{
    struct vuart *u = &vuarts[vm->index];
    ns16550_reset(&u->regs);
    return mmio_register(vm, VUART_GPA, VUART_SIZE, &vuart_ops, u);
}

void vuart_dtb_params(const struct vm *vm, struct guest_dtb_params *dtb)
{
    (void)vm;
    dtb->uart_base = VUART_GPA;
    dtb->uart_size = VUART_SIZE;
    dtb->uart_clock_hz = VUART_CLOCK_HZ;
}
