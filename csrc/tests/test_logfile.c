/* The monitor's json-file log: records whole, rotated past max-size, max-file files kept,
 * mode 0600 whatever the umask. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../monitor/logfile.h"
#include "check.h"

static char base[] = "/tmp/pyctr-test-logfile-XXXXXX";
static struct logfile log; /* large for a stack, as in the monitor */
static struct stream out = {.name = "stdout", .kind = 'o', .fd = -1};

static void name(char *p, const char *file)
{
    snprintf(p, 256, "%s/%s", base, file);
}

/* The text as the container writes it: into the stream's buffer, then taken. */
static void say(const char *text)
{
    size_t n = strlen(text);
    memcpy(out.buf + out.len, text, n);
    log_take(&log, &out, n);
}

static char *slurp(const char *file, long *size)
{
    char p[256];
    name(p, file);
    FILE *f = fopen(p, "r");
    if (!f) {
        *size = -1;
        return NULL;
    }
    static char data[1 << 20];
    *size = (long)fread(data, 1, sizeof data - 1, f);
    data[*size] = 0;
    fclose(f);
    return data;
}

/* The numbers of the "line N" records in a file, in order, checked for whole records. */
static int numbers(const char *file, int *got, int max)
{
    long size;
    char *data = slurp(file, &size);
    int n = 0;
    for (char *line = data; data && *line && n < max; n++) {
        char *end = strchr(line, '\n');
        CHECK(end != NULL && end[-1] == '}' && strncmp(line, "{\"time\":\"", 9) == 0);
        if (!end)
            break;
        char *text = strstr(line, "\"log\":\"line ");
        CHECK(text != NULL && text < end);
        got[n] = text ? atoi(text + 12) : -1;
        line = end + 1;
    }
    return n;
}

static void clean(void)
{
    char p[256];
    const char *files[] = {"container.log", "container.log.1", "container.log.2", "container.log.3"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        name(p, files[i]);
        unlink(p);
    }
}

static void test_rotates_keeping_max_file_files_of_whole_records(void)
{
    char p[256], text[64];
    name(p, "container.log");
    CHECK(log_open(&log, p, 1000, 3) == 0);
    for (int i = 0; i < 200; i++) {
        snprintf(text, sizeof text, "line %d\n", i);
        say(text);
    }
    log_close(&log);
    long size;
    CHECK(slurp("container.log.3", &size) == NULL); /* two old files, no more */
    int all[600], n = 0;
    const char *order[] = {"container.log.2", "container.log.1", "container.log"};
    for (int f = 0; f < 3; f++) {
        slurp(order[f], &size);
        CHECK(size > 0 && size <= 1000);
        n += numbers(order[f], all + n, 600 - n);
    }
    CHECK(n > 0 && all[n - 1] == 199);
    for (int i = 1; i < n; i++)
        CHECK(all[i] == all[i - 1] + 1); /* in order, none lost between the files kept */
}

static void test_one_file_starts_over(void)
{
    char p[256];
    name(p, "container.log");
    CHECK(log_open(&log, p, 300, 1) == 0);
    for (int i = 0; i < 20; i++)
        say("line 7\n");
    log_close(&log);
    long size;
    slurp("container.log", &size);
    CHECK(size > 0 && size <= 300);
    CHECK(slurp("container.log.1", &size) == NULL);
}

static void test_a_record_larger_than_max_size_has_a_file_of_its_own(void)
{
    char p[256];
    name(p, "container.log");
    CHECK(log_open(&log, p, 100, 2) == 0);
    say("line 1\n");
    memset(out.buf, 'x', 500);
    out.buf[499] = '\n';
    log_take(&log, &out, 500);
    log_close(&log);
    long size;
    slurp("container.log.1", &size);
    CHECK(size > 0 && size < 100);
    slurp("container.log", &size);
    CHECK(size > 500 && size < 600);
}

static void test_a_restart_counts_what_is_there(void)
{
    char p[256];
    name(p, "container.log");
    CHECK(log_open(&log, p, 120, 2) == 0);
    say("line 1\n");
    log_close(&log);
    CHECK(log_open(&log, p, 120, 2) == 0);
    say("line 2\n"); /* the two together (about 80 bytes each) pass 120: a new file */
    log_close(&log);
    int got[4];
    CHECK(numbers("container.log.1", got, 4) == 1 && got[0] == 1);
    CHECK(numbers("container.log", got, 4) == 1 && got[0] == 2);
}

/* One read that fills the buffer with whole lines and the start of another: the start
 * waits for its end (a record each line), only a line as long as the buffer is split. */
static void test_a_full_buffer_keeps_its_partial_line_for_the_next_read(void)
{
    char p[256];
    name(p, "container.log");
    CHECK(log_open(&log, p, 0, 1) == 0);
    size_t at = 0;
    int lines = 0;
    while (at + 10 <= sizeof out.buf) {
        at += (size_t)sprintf(out.buf + at, "line %03d\n", lines++ % 1000);
    }
    const char *last = "line 999 end\n"; /* begun in the rest of the buffer (under 10 bytes) */
    size_t begun = sizeof out.buf - at;
    memcpy(out.buf + at, last, begun);
    log_take(&log, &out, sizeof out.buf);
    CHECK(out.len == begun);
    say(last + begun);
    log_close(&log);
    static int got[LINE_MAX_BYTES / 8];
    int n = numbers("container.log", got, (int)(sizeof got / sizeof *got));
    CHECK(n == lines + 1 && got[n - 1] == 999);
}

static void test_escapes_as_json_needs(void)
{
    char p[256];
    name(p, "container.log");
    CHECK(log_open(&log, p, 0, 1) == 0);
    say("a\"b\\c\td\r\x01\n");
    log_close(&log);
    long size;
    char *data = slurp("container.log", &size);
    CHECK(data && strstr(data, "\"stream\":\"stdout\",\"log\":\"a\\\"b\\\\c\\td\\r\\u0001\\n\"}\n") != NULL);
}

static void test_mode_0600_whatever_the_umask(void)
{
    char p[256];
    name(p, "container.log");
    mode_t saved = umask(0);
    CHECK(log_open(&log, p, 100, 2) == 0);
    for (int i = 0; i < 10; i++)
        say("line 1\n");
    log_close(&log);
    umask(saved);
    struct stat st;
    CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0600);
    name(p, "container.log.1");
    CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0600);
    name(p, "container.log");
    chmod(p, 0644); /* an older pyctr's */
    CHECK(log_open(&log, p, 0, 1) == 0);
    log_close(&log);
    CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0600);
}

int main(void)
{
    if (!mkdtemp(base))
        return 1;
    void (*tests[])(void) = {test_rotates_keeping_max_file_files_of_whole_records, test_one_file_starts_over,
                             test_a_record_larger_than_max_size_has_a_file_of_its_own,
                             test_a_restart_counts_what_is_there,
                             test_a_full_buffer_keeps_its_partial_line_for_the_next_read, test_escapes_as_json_needs,
                             test_mode_0600_whatever_the_umask};
    for (size_t i = 0; i < sizeof tests / sizeof *tests; i++) {
        tests[i]();
        clean();
    }
    rmdir(base);
    return check_failures != 0;
}
