/* The container's log in docker's json-file format:
 *   {"time":"2026-12-01T10:00:00.123456789Z","stream":"stdout","log":"a line\n"} */
#define _GNU_SOURCE
#include <string.h>
#include <time.h>

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

/* One JSON record; the line's bytes are escaped as JSON strings need. */
static void write_record(FILE *log, const char *stream, const char *line, size_t len)
{
    char ts[40];
    log_timestamp(ts);
    fprintf(log, "{\"time\":\"%s\",\"stream\":\"%s\",\"log\":\"", ts, stream);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c == '"' || c == '\\')
            fprintf(log, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", log);
        else if (c == '\r')
            fputs("\\r", log);
        else if (c == '\t')
            fputs("\\t", log);
        else if (c < 0x20)
            fprintf(log, "\\u%04x", c);
        else
            fputc(c, log);
    }
    fputs("\"}\n", log);
}

/* Writes out every complete line in the buffer (and, at the end or when full, the rest). */
static void flush_lines(FILE *log, struct stream *s, int all)
{
    size_t start = 0;
    for (size_t i = 0; i < s->len; i++) {
        if (s->buf[i] == '\n') {
            write_record(log, s->name, s->buf + start, i + 1 - start);
            start = i + 1;
        }
    }
    if ((all || s->len == sizeof s->buf) && start < s->len) {
        write_record(log, s->name, s->buf + start, s->len - start);
        start = s->len;
    }
    memmove(s->buf, s->buf + start, s->len - start);
    s->len -= start;
    fflush(log);
}

void log_take(FILE *log, struct stream *s, size_t n)
{
    s->len += n;
    flush_lines(log, s, 0);
}

void log_flush(FILE *log, struct stream *s)
{
    flush_lines(log, s, 1);
}
