/*
 * file.c — open files: the console and pipes, shared between processes
 * through fork like Unix file descriptors.
 *
 * A pipe is a 4 KiB ring buffer (one frame).  Reads block while the pipe
 * is empty and a writer remains, and return what is there (0 once every
 * writer has closed).  Writes block while there is no room and a reader
 * remains; a write of at most PIPE_BUF_SIZE bytes is atomic (it waits for
 * room for all of it), so records written by several processes never
 * interleave.  Writing with no reader left fails with EPIPE.
 */
#include "guests/common/console.h"
#include "core/lib/fmt.h"
#include "guests/tinyos/kernel.h"

#define CONSOLE_CHUNK 256

enum file_kind { FILE_FREE, FILE_CONSOLE, FILE_PIPE_READ, FILE_PIPE_WRITE };

struct pipe {
    bool used;
    uint8_t *buf;
    uint64_t read_total;        /* bytes ever read; ring offset = total % size */
    uint64_t write_total;
    unsigned readers, writers;  /* open read / write ends */
};

struct file {
    enum file_kind kind;
    unsigned refs;              /* descriptors naming this file */
    struct pipe *pipe;
};

static struct file files[NFILE];
static struct pipe pipes[NPIPE];

void file_init(void)
{
    for (unsigned i = 0; i < NFILE; i++)
        files[i] = (struct file){ 0 };
    for (unsigned i = 0; i < NPIPE; i++)
        pipes[i] = (struct pipe){ 0 };
}

static struct file *file_alloc(enum file_kind kind, struct pipe *pipe)
{
    for (unsigned i = 0; i < NFILE; i++) {
        if (files[i].kind == FILE_FREE) {
            files[i] = (struct file){ .kind = kind, .refs = 1, .pipe = pipe };
            return &files[i];
        }
    }
    return NULL;
}

static int fd_alloc(struct proc *p, struct file *f)
{
    for (int fd = 0; fd < NFD; fd++) {
        if (!p->files[fd]) {
            p->files[fd] = f;
            return fd;
        }
    }
    return -1;
}

static struct file *fd_file(struct proc *p, int fd)
{
    return fd >= 0 && fd < NFD ? p->files[fd] : NULL;
}

long file_open_console(struct proc *p)
{
    struct file *f = file_alloc(FILE_CONSOLE, NULL);
    if (!f)
        return -TINYOS_EMFILE;
    f->refs = 2;
    p->files[TINYOS_FD_CONSOLE] = f;
    p->files[TINYOS_FD_CONSOLE + 1] = f;
    return 0;
}

static struct pipe *pipe_alloc(void)
{
    for (unsigned i = 0; i < NPIPE; i++) {
        if (pipes[i].used)
            continue;
        uint64_t buf = frame_alloc();
        if (!buf)
            return NULL;
        pipes[i] = (struct pipe){ .used = true, .buf = pa_to_ptr(buf), .readers = 1,
                                  .writers = 1 };
        return &pipes[i];
    }
    return NULL;
}

static void pipe_free(struct pipe *pi)
{
    frame_unref(ptr_to_pa(pi->buf));
    pi->used = false;
}

long file_pipe(struct proc *p, uint64_t fds_uva)
{
    struct pipe *pi = pipe_alloc();
    if (!pi)
        return -TINYOS_ENOMEM;
    struct file *rf = file_alloc(FILE_PIPE_READ, pi);
    struct file *wf = rf ? file_alloc(FILE_PIPE_WRITE, pi) : NULL;
    int fds[2] = { -1, -1 };
    if (wf) {
        fds[0] = fd_alloc(p, rf);
        fds[1] = fds[0] >= 0 ? fd_alloc(p, wf) : -1;
    }
    if (fds[1] < 0 || uaccess_copy_out(p, fds_uva, fds, sizeof(fds)) < 0) {
        if (fds[0] >= 0)
            p->files[fds[0]] = NULL;
        if (fds[1] >= 0)
            p->files[fds[1]] = NULL;
        if (rf)
            rf->kind = FILE_FREE;
        if (wf)
            wf->kind = FILE_FREE;
        pipe_free(pi);
        return wf ? -TINYOS_EMFILE : -TINYOS_ENOMEM;
    }
    return 0;
}

/* Sleep channels: readers wait on the pipe, writers on its buffer. */
static const void *pipe_readers_channel(struct pipe *pi)
{
    return pi;
}

static const void *pipe_writers_channel(struct pipe *pi)
{
    return pi->buf;
}

/* Copies n bytes between the ring at offset `total` and user memory. */
static long pipe_copy(struct proc *p, struct pipe *pi, uint64_t total, uint64_t uva, size_t n,
                      bool to_user)
{
    while (n) {
        size_t off = (size_t)(total % PIPE_BUF_SIZE);
        size_t chunk = MIN(n, PIPE_BUF_SIZE - off);
        long r = to_user ? uaccess_copy_out(p, uva, pi->buf + off, chunk)
                         : uaccess_copy_in(p, pi->buf + off, uva, chunk);
        if (r < 0)
            return r;
        total += chunk;
        uva += chunk;
        n -= chunk;
    }
    return 0;
}

static long pipe_read(struct proc *p, struct pipe *pi, uint64_t buf, uint64_t len)
{
    while (pi->write_total == pi->read_total) {
        if (pi->writers == 0)
            return 0;
        proc_sleep(pipe_readers_channel(pi));
    }
    size_t n = (size_t)MIN(len, pi->write_total - pi->read_total);
    long r = pipe_copy(p, pi, pi->read_total, buf, n, true);
    if (r < 0)
        return r;
    pi->read_total += n;
    proc_wakeup(pipe_writers_channel(pi));
    return (long)n;
}

static long pipe_write(struct proc *p, struct pipe *pi, uint64_t buf, uint64_t len)
{
    uint64_t done = 0;
    while (done < len) {
        if (pi->readers == 0)
            return done ? (long)done : -TINYOS_EPIPE;
        uint64_t room = PIPE_BUF_SIZE - (pi->write_total - pi->read_total);
        uint64_t want = len - done;
        /* Small writes go in whole or not at all (atomic records). */
        if (room == 0 || (len <= PIPE_BUF_SIZE && room < want)) {
            proc_sleep(pipe_writers_channel(pi));
            continue;
        }
        size_t n = (size_t)MIN(room, want);
        long r = pipe_copy(p, pi, pi->write_total, buf + done, n, false);
        if (r < 0)
            return r;
        pi->write_total += n;
        done += n;
        proc_wakeup(pipe_readers_channel(pi));
    }
    return (long)done;
}

static long console_write_user(struct proc *p, uint64_t buf, uint64_t len)
{
    char chunk[CONSOLE_CHUNK];
    for (uint64_t done = 0; done < len;) {
        size_t n = (size_t)MIN(len - done, (uint64_t)sizeof(chunk));
        if (uaccess_copy_in(p, chunk, buf + done, n) < 0)
            return -TINYOS_EFAULT;
        /* The kernel stack is direct mapped: VA == PA, as DBCN needs. */
        console_write(chunk, n);
        done += n;
    }
    return (long)len;
}

long file_read(struct proc *p, int fd, uint64_t buf, uint64_t len)
{
    struct file *f = fd_file(p, fd);
    if (!f || f->kind != FILE_PIPE_READ)
        return -TINYOS_EBADF;
    return pipe_read(p, f->pipe, buf, len);
}

long file_write(struct proc *p, int fd, uint64_t buf, uint64_t len)
{
    struct file *f = fd_file(p, fd);
    if (f && f->kind == FILE_CONSOLE)
        return console_write_user(p, buf, len);
    if (!f || f->kind != FILE_PIPE_WRITE)
        return -TINYOS_EBADF;
    return pipe_write(p, f->pipe, buf, len);
}

static void file_put(struct file *f)
{
    if (--f->refs > 0)
        return;
    struct pipe *pi = f->pipe;
    if (f->kind == FILE_PIPE_READ)
        pi->readers--;
    if (f->kind == FILE_PIPE_WRITE)
        pi->writers--;
    f->kind = FILE_FREE;
    if (!pi)
        return;
    /* Wake both sides: readers may now see end of file, writers EPIPE. */
    proc_wakeup(pipe_readers_channel(pi));
    proc_wakeup(pipe_writers_channel(pi));
    if (pi->readers == 0 && pi->writers == 0)
        pipe_free(pi);
}

long file_close(struct proc *p, int fd)
{
    struct file *f = fd_file(p, fd);
    if (!f)
        return -TINYOS_EBADF;
    p->files[fd] = NULL;
    file_put(f);
    return 0;
}

void file_dup_all(struct proc *from, struct proc *to)
{
    for (int fd = 0; fd < NFD; fd++) {
        to->files[fd] = from->files[fd];
        if (to->files[fd])
            to->files[fd]->refs++;
    }
}

void file_close_all(struct proc *p)
{
    for (int fd = 0; fd < NFD; fd++) {
        if (p->files[fd])
            file_close(p, fd);
    }
}

bool file_all_closed(void)
{
    for (unsigned i = 0; i < NFILE; i++) {
        if (files[i].kind != FILE_FREE)
            return false;
    }
    for (unsigned i = 0; i < NPIPE; i++) {
        if (pipes[i].used)
            return false;
    }
    return true;
}
