/*
 * uart_hello.S — a guest that prints only through the ns16550 at
 * 0x1000_0000, polling LSR.THRE before every byte, as a tiny kernel
 * written for bare QEMU virt does.  It programs the UART, prints three
 * lines, then reads the registers back (after waiting for TEMT, so
 * nothing is in flight) and prints what it read, including a loopback
 * round trip, so any difference between Umbra's virtual UART and QEMU's
 * 16550 shows in its output.  It ends with SBI SRST.  Natively and under
 * every mode its "uart:" lines must be the same.
 */
#include "uart.inc"

    .section .text
    .globl _start
_start:
    uart_init
    li      t0, UART
    li      t1, 0x5a
    sb      t1, UART_SCR(t0)
    la      a0, hello
    call    puts
    la      a0, line2
    call    puts
    la      a0, line3
    call    puts

    /* Read the registers back once the transmitter is empty. */
    li      t0, UART
1:  lbu     t1, UART_LSR(t0)
    andi    t1, t1, 0x40
    beqz    t1, 1b
    la      s0, values
    lbu     t1, UART_LSR(t0)
    sb      t1, 0(s0)
    lbu     t1, UART_IIR(t0)
    sb      t1, 1(s0)
    lbu     t1, UART_LCR(t0)
    sb      t1, 2(s0)
    lbu     t1, UART_IER(t0)
    sb      t1, 3(s0)
    lbu     t1, UART_MCR(t0)
    sb      t1, 4(s0)
    lbu     t1, UART_MSR(t0)
    sb      t1, 5(s0)
    lbu     t1, UART_SCR(t0)
    sb      t1, 6(s0)
    li      t1, 0x83                    /* DLAB on: the divisor latch */
    sb      t1, UART_LCR(t0)
    lbu     t1, UART_RBR(t0)
    sb      t1, 7(s0)
    lbu     t1, UART_IER(t0)
    sb      t1, 8(s0)
    li      t1, 0x03
    sb      t1, UART_LCR(t0)
    /* Loopback: MSR follows MCR, and a THR byte is received, not sent. */
    li      t1, 0x1a                    /* LOOP | OUT2 | RTS */
    sb      t1, UART_MCR(t0)
    lbu     t1, UART_MSR(t0)
    sb      t1, 9(s0)
    li      t1, 'L'
    sb      t1, UART_RBR(t0)
    lbu     t1, UART_LSR(t0)
    sb      t1, 10(s0)
    lbu     t1, UART_RBR(t0)
    sb      t1, 11(s0)
    lbu     t1, UART_LSR(t0)
    sb      t1, 12(s0)
    li      t1, 0x03
    sb      t1, UART_MCR(t0)

    /* One line per value: "uart: NAME=0xNN". */
    la      s1, names
    li      s2, 13
2:  la      a0, prefix
    call    puts
    mv      a0, s1
    call    puts
    lbu     a0, 0(s0)
    call    puthex
    la      a0, crlf
    call    puts
3:  lbu     t1, 0(s1)                   /* next name */
    addi    s1, s1, 1
    bnez    t1, 3b
    addi    s0, s0, 1
    addi    s2, s2, -1
    bnez    s2, 2b
    la      a0, bye
    call    puts
    sbi_shutdown

    uart_lib

    .section .rodata
hello:  .asciz "uart: hello through the ns16550\r\n"
line2:  .asciz "uart: polled, THRE before every byte\r\n"
line3:  .asciz "uart: registers as read back:\r\n"
prefix: .asciz "uart: "
crlf:   .asciz "\r\n"
bye:    .asciz "uart: bye\r\n"
names:  .asciz "lsr="
        .asciz "iir="
        .asciz "lcr="
        .asciz "ier="
        .asciz "mcr="
        .asciz "msr="
        .asciz "scr="
        .asciz "dll="
        .asciz "dlm="
        .asciz "loop msr="
        .asciz "loop lsr after THR="
        .asciz "loop rbr="
        .asciz "loop lsr after RBR="

    .section .data
values: .space 16
