/* The container's log in docker's json-file format:
 *   {"time":"2026-12-01T10:00:00.123456789Z","stream":"stdout","log":"a line\n"}
 *
 * With max-size, a record that would take container.log past it goes to a fresh file
 * instead: container.log becomes container.log.1, .1 becomes .2 and so on, keeping
 * max-file - 1 old files (the oldest is overwritten).  Whole records only, so every file
 * holds at most max-size (one record larger than that alone in a file), and no line is
 * split across files.  Renames keep a reader's open file readable: `pyctr logs -f` reads
 * its file to the end, then goes on with the next one. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "logfile.h"

void log_timestamp(char out[40])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 40 - n, ".%09ldZ", ts.tv_nsec);
}

/* 0600 set after the open too: the umask only takes bits away, and a log made by an older
 * pyctr may be looser.  The container's output may hold secrets. */
static int open_log(const char *path, int flags)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | flags, 0600);
    if (fd >= 0 && fchmod(fd, 0600) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int log_open(struct logfile *log, const char *path, long long max_size, int max_file)
{
    *log = (struct logfile){.path = path, .max_size = max_size, .max_file = max_file < 1 ? 1 : max_file};
    log->fd = open_log(path, 0);
    struct stat st;
    if (log->fd < 0 || fstat(log->fd, &st) < 0)
        return -1;
    log->size = st.st_size; /* a restarted container appends to its last run's log */
    return 0;
}

static void write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* a full disk: the records are lost, the container runs on */
        data += n;
        len -= (size_t)n;
    }
}

static void write_out(struct logfile *log, size_t len)
{
    write_all(log->fd, log->out, len);
    memmove(log->out, log->out + len, log->out_len - len);
    log->out_len -= len;
}

static void backup_name(char out[PATH_MAX], const char *path, int i)
{
    snprintf(out, PATH_MAX, "%s.%d", path, i);
}

/* container.log -> .1 -> .2 ... (max_file - 1 old files at most), then a new
 * container.log.  Only the old files there are moved: a large max-file costs nothing
 * until the files exist.  The oldest is removed before the renames rather than renamed
 * over: ext4 (auto_da_alloc) flushes a file renamed over another one, which stalled the
 * monitor for tens of ms under load. */
static void rotate(struct logfile *log)
{
    char from[PATH_MAX], to[PATH_MAX];
    int kept = 0;
    for (; kept < log->max_file - 1; kept++) {
        backup_name(to, log->path, kept + 1);
        if (access(to, F_OK) < 0)
            break;
    }
    if (kept > 0 && kept == log->max_file - 1) {
        backup_name(to, log->path, kept--);
        unlink(to);
    }
    for (int i = kept + 1; i >= 2; i--) {
        backup_name(from, log->path, i - 1);
        backup_name(to, log->path, i);
        rename(from, to);
    }
    backup_name(to, log->path, 1);
    int fd = -1;
    if (log->max_file > 1 ? rename(log->path, to) : unlink(log->path))
        perror("pyctr-monitor: rotating the log");
    else if ((fd = open_log(log->path, O_TRUNC)) < 0)
        perror("pyctr-monitor: a new log");
    if (fd >= 0) {
        close(log->fd);
        log->fd = fd;
    }
    log->size = 0; /* failed, the records go on into the old file: try again a max-size later */
}

static char *escape(char *p, const char *line, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *p++ = (char)c;
            continue;
        }
        *p++ = '\\';
        if (c == '"' || c == '\\') {
            *p++ = (char)c;
        } else if (c == '\n') {
            *p++ = 'n';
        } else if (c == '\r') {
            *p++ = 'r';
        } else if (c == '\t') {
            *p++ = 't';
        } else {
            memcpy(p, "u00", 3);
            p[3] = hex[c >> 4];
            p[4] = hex[c & 15];
            p += 5;
        }
    }
    return p;
}

/* One JSON record into `out`; into a new file if it would take this one past max-size. */
static void write_record(struct logfile *log, const char *ts, const char *stream, const char *line, size_t len)
{
    if (sizeof log->out - log->out_len < RECORD_MAX_BYTES)
        write_out(log, log->out_len);
    size_t start = log->out_len;
    char *p = log->out + start;
    p += sprintf(p, "{\"time\":\"%s\",\"stream\":\"%s\",\"log\":\"", ts, stream);
    p = escape(p, line, len);
    memcpy(p, "\"}\n", 3);
    log->out_len = (size_t)(p + 3 - log->out);
    long long record = (long long)(log->out_len - start);
    if (log->max_size > 0 && log->size > 0 && log->size + record > log->max_size) {
        write_out(log, start); /* the records before it end the old file */
        rotate(log);
    }
    log->size += record;
}

/* Writes out every complete line in the buffer (and, at the end or when one line fills
 * it, the rest).
 * The lines of one read arrived together: they share a time. */
static void flush_lines(struct logfile *log, struct stream *s, int all)
{
    char ts[40];
    log_timestamp(ts);
    size_t start = 0;
    for (char *nl; (nl = memchr(s->buf + start, '\n', s->len - start)) != NULL; start = (size_t)(nl + 1 - s->buf))
        write_record(log, ts, s->name, s->buf + start, (size_t)(nl + 1 - s->buf) - start);
    /* a partial line only at the end, or when one line fills the whole buffer (docker's
     * 16K split): a full buffer that ends in a partial line after whole ones keeps it,
     * for the next read to finish */
    if ((all || (start == 0 && s->len == sizeof s->buf)) && start < s->len) {
        write_record(log, ts, s->name, s->buf + start, s->len - start);
        start = s->len;
    }
    memmove(s->buf, s->buf + start, s->len - start);
    s->len -= start;
    write_out(log, log->out_len);
}

void log_take(struct logfile *log, struct stream *s, size_t n)
{
    s->len += n;
    flush_lines(log, s, 0);
}

void log_flush(struct logfile *log, struct stream *s)
{
    flush_lines(log, s, 1);
}

void log_close(struct logfile *log)
{
    write_out(log, log->out_len);
    if (log->fd >= 0)
        close(log->fd);
    log->fd = -1;
}
