/*
 * parse.h — reading numbers people type (the monitor's commands, guests'
 * bootargs).  Portable: Umbra, the guests and the host tests share it.
 */
#ifndef UMBRA_CORE_LIB_PARSE_H
#define UMBRA_CORE_LIB_PARSE_H

#include "core/lib/base.h"

/* The whole of s as decimal, or as hex after "0x"/"0X"; false (and *out
 * untouched) for anything else, an empty number, or more than 64 bits. */
bool str_to_u64(const char *s, uint64_t *out);

#endif
