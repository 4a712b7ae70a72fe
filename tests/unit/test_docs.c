/*
 * test_docs.c — every key the config parser accepts is documented in
 * docs/architecture.md's key table (as `key=`), so the table cannot fall
 * behind the parser again.  The parser's own key list is the source.
 */
#include <stdlib.h>
#include <string.h>
#include "core/portable/config.h"
#include "tests/unit/unit.h"

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

void unit_main(void)
{
    const char *doc = read_file("docs/architecture.md");
    CHECK(doc != NULL);
    if (!doc)
        return;
    unsigned keys = 0;
    for (unsigned i = 0; config_key_name(i); i++, keys++) {
        char want[64];
        snprintf(want, sizeof(want), "| `%s=", config_key_name(i));
        if (!strstr(doc, want))
            fprintf(stderr, "config key '%s' is not in docs/architecture.md's key table\n", config_key_name(i));
        CHECK(strstr(doc, want) != NULL);
    }
    /* vm, staging, trace and the per-VM keys: a parser that lists none
     * would make the loop above pass by doing nothing. */
    CHECK(keys >= 12);
}
