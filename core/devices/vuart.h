/*
 * vuart.h — each VM's virtual ns16550a UART, at the address QEMU virt puts
 * its own (so a small kernel written for bare QEMU prints unchanged).  The
 * register semantics are the portable model core/portable/ns16550.c; this
 * part registers it in the VM's device registry and connects it to the
 * console: what the guest transmits is its console output, as its SBI
 * console output is, and what is typed on the real UART is received by
 * the first VM (through the monitor shell when it is on).
 */
#ifndef UMBRA_CORE_DEVICES_VUART_H
#define UMBRA_CORE_DEVICES_VUART_H

#include "core/portable/guest_dtb.h"
#include "core/vm.h"

#define VUART_GPA      0x10000000ull
#define VUART_SIZE     0x100
#define VUART_CLOCK_HZ 3686400u    /* QEMU virt's clock-frequency */

/* Register the VM's UART in its device registry: 0, or -1 if there is no
 * room for it. */
int vuart_vm_init(struct vm *vm);
/* What the guest's device tree says of it (/soc/serial@10000000). */
void vuart_dtb_params(const struct vm *vm, struct guest_dtb_params *dtb);

#endif
