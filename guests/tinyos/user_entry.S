/*
 * user_entry.S — where every tinyos process starts life in U-mode (the
 * first byte of the user image, TINYOS_USER_TEXT_BASE).  The kernel sets
 * sp to the top of the stack and a0..a3 to the workload parameters;
 * user_main's return value, the workload checksum, becomes the exit status.
 */
#include "guests/tinyos/abi.h"

    .section .text.user_entry, "ax"
    .globl user_entry
user_entry:
    call    user_main
    li      a7, SYS_EXIT
    ecall
1:  j       1b
