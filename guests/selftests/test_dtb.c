/*
 * test_dtb.c — test=dtb: print the device tree this guest booted with, as
 * hex lines ("dtb OFFSET HEX"), so tests/integration/test_dtb.py can
 * compare the tree a VM really finds in its memory with QEMU virt's own
 * (-machine dumpdtb).  The only check here is that the blob is well formed.
 */
#include "core/lib/fmt.h"
#include "guests/common/check.h"
#include "guests/common/console.h"
#include "guests/selftests/selftests.h"

#define DTB_LINE_BYTES 64

static void dtb_print_line(const uint8_t *bytes, size_t offset, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char hex[2 * DTB_LINE_BYTES + 1];
    for (size_t i = 0; i < len; i++) {
        hex[2 * i] = digits[bytes[offset + i] >> 4];
        hex[2 * i + 1] = digits[bytes[offset + i] & 15];
    }
    hex[2 * len] = '\0';
    console_line("dtb %06lx %s", (unsigned long)offset, hex);
}

bool selftests_test_dtb(const struct platform *p)
{
    check_true(p->dtb_error == 0 && p->dtb_size > 0, "the DTB is well formed (fdt_check %d)", p->dtb_error);
    console_line("dtb size %lu", (unsigned long)p->dtb_size);
    for (size_t off = 0; off < p->dtb_size; off += DTB_LINE_BYTES)
        dtb_print_line(p->dtb, off, MIN(DTB_LINE_BYTES, p->dtb_size - off));
    return selftests_summary("dtb");
}
