/*
 * mediator.c — the virtual edu of each client and the schedule of the one
 * physical edu (see mediator.h).
 */
#include "iommu/mediator/mediator.h"

void mediator_init(struct mediator *m, const struct mediator_ops *ops, void *ctx, unsigned nclients,
                   int owner, bool addresses_checked)
{
    *m = (struct mediator){ .ops = ops, .ctx = ctx, .nclients = MIN(nclients, MEDIATOR_MAX_CLIENTS),
                            .running = -1, .owner = owner, .buffer_owner = -1,
                            .addresses_checked = addresses_checked };
}

int mediator_owner(const struct mediator *m)
{
    return m->owner;
}

/* ---- the virtual registers ------------------------------------------------ */

/* n! modulo 2^32, as the device computes it; from 34! on the product holds
 * 2^32 as a factor, so the loop stops there (the device would count down
 * from n, up to four billion steps). */
static uint32_t edu_factorial(uint32_t n)
{
    if (n >= 34)
        return 0;
    uint32_t r = 1;
    while (n > 0)
        r *= n--;
    return r;
}

/* The device side of a request: wholly inside the buffer. */
static bool request_fits(const struct edu_vregs *r)
{
    uint64_t dev = (r->cmd & EDU_DMA_TO_RAM) ? r->src : r->dst;
    return r->count <= EDU_BUF_SIZE && dev >= EDU_BUF_ADDR && dev - EDU_BUF_ADDR <= EDU_BUF_SIZE - r->count;
}

static void request_end(struct mediator *m, unsigned client, bool refused)
{
    struct mediator_client *c = &m->c[client];
    c->pending = false;
    c->r.cmd &= ~(uint64_t)EDU_DMA_RUN;
    if (c->r.cmd & EDU_DMA_IRQ)
        c->r.irq_status |= EDU_IRQ_DMA;
    if (refused) {
        c->refused++;
        m->refused++;
    } else {
        c->transfers++;
        m->transfers++;
    }
}

void mediator_set_bus_master(struct mediator *m, unsigned client, bool on)
{
    if (client >= m->nclients)
        return;
    m->c[client].bus_master = on;
    if (!on && m->c[client].pending)
        request_end(m, client, true);
}

/* A write of the command register with RUN: the request waits for its
 * turn, unless the device could never run it (a device side outside the
 * buffer, or bus mastering off): then it ends at once, nothing moved.  A
 * count of 0 moves nothing either: done at once, without the device. */
static void request_start(struct mediator *m, unsigned client, uint64_t cmd)
{
    struct mediator_client *c = &m->c[client];
    c->r.cmd = cmd & (EDU_DMA_RUN | EDU_DMA_TO_RAM | EDU_DMA_IRQ);
    if (!request_fits(&c->r) || !c->bus_master || c->gone) {
        request_end(m, client, true);
        return;
    }
    if (c->r.count == 0) {
        request_end(m, client, false);
        return;
    }
    c->pending = true;
}

static bool size_ok(uint64_t off, unsigned size)
{
    return size == 4 || (off >= EDU_REG_DMA_SRC && size == 8);
}

uint64_t mediator_read(struct mediator *m, unsigned client, uint64_t off, unsigned size)
{
    mediator_step(m);
    if (client >= m->nclients || !size_ok(off, size))
        return UINT64_MAX;
    const struct edu_vregs *r = &m->c[client].r;
    switch (off) {
    case EDU_REG_ID: return EDU_ID_VALUE;
    case EDU_REG_LIVENESS: return r->liveness;
    case EDU_REG_FACTORIAL: return r->factorial;
    case EDU_REG_STATUS: return r->status;
    case EDU_REG_IRQ_STATUS: return r->irq_status;
    case EDU_REG_DMA_SRC: return r->src;
    case EDU_REG_DMA_DST: return r->dst;
    case EDU_REG_DMA_COUNT: return r->count;
    case EDU_REG_DMA_CMD: return r->cmd;
    default: return UINT64_MAX;
    }
}

void mediator_write(struct mediator *m, unsigned client, uint64_t off, unsigned size, uint64_t value)
{
    if (client >= m->nclients || !size_ok(off, size))
        return;
    struct edu_vregs *r = &m->c[client].r;
    uint32_t v32 = (uint32_t)value;
    bool dma_idle = !(r->cmd & EDU_DMA_RUN);   /* the device ignores DMA writes while one runs */
    switch (off) {
    case EDU_REG_LIVENESS: r->liveness = ~v32; break;
    case EDU_REG_FACTORIAL:
        /* The factorial is computed here, at once: it involves no memory,
         * so it never waits for the physical device. */
        r->factorial = edu_factorial(v32);
        if (r->status & EDU_STATUS_IRQ_FACT)
            r->irq_status |= EDU_IRQ_FACT;
        break;
    case EDU_REG_STATUS: r->status = v32 & EDU_STATUS_IRQ_FACT; break;
    case EDU_REG_IRQ_RAISE: r->irq_status |= v32; break;
    case EDU_REG_IRQ_ACK: r->irq_status &= ~v32; break;
    case EDU_REG_DMA_SRC: if (dma_idle) r->src = value; break;
    case EDU_REG_DMA_DST: if (dma_idle) r->dst = value; break;
    case EDU_REG_DMA_COUNT: if (dma_idle) r->count = value; break;
    case EDU_REG_DMA_CMD:
        if (dma_idle && (value & EDU_DMA_RUN))
            request_start(m, client, value);
        break;
    default: break;
    }
    mediator_step(m);
}

void mediator_detach(struct mediator *m, unsigned client)
{
    if (client >= m->nclients)
        return;
    m->c[client].gone = true;
    m->c[client].pending = false;
    m->c[client].r.cmd &= ~(uint64_t)EDU_DMA_RUN;
}

/* ---- the schedule ------------------------------------------------------------ */

static void device_dma(struct mediator *m, enum mediator_phase phase, uint64_t src, uint64_t dst,
                       uint64_t count, uint32_t cmd)
{
    m->phase = phase;
    m->ops->dma(m->ctx, src, dst, count, cmd | EDU_DMA_RUN);
}

static void run_request(struct mediator *m)
{
    const struct edu_vregs *r = &m->c[m->running].r;
    if (!(r->cmd & EDU_DMA_TO_RAM))
        m->buffer_dirty = true;
    device_dma(m, MEDIATOR_RUN, m->run_src, m->run_dst, r->count, (uint32_t)(r->cmd & EDU_DMA_TO_RAM));
}

/* Does the request about to run surely replace every byte of the buffer?
 * Only if its RAM address was checked: a DMA the IOMMU blocks would leave
 * the last owner's data in the buffer for this client to read out. */
static bool overwrites_buffer(const struct mediator *m, const struct edu_vregs *r)
{
    return m->addresses_checked && !(r->cmd & EDU_DMA_TO_RAM) && r->dst == EDU_BUF_ADDR &&
           r->count == EDU_BUF_SIZE;
}

/* The device passes to the running client: pointed at its memory, then
 * its buffer back in. */
static void switch_and_restore(struct mediator *m)
{
    unsigned next = (unsigned)m->running;
    if (m->c[next].gone) {
        m->phase = MEDIATOR_IDLE;
        return;
    }
    if (m->owner != (int)next) {
        m->ops->set_owner(m->ctx, next);
        m->owner = (int)next;
        m->switches++;
        m->c[next].switches_to++;
    }
    if (overwrites_buffer(m, &m->c[next].r)) {
        m->buffer_owner = (int)next;
        m->buffer_dirty = false;
        run_request(m);
        return;
    }
    device_dma(m, MEDIATOR_RESTORE, m->ops->save_addr(m->ctx, next), EDU_BUF_ADDR, EDU_BUF_SIZE, 0);
}

/* The running request's RAM address for the device, or false. */
static bool request_addresses(struct mediator *m, unsigned client)
{
    const struct edu_vregs *r = &m->c[client].r;
    bool to_ram = r->cmd & EDU_DMA_TO_RAM;
    uint64_t ram = to_ram ? r->dst : r->src, bus;
    if (!m->ops->ram_addr(m->ctx, client, ram, r->count, &bus))
        return false;
    m->run_src = to_ram ? r->src : bus;
    m->run_dst = to_ram ? bus : r->dst;
    return true;
}

/* Give the device to client for its request. */
static void begin(struct mediator *m, unsigned client)
{
    if (!request_addresses(m, client)) {
        request_end(m, client, true);
        return;
    }
    m->c[client].pending = false;
    m->running = (int)client;
    if (m->buffer_owner == (int)client) {
        run_request(m);
        return;
    }
    int old = m->buffer_owner;
    if (old >= 0 && !m->c[old].gone && m->buffer_dirty) {
        device_dma(m, MEDIATOR_SAVE, EDU_BUF_ADDR, m->ops->save_addr(m->ctx, (unsigned)old), EDU_BUF_SIZE,
                   EDU_DMA_TO_RAM);
        return;
    }
    switch_and_restore(m);
}

/* The device finished the phase's DMA. */
static void finish(struct mediator *m)
{
    unsigned client = (unsigned)m->running;
    switch (m->phase) {
    case MEDIATOR_SAVE:
        m->saves++;
        m->c[m->buffer_owner].saves++;
        m->buffer_dirty = false;
        switch_and_restore(m);
        return;
    case MEDIATOR_RESTORE:
        m->restores++;
        m->c[client].restores++;
        m->buffer_owner = (int)client;
        m->buffer_dirty = false;
        if (m->c[client].gone) {
            m->phase = MEDIATOR_IDLE;
            return;
        }
        run_request(m);
        return;
    case MEDIATOR_RUN:
        m->phase = MEDIATOR_IDLE;
        if (!m->c[client].gone)
            request_end(m, client, false);
        return;
    case MEDIATOR_IDLE:
        return;
    }
}

static int next_waiting(struct mediator *m)
{
    for (unsigned k = 0; k < m->nclients; k++) {
        unsigned i = (m->next + k) % m->nclients;
        if (m->c[i].pending && !m->c[i].gone) {
            m->next = (i + 1) % m->nclients;
            return (int)i;
        }
    }
    return -1;
}

void mediator_step(struct mediator *m)
{
    for (;;) {
        if (m->phase != MEDIATOR_IDLE) {
            if (m->ops->busy(m->ctx))
                return;
            finish(m);
            continue;
        }
        int client = next_waiting(m);
        if (client < 0)
            return;
        begin(m, (unsigned)client);
    }
}
