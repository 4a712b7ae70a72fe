/*
 * user.h — running a single access in U-mode, for the checks of what a
 * user process may touch.  The guest maps one page of user code (user.S:
 * a load, a store and a jump, each followed by ecall) at USER_CODE_VA and
 * enters it with sret; whatever trap ends the snippet (its ecall, or the
 * fault the access raised) brings the guest back to the caller in S-mode.
 */
#ifndef UMBRA_GUESTS_SELFTESTS_USER_H
#define UMBRA_GUESTS_SELFTESTS_USER_H

#include "guests/common/trap.h"
#include "guests/selftests/sv39.h"

/* Where the user code page is mapped (U, R, X) by user_map_code(). */
#define USER_CODE_VA 0x1000000000ull

enum user_access {
    USER_LOAD,      /* ld from addr; the value comes back */
    USER_STORE,     /* sd value to addr */
    USER_FETCH,     /* jump to addr, which must `ret` if it can run */
};

/* Maps the user code page into the tree under root. */
void user_map_code(pte_t *root);

/* Performs `access` at addr in U-mode under the current satp.  Returns
 * what was caught as trap_catch does: count 0 if the snippet reached its
 * ecall (the access succeeded), else the fault's cause and stval.
 * *loaded gets the value of a successful USER_LOAD. */
struct trap_catch user_run(enum user_access access, uint64_t addr, uint64_t value,
                           uint64_t *loaded);

#endif
