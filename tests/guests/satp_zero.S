/*
 * satp_zero.S — regression guest for a fast-path isolation bug: a guest
 * writing satp = 0 through a register (not x0) must stay in its own
 * guest-physical space.  The ssp fast path once matched such a write
 * against an empty SPT-buffer entry (key 0) and loaded vsatp = 0, letting
 * the guest run on host-physical addresses.
 *
 * How it tells: Umbra places a lone VM's RAM at host 0x8060_0000, so
 * host-physical 0x80a0_0000 is guest-physical 0x8040_0000.  The guest
 * copies a stub to both GPA 0x80a0_0000 and GPA 0x8040_0000 (so execution
 * continues either way), leaves marker 0x11111111 at GPA 0x80b0_0000 and
 * 0x22222222 at GPA 0x8050_0000 (= host 0x80b0_0000), switches satp to 0 via
 * a0 and reads 0x80b0_0000: 'S' = its own memory (correct), 'H' = host
 * memory, '?' = neither.  Prints the letter, then shuts down.
 */
    .section .text
    .globl _start
_start:
    la      t0, stub_start
    la      t1, stub_end
    li      t2, 0x80a00000
    li      t3, 0x80400000
1:  lw      t4, 0(t0)
    sw      t4, 0(t2)
    sw      t4, 0(t3)
    addi    t0, t0, 4
    addi    t2, t2, 4
    addi    t3, t3, 4
    bltu    t0, t1, 1b
    fence.i
    li      t0, 0x80b00000
    li      t1, 0x11111111
    sw      t1, 0(t0)
    li      t0, 0x80500000
    li      t1, 0x22222222
    sw      t1, 0(t0)
    li      t0, 0x80a00000
    jr      t0

    .balign 4
stub_start:
    li      a0, 0
    csrw    satp, a0                /* rs1 = a0, value 0 */
    li      t0, 0x80b00000
    lw      s1, 0(t0)
    li      t1, 0x11111111
    li      a0, 'S'
    beq     s1, t1, 2f
    li      t1, 0x22222222
    li      a0, 'H'
    beq     s1, t1, 2f
    li      a0, '?'
2:  li      a7, 1                   /* legacy console_putchar */
    ecall
    li      a0, 10
    li      a7, 1
    ecall
    li      a7, 0x53525354          /* SRST shutdown */
    li      a6, 0
    li      a0, 0
    li      a1, 0
    ecall
3:  j       3b
    .balign 4
stub_end:
