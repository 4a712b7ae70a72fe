/*
 * user.c — the S-mode half of user.h: maps the user code page and turns
 * the trap that ends a user snippet back into a return to the caller.
 */
#include "guests/selftests/user.h"

#include "core/lib/fmt.h"
#include "guests/common/csr.h"


/* user_entry.S */
extern char user_code_page[], user_code_load[], user_code_store[], user_code_fetch[];
extern char user_code_end[];
void user_enter(uint64_t pc, uint64_t arg0, uint64_t arg1);
void user_resume(void);

static struct trap_frame user_last_trap;

/* Claims only traps taken from U-mode (sstatus.SPP = 0): it records them
 * and resumes the kernel in user_resume; S-mode traps go on to catching. */
static bool user_on_trap(struct trap_frame *tf)
{
    if (tf->sstatus & SSTATUS_SPP)
        return false;
    user_last_trap = *tf;
    tf->sepc = ptr_to_pa(user_resume);
    tf->sstatus |= SSTATUS_SPP;
    return true;
}

void user_map_code(pte_t *root)
{
    if (user_code_end - user_code_page > (long)PAGE_SIZE)
        panic("user code does not fit one page");
    *sv39_slot(root, USER_CODE_VA, 0) =
        sv39_leaf(ptr_to_pa(user_code_page), PTE_U | PTE_R | PTE_X | PTE_A | PTE_D);
}

static uint64_t user_entry_va(enum user_access access)
{
    const char *entry = access == USER_LOAD    ? user_code_load
                        : access == USER_STORE ? user_code_store
                                               : user_code_fetch;
    return USER_CODE_VA + (uint64_t)(entry - user_code_page);
}

struct trap_catch user_run(enum user_access access, uint64_t addr, uint64_t value,
                           uint64_t *loaded)
{
    user_last_trap = (struct trap_frame){ 0 };
    trap_on_exception(user_on_trap);
    user_enter(user_entry_va(access), addr, value);
    trap_on_exception(NULL);
    if (user_last_trap.scause == CAUSE_ECALL_U) {
        if (loaded)
            *loaded = user_last_trap.regs[11];      /* a1 */
        return (struct trap_catch){ 0 };
    }
    return (struct trap_catch){ .count = 1, .cause = user_last_trap.scause,
                                .stval = user_last_trap.stval, .sepc = user_last_trap.sepc };
}
