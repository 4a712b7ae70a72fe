/*
 * mediator.h — one QEMU `edu` device shared by several VMs by mediated
 * pass-through: each VM (a client) has a virtual copy of the device's
 * registers, and the mediator forwards the clients' DMA requests to the
 * one physical device, one at a time, round robin.
 *
 * The device keeps state between requests: a 4 KiB buffer that a DMA
 * fills from RAM and another DMA copies back out.  So the buffer is part
 * of an owner's context: when the device passes to another client, the
 * buffer is saved to the old owner's save page (a device->RAM DMA, skipped
 * if the owner has not written it since it was last saved) and the new
 * owner's is restored (a RAM->device DMA, skipped if the request about to
 * run overwrites the whole buffer).  Each client sees an edu of its own.
 *
 * What a request's RAM address means, and how the device is pointed at
 * the new owner, are the caller's (struct mediator_ops): under Demon's
 * owner switching the address is the client's guest-physical one and
 * set_owner moves the IOMMU's second stage; under rewriting, ram_addr
 * translates (and refuses) each address and set_owner does nothing.
 *
 * Portable: the hypervisor drives the real device (iommu/share/share.c);
 * the host unit tests drive a model of it.  Not locked: the caller holds
 * one lock around every call.
 */
#ifndef UMBRA_IOMMU_MEDIATOR_MEDIATOR_H
#define UMBRA_IOMMU_MEDIATOR_MEDIATOR_H

#include "core/lib/base.h"

#define MEDIATOR_MAX_CLIENTS 8

/* The edu's registers (QEMU hw/misc/edu.c). */
#define EDU_REG_ID 0x00
#define EDU_REG_LIVENESS 0x04
#define EDU_REG_FACTORIAL 0x08
#define EDU_REG_STATUS 0x20
#define EDU_REG_IRQ_STATUS 0x24
#define EDU_REG_IRQ_RAISE 0x60
#define EDU_REG_IRQ_ACK 0x64
#define EDU_REG_DMA_SRC 0x80
#define EDU_REG_DMA_DST 0x88
#define EDU_REG_DMA_COUNT 0x90
#define EDU_REG_DMA_CMD 0x98
#define EDU_ID_VALUE 0x010000edu
#define EDU_STATUS_COMPUTING 0x01u
#define EDU_STATUS_IRQ_FACT 0x80u
#define EDU_IRQ_FACT 0x001u
#define EDU_IRQ_DMA 0x100u
#define EDU_DMA_RUN 0x1u
#define EDU_DMA_TO_RAM 0x2u      /* direction: device buffer -> RAM */
#define EDU_DMA_IRQ 0x4u         /* raise EDU_IRQ_DMA when done */
#define EDU_BUF_ADDR 0x40000u    /* the device's buffer, as DMA addresses see it */
#define EDU_BUF_SIZE 0x1000u

struct mediator_ops {
    /* The physical device is still running a DMA. */
    bool (*busy)(void *ctx);
    /* Start a physical DMA (cmd: EDU_DMA_RUN, maybe EDU_DMA_TO_RAM). */
    void (*dma)(void *ctx, uint64_t src, uint64_t dst, uint64_t count, uint32_t cmd);
    /* Point the device at client's memory (owner switching), before the
     * first DMA made for it. */
    void (*set_owner)(void *ctx, unsigned client);
    /* The address the device must use for client's RAM at gpa (len bytes);
     * false: refused, the request runs nowhere. */
    bool (*ram_addr)(void *ctx, unsigned client, uint64_t gpa, uint64_t len, uint64_t *bus);
    /* The device's address of client's save page (EDU_BUF_SIZE bytes). */
    uint64_t (*save_addr)(void *ctx, unsigned client);
};

/* One client's virtual device. */
struct edu_vregs {
    uint32_t liveness, factorial, status, irq_status;
    uint64_t src, dst, count, cmd;
};

struct mediator_client {
    bool gone;
    bool bus_master;             /* the client's virtual command register allows DMA */
    bool pending;                /* its DMA waits for its turn */
    struct edu_vregs r;
    uint64_t transfers, refused, switches_to;
    uint64_t saves, restores;    /* of its buffer */
};

enum mediator_phase { MEDIATOR_IDLE, MEDIATOR_SAVE, MEDIATOR_RESTORE, MEDIATOR_RUN };

struct mediator {
    const struct mediator_ops *ops;
    void *ctx;
    bool addresses_checked;      /* ram_addr refuses what is not the client's (rewrite) */
    unsigned nclients;
    struct mediator_client c[MEDIATOR_MAX_CLIENTS];
    enum mediator_phase phase;
    int running;                 /* whose request the phase serves */
    int owner;                   /* whose memory the device is pointed at (-1: nobody's yet) */
    int buffer_owner;            /* whose data the buffer holds (-1: nobody's) */
    bool buffer_dirty;           /* written by buffer_owner since last saved */
    unsigned next;               /* round robin: the first client to look at */
    uint64_t run_src, run_dst;   /* the running request's device addresses */
    uint64_t switches, saves, restores, transfers, refused;
};

/* nclients clients, none waiting; the device is pointed at owner's memory
 * (-1: at nobody's yet).  addresses_checked: ram_addr refuses every
 * address that is not the client's RAM, so a request it let through is
 * sure to reach memory (rewrite); otherwise the device may be blocked
 * (switch: the IOMMU decides). */
void mediator_init(struct mediator *m, const struct mediator_ops *ops, void *ctx, unsigned nclients,
                   int owner, bool addresses_checked);

/* The client's virtual command register turned bus mastering on or off:
 * with it off, a request (also one already waiting) ends at once with
 * nothing moved. */
void mediator_set_bus_master(struct mediator *m, unsigned client, bool on);

/* A client's access to its virtual registers (offset in BAR0, size 1-8).
 * Both first let the device make progress (mediator_step). */
uint64_t mediator_read(struct mediator *m, unsigned client, uint64_t off, unsigned size);
void mediator_write(struct mediator *m, unsigned client, uint64_t off, unsigned size, uint64_t value);

/* Finish what the device has finished and start what comes next, until
 * the device is busy or nobody waits. */
void mediator_step(struct mediator *m);

/* The client's VM ended: its waiting request is dropped (one running goes
 * on to its end, into memory nobody reads), and it never owns the device
 * again. */
void mediator_detach(struct mediator *m, unsigned client);

/* The client whose memory the device uses now, or -1. */
int mediator_owner(const struct mediator *m);

#endif
