/*
 * sbi_spec.h — the constants of the RISC-V Supervisor Binary Interface
 * specification (v2.0): extension and function ids, error codes, HSM states,
 * reset types.  Shared by Umbra (which calls OpenSBI and answers its guests)
 * and by the built-in guests (which call whoever is below them).
 */
#ifndef UMBRA_CORE_SBI_SPEC_H
#define UMBRA_CORE_SBI_SPEC_H

#define SBI_EXT_LEGACY_SET_TIMER   0x00
#define SBI_EXT_LEGACY_PUTCHAR     0x01
#define SBI_EXT_LEGACY_GETCHAR     0x02
#define SBI_EXT_LEGACY_SHUTDOWN    0x08
#define SBI_EXT_LEGACY_LAST        0x0F
#define SBI_EXT_BASE   0x10
#define SBI_EXT_TIME   0x54494D45
#define SBI_EXT_IPI    0x735049
#define SBI_EXT_RFENCE 0x52464E43
#define SBI_EXT_HSM    0x48534D
#define SBI_EXT_SRST   0x53525354
#define SBI_EXT_DBCN   0x4442434E
#define SBI_EXT_FWFT   0x46574654
#define SBI_EXT_DBTR   0x44425452

#define SBI_SUCCESS                0
#define SBI_ERR_FAILED            -1
#define SBI_ERR_NOT_SUPPORTED     -2
#define SBI_ERR_INVALID_PARAM     -3
#define SBI_ERR_DENIED            -4
#define SBI_ERR_INVALID_ADDRESS   -5
#define SBI_ERR_ALREADY_AVAILABLE -6
#define SBI_ERR_ALREADY_STARTED   -7
#define SBI_ERR_ALREADY_STOPPED   -8
#define SBI_ERR_NO_SHMEM          -9
#define SBI_ERR_BAD_RANGE         -11

/* BASE function ids */
#define SBI_BASE_GET_SPEC_VERSION 0
#define SBI_BASE_GET_IMPL_ID      1
#define SBI_IMPL_ID_OPENSBI       1   /* SBI 2.0 section 4.9: implementation ids */
#define SBI_BASE_GET_IMPL_VERSION 2
#define SBI_BASE_PROBE_EXTENSION  3
#define SBI_BASE_GET_MVENDORID    4
#define SBI_BASE_GET_MARCHID      5
#define SBI_BASE_GET_MIMPID       6

/* RFENCE function ids */
#define SBI_RFENCE_FENCE_I          0
#define SBI_RFENCE_SFENCE_VMA       1
#define SBI_RFENCE_SFENCE_VMA_ASID  2
#define SBI_RFENCE_HFENCE_VVMA_ASID 5
#define SBI_RFENCE_HFENCE_VVMA      6

/* FWFT (firmware features): functions, features, flags */
#define SBI_FWFT_SET 0
#define SBI_FWFT_GET 1
#define SBI_FWFT_MISALIGNED_EXC_DELEG  0
#define SBI_FWFT_LANDING_PAD           1
#define SBI_FWFT_SHADOW_STACK          2
#define SBI_FWFT_DOUBLE_TRAP           3
#define SBI_FWFT_PTE_AD_HW_UPDATING    4
#define SBI_FWFT_POINTER_MASKING_PMLEN 5
#define SBI_FWFT_FLAG_LOCK             1ul

/* DBTR (debug triggers): functions */
#define SBI_DBTR_NUM_TRIGGERS 0
#define SBI_DBTR_SET_SHMEM    1
#define SBI_DBTR_READ         2
#define SBI_DBTR_INSTALL      3
#define SBI_DBTR_UPDATE       4
#define SBI_DBTR_UNINSTALL    5
#define SBI_DBTR_ENABLE       6
#define SBI_DBTR_DISABLE      7

/* HSM */
#define SBI_HSM_HART_START      0
#define SBI_HSM_HART_STOP       1
#define SBI_HSM_HART_GET_STATUS 2
#define SBI_HSM_HART_SUSPEND    3
#define SBI_HSM_STATE_STARTED       0
#define SBI_HSM_STATE_STOPPED       1
#define SBI_HSM_STATE_START_PENDING 2
#define SBI_HSM_STATE_STOP_PENDING  3
#define SBI_HSM_STATE_SUSPENDED     4
#define SBI_HSM_STATE_SUSPEND_PENDING 5
#define SBI_HSM_STATE_RESUME_PENDING  6
#define SBI_HSM_SUSPEND_RETENTIVE      0x00000000u
#define SBI_HSM_SUSPEND_NON_RETENTIVE  0x80000000u

/* SRST */
#define SBI_SRST_SHUTDOWN    0
#define SBI_SRST_COLD_REBOOT 1
#define SBI_SRST_WARM_REBOOT 2
#define SBI_SRST_REASON_NONE    0
#define SBI_SRST_REASON_FAILURE 1

/* DBCN */
#define SBI_DBCN_WRITE      0
#define SBI_DBCN_READ       1
#define SBI_DBCN_WRITE_BYTE 2

struct sbiret {
    long error;
    long value;
};

#endif
