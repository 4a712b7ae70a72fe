/*
 * frame.c — tinyos's physical memory: every free 4 KiB frame of RAM after
 * the kernel image on one free list, and a reference count per frame so
 * copy-on-write pages can be shared by several address spaces.  The
 * kernel reaches every frame through its direct map (VA == PA), so a
 * frame's address is also a pointer to it.
 */
#include "core/lib/fmt.h"
#include "guests/tinyos/kernel.h"

struct free_frame {
    struct free_frame *next;
};

static struct free_frame *frame_free_list;
static size_t frame_free_frames;
static uint64_t frame_base;          /* first managed frame */
static uint64_t frame_limit;         /* end of managed frames */
static uint16_t *frame_refs;         /* one count per frame in [base, limit) */

static size_t frame_index(uint64_t pa)
{
    return (size_t)((pa - frame_base) / PAGE_SIZE);
}

bool frame_is_managed(uint64_t pa)
{
    return pa >= frame_base && pa < frame_limit;
}

static void frame_push(uint64_t pa)
{
    struct free_frame *f = pa_to_ptr(pa);
    f->next = frame_free_list;
    frame_free_list = f;
    frame_free_frames++;
}

void frame_init(uint64_t start, uint64_t end, uint64_t hole_start, uint64_t hole_end)
{
    start = ALIGN_UP(start, PAGE_SIZE);
    end = ALIGN_DOWN(end, PAGE_SIZE);
    /* The count array lives at the start of the range it describes. */
    size_t frames = (size_t)((end - start) / PAGE_SIZE);
    frame_refs = pa_to_ptr(start);
    uint64_t array_end = ALIGN_UP(start + frames * sizeof(uint16_t), PAGE_SIZE);
    memset(frame_refs, 0, (size_t)(array_end - start));
    frame_base = start;
    frame_limit = end;
    /* Pushed from the top down so the lowest frames are handed out first. */
    for (uint64_t pa = end; pa > array_end;) {
        pa -= PAGE_SIZE;
        if (pa + PAGE_SIZE > hole_start && pa < hole_end)
            continue;
        frame_push(pa);
    }
}

uint64_t frame_alloc(void)
{
    struct free_frame *f = frame_free_list;
    if (!f)
        return 0;
    frame_free_list = f->next;
    frame_free_frames--;
    uint64_t pa = ptr_to_pa(f);
    frame_refs[frame_index(pa)] = 1;
    page_zero(pa);
    return pa;
}

void frame_ref(uint64_t pa)
{
    ASSERT(frame_is_managed(pa) && frame_refs[frame_index(pa)] > 0);
    frame_refs[frame_index(pa)]++;
}

void frame_unref(uint64_t pa)
{
    ASSERT(frame_is_managed(pa) && frame_refs[frame_index(pa)] > 0);
    if (--frame_refs[frame_index(pa)] == 0)
        frame_push(pa);
}

unsigned frame_refcount(uint64_t pa)
{
    return frame_is_managed(pa) ? frame_refs[frame_index(pa)] : 0;
}

size_t frame_free_count(void)
{
    return frame_free_frames;
}

void page_zero(uint64_t pa)
{
    uint64_t *p = pa_to_ptr(pa);
    for (size_t i = 0; i < PAGE_SIZE / 8; i += 4) {
        p[i] = 0;
        p[i + 1] = 0;
        p[i + 2] = 0;
        p[i + 3] = 0;
    }
}

void page_copy(uint64_t dst_pa, uint64_t src_pa)
{
    uint64_t *d = pa_to_ptr(dst_pa);
    const uint64_t *s = pa_to_ptr(src_pa);
    for (size_t i = 0; i < PAGE_SIZE / 8; i += 4) {
        d[i] = s[i];
        d[i + 1] = s[i + 1];
        d[i + 2] = s[i + 2];
        d[i + 3] = s[i + 3];
    }
}
