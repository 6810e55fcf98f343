/* The container's log in docker's json-file format: one record per line, stream tagged;
 * with a size cap, rotated as docker's json-file driver does (max-size, max-file). */
#ifndef PYCTR_MONITOR_LOGFILE_H
#define PYCTR_MONITOR_LOGFILE_H

#include <stddef.h>

#define LINE_MAX_BYTES 16384 /* a longer line is written in pieces, as docker does */
/* one record at most: every byte of a line escaped as \u00XX, and the fields around it */
#define RECORD_MAX_BYTES (6 * LINE_MAX_BYTES + 128)

struct stream {
    const char *name; /* "stdout" or "stderr" */
    int kind;         /* the frame type attach clients get its bytes as */
    int fd;
    char buf[LINE_MAX_BYTES];
    size_t len;
};

struct logfile {
    const char *path;
    int fd;
    long long size;     /* of the current file, the records still in `out` included */
    long long max_size; /* a record that would take the file past it goes to a new one; 0: no cap */
    int max_file;       /* files kept, the current one among them (1: no old ones) */
    size_t out_len;
    char out[2 * RECORD_MAX_BYTES]; /* records of one read, written with one write */
};

void log_timestamp(char out[40]);
/* Opens (creates, mode 0600 whatever the umask) the log at path, to append to it. */
int log_open(struct logfile *log, const char *path, long long max_size, int max_file);
/* Takes n new bytes at the end of s->buf and writes out every complete line. */
void log_take(struct logfile *log, struct stream *s, size_t n);
/* Writes out what is left, a last line without its newline included. */
void log_flush(struct logfile *log, struct stream *s);
void log_close(struct logfile *log);

#endif
