/*
 * entry_layout.h — numbers shared by entry.S and the C kernel: the layout
 * of struct user_frame (checked with _Static_assert in kernel.h) and the
 * sstatus bits the return to U-mode sets up.  Assembler-safe.
 */
#ifndef UMBRA_TINYOS_ENTRY_LAYOUT_H
#define UMBRA_TINYOS_ENTRY_LAYOUT_H

#define UFRAME_SEPC (32 * 8)    /* after x0..x31 */
#define UFRAME_SIZE (34 * 8)    /* sepc and a pad word keep sp 16-aligned */

#include "core/lib/riscv.h"   /* SSTATUS_SPIE, SSTATUS_SPP */

#endif
