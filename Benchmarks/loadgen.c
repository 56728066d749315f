/*
 * loadgen: the load generator and the storage probes of maild's benchmarks (Benchmarks/run.sh).
 *
 *   loadgen enqueue --socket P --clients N --messages M [--size BYTES] [--rate R] [--window K]
 *       N threads, each on its own connection to maild's Unix socket, together send M enqueue
 *       requests with a text body of about BYTES and wait for every acknowledgement (at most K
 *       in flight per connection, default 1). --rate R paces the whole run at R requests/s
 *       (open loop: a request's latency counts from when it was due, so a stall is not hidden).
 *       Prints one JSON line: count, errors, seconds, rate, p50_ms, p99_ms, max_ms.
 *   loadgen serve --socket P
 *       Answers every line at once with an enqueue acknowledgement: the generator's own ceiling.
 *   loadgen fsync --dir D [--count N] [--seconds S]    append 1 KB + fsync, N times (default
 *       2000) or for S seconds (default 3), whichever ends first: the disk's sync rate
 *   loadgen sqlite --dir D [--count N] [--seconds S]   SQLite WAL, synchronous=FULL: N commits of
 *       one row each, then N/10 commits of 100 rows each (each phase at most S seconds)
 *
 * Blocking sockets and poll(2) only: a thread that waits sleeps in the kernel, so the generator
 * leaves the CPU to maild on a small machine.
 *
 * Build: cc -O2 -pthread -o loadgen loadgen.c -lsqlite3
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

/* ---- options ---- */

struct options {
    const char *socket_path, *dir;
    long clients, messages, size, window, count;
    double rate, seconds;
};

static void parse_options(int argc, char **argv, struct options *o) {
    for (int i = 2; i < argc; i++) {
        const char *k = argv[i];
        if (i + 1 >= argc) die("%s needs a value", k);
        const char *v = argv[++i];
        if (!strcmp(k, "--socket")) o->socket_path = v;
        else if (!strcmp(k, "--dir")) o->dir = v;
        else if (!strcmp(k, "--clients")) o->clients = atol(v);
        else if (!strcmp(k, "--messages")) o->messages = atol(v);
        else if (!strcmp(k, "--size")) o->size = atol(v);
        else if (!strcmp(k, "--window")) o->window = atol(v);
        else if (!strcmp(k, "--count")) o->count = atol(v);
        else if (!strcmp(k, "--rate")) o->rate = atof(v);
        else if (!strcmp(k, "--seconds")) o->seconds = atof(v);
        else die("unknown option %s", k);
    }
}

static int connect_unix(const char *path) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) die("socket path too long: %s", path);
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- enqueue ---- */

/* The text body: lines of 72 characters, as a person's notification would have, so maild's MIME
 * encoder does the work it does for real mail (a single 1 KB line would need soft line breaks). */
static char *make_body(long size) {
    static const char words[] = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ";
    char *body = malloc((size_t)size * 2 + 8);
    long n = 0, column = 0, out = 0;
    while (n < size) {
        if (column == 72) {
            memcpy(body + out, "\\n", 2);  /* JSON escape of LF: one byte of body, two of JSON */
            out += 2;
            column = 0;
        } else {
            body[out++] = words[n % (sizeof words - 1)];
            column++;
        }
        n++;
    }
    body[out] = 0;
    return body;
}

struct client {
    pthread_t thread;
    int index;
    long first, count;          /* this client's share of the requests */
    double interval;            /* seconds between this client's requests when paced; 0 = closed loop */
    double start;
    float *latency_ms;          /* one per acknowledged request */
    long done, errors;
    char first_error[256];
};

static const struct options *g_opt;
static const char *g_body;

/* Remembers the first thing that went wrong; a refused request counts as an error here, a broken
 * connection counts every request it left unanswered (at the end of client_main). */
static void note_error(struct client *c, const char *what) {
    if (!c->first_error[0]) snprintf(c->first_error, sizeof c->first_error, "%.200s", what);
}

static void *client_main(void *arg) {
    struct client *c = arg;
    long window = g_opt->window > 0 ? g_opt->window : 1;
    int fd = connect_unix(g_opt->socket_path);
    if (fd < 0) {
        char e[128];
        snprintf(e, sizeof e, "connect: %s", strerror(errno));
        note_error(c, e);
        c->errors = c->count;
        return NULL;
    }
    size_t body_len = strlen(g_body);
    size_t cap = body_len + 256;
    char *req = malloc(cap);
    double *due = calloc((size_t)window, sizeof *due); /* ring: due time of each request in flight */
    char in[65536];
    size_t in_len = 0;
    long sent = 0, acked = 0;
    size_t out_off = 0, out_len = 0;

    while (acked < c->count) {
        double t = now_s();
        /* Build the next request when the previous one is written, the window has room and it is due. */
        if (out_len == 0 && sent < c->count && sent - acked < window) {
            double when = c->interval > 0 ? c->start + c->interval * (double)sent : t;
            if (when <= t) {
                out_len = (size_t)snprintf(req, cap,
                    "{\"op\":\"enqueue\",\"message\":{\"to\":[\"r@example.com\"],"
                    "\"subject\":\"benchmark %ld\",\"text\":\"%s\"}}\n", c->first + sent, g_body);
                out_off = 0;
                due[sent % window] = c->interval > 0 ? when : t;
                sent++;
            }
        }
        struct pollfd p = {.fd = fd, .events = POLLIN | (out_len ? POLLOUT : 0)};
        /* ppoll, not poll: its nanosecond timeout wakes a paced client on time, where poll's
         * millisecond one would add up to 1 ms to every measured latency. */
        struct timespec ts, *timeout = NULL;
        if (out_len == 0 && sent < c->count && sent - acked < window && c->interval > 0) {
            double wait = c->start + c->interval * (double)sent - now_s();
            if (wait < 0) wait = 0;
            ts.tv_sec = (time_t)wait;
            ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
            timeout = &ts;
        }
        int r = ppoll(&p, 1, timeout, NULL);
        if (r < 0) {
            if (errno == EINTR) continue;
            note_error(c, "poll failed");
            break;
        }
        if (p.revents & POLLOUT && out_len) {
            ssize_t w = send(fd, req + out_off, out_len - out_off, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (w < 0 && errno != EAGAIN && errno != EINTR) {
                note_error(c, "write failed (maild closed the connection?)");
                break;
            }
            if (w > 0) {
                out_off += (size_t)w;
                if (out_off == out_len) out_len = 0;
            }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = recv(fd, in + in_len, sizeof in - in_len - 1, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                note_error(c, "maild closed the connection");
                break;
            }
            if (n < 0) continue;
            in_len += (size_t)n;
            double t_ack = now_s();
            char *line = in, *nl;
            while ((nl = memchr(line, '\n', in_len - (size_t)(line - in)))) {
                *nl = 0;
                if (acked >= sent) {
                    note_error(c, "an answer to no request");
                    c->errors++;
                } else if (strstr(line, "\"ok\":true") || strstr(line, "\"ok\": true")) {
                    c->latency_ms[c->done++] = (float)((t_ack - due[acked % window]) * 1000.0);
                } else {
                    note_error(c, line);
                    c->errors++;
                }
                acked++;
                line = nl + 1;
            }
            in_len -= (size_t)(line - in);
            memmove(in, line, in_len);
            if (in_len == sizeof in - 1) {
                note_error(c, "answer line too long");
                break;
            }
        }
    }
    if (acked < c->count) c->errors += c->count - acked;
    close(fd);
    free(req);
    free(due);
    return NULL;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static void json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20) printf("\\u%04x", *s);
        else putchar(*s);
    }
    putchar('"');
}

static int cmd_enqueue(struct options *o) {
    if (!o->socket_path) die("enqueue needs --socket");
    if (o->clients <= 0) o->clients = 1;
    if (o->messages <= 0) o->messages = 1000;
    if (o->size <= 0) o->size = 1024;
    g_opt = o;
    g_body = make_body(o->size);
    struct client *cs = calloc((size_t)o->clients, sizeof *cs);
    long per = o->messages / o->clients, extra = o->messages % o->clients, first = 0;
    double start = now_s() + 0.001;
    for (long i = 0; i < o->clients; i++) {
        struct client *c = &cs[i];
        c->index = (int)i;
        c->first = first;
        c->count = per + (i < extra ? 1 : 0);
        first += c->count;
        c->latency_ms = calloc((size_t)c->count + 1, sizeof(float));
        /* Paced clients start staggered so their requests interleave evenly rather than in bursts. */
        c->interval = o->rate > 0 ? (double)o->clients / o->rate : 0;
        c->start = start + (o->rate > 0 ? (double)i / o->rate : 0);
    }
    double t0 = now_s();
    for (long i = 0; i < o->clients; i++)
        if (pthread_create(&cs[i].thread, NULL, client_main, &cs[i])) die("pthread_create failed");
    long done = 0, errors = 0;
    const char *first_error = "";
    for (long i = 0; i < o->clients; i++) {
        pthread_join(cs[i].thread, NULL);
        done += cs[i].done;
        errors += cs[i].errors;
        if (!first_error[0] && cs[i].first_error[0]) first_error = cs[i].first_error;
    }
    double seconds = now_s() - t0;
    float *all = malloc(((size_t)done + 1) * sizeof(float));
    long k = 0;
    for (long i = 0; i < o->clients; i++) {
        memcpy(all + k, cs[i].latency_ms, (size_t)cs[i].done * sizeof(float));
        k += cs[i].done;
    }
    qsort(all, (size_t)done, sizeof(float), cmp_float);
#define PCT(q) (done ? all[(long)((double)(done - 1) * (q))] : 0)
    printf("{\"mode\":\"enqueue\",\"clients\":%ld,\"window\":%ld,\"target_rate\":%.1f,\"count\":%ld,"
           "\"errors\":%ld,\"seconds\":%.4f,\"rate\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
           "\"first_error\":",
           o->clients, o->window > 0 ? o->window : 1, o->rate, done, errors, seconds,
           seconds > 0 ? (double)done / seconds : 0, PCT(0.50), PCT(0.99), PCT(1.0));
    json_string(first_error);
    printf("}\n");
    return errors ? 1 : 0;
}

/* ---- serve: the ceiling of the generator ---- */

static const char canned[] = "{\"ok\":true,\"id\":\"1\",\"duplicate\":false}\n";

static void *serve_connection(void *arg) {
    int fd = (int)(intptr_t)arg;
    char buf[65536];
    char *out = malloc(sizeof buf * (sizeof canned - 1));
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) break;
        size_t lines = 0;
        for (ssize_t i = 0; i < n; i++) lines += buf[i] == '\n';
        size_t len = 0;
        for (size_t i = 0; i < lines; i++, len += sizeof canned - 1) memcpy(out + len, canned, sizeof canned - 1);
        for (size_t off = 0; off < len;) {
            ssize_t w = send(fd, out + off, len - off, MSG_NOSIGNAL);
            if (w <= 0) goto done;
            off += (size_t)w;
        }
    }
done:
    free(out);
    close(fd);
    return NULL;
}

static _Noreturn void cmd_serve(struct options *o) {
    if (!o->socket_path) die("serve needs --socket");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(o->socket_path) >= sizeof sa.sun_path) die("socket path too long");
    strcpy(sa.sun_path, o->socket_path);
    unlink(o->socket_path);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 1024) < 0)
        die("cannot listen on %s: %s", o->socket_path, strerror(errno));
    printf("READY %s\n", o->socket_path);
    fflush(stdout);
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR) continue;
            die("accept: %s", strerror(errno));
        }
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, serve_connection, (void *)(intptr_t)fd)) close(fd);
        pthread_attr_destroy(&attr);
    }
}

/* ---- storage probes ---- */

static int cmd_fsync(struct options *o) {
    if (!o->dir) die("fsync needs --dir");
    long count = o->count > 0 ? o->count : 2000;
    char path[4096];
    snprintf(path, sizeof path, "%s/fsync-probe.dat", o->dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) die("open %s: %s", path, strerror(errno));
    char block[1024];
    memset(block, 'x', sizeof block);
    double limit = o->seconds > 0 ? o->seconds : 3, t0 = now_s(), seconds = 0;
    long i;
    /* Bounded by count and by time: a slow shared disk must not stretch the whole benchmark. */
    for (i = 0; i < count && (seconds = now_s() - t0) < limit; i++) {
        if (write(fd, block, sizeof block) != (ssize_t)sizeof block) die("write: %s", strerror(errno));
        if (fsync(fd) < 0) die("fsync: %s", strerror(errno));
    }
    count = i;
    seconds = now_s() - t0;
    close(fd);
    unlink(path);
    printf("{\"mode\":\"fsync\",\"count\":%ld,\"seconds\":%.4f,\"rate\":%.1f}\n", count, seconds, count / seconds);
    return 0;
}

static void sql(sqlite3 *db, const char *statement) {
    char *error = NULL;
    if (sqlite3_exec(db, statement, NULL, NULL, &error) != SQLITE_OK) die("sqlite: %s: %s", statement, error);
}

static int cmd_sqlite(struct options *o) {
    if (!o->dir) die("sqlite needs --dir");
    long count = o->count > 0 ? o->count : 2000;
    char path[4096];
    snprintf(path, sizeof path, "%s/sqlite-probe.db", o->dir);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK) die("cannot open %s", path);
    sql(db, "PRAGMA journal_mode=WAL");
    sql(db, "PRAGMA synchronous=FULL");
    sql(db, "CREATE TABLE IF NOT EXISTS probe(id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
    sqlite3_stmt *insert;
    if (sqlite3_prepare_v2(db, "INSERT INTO probe(body) VALUES (?1)", -1, &insert, NULL) != SQLITE_OK)
        die("prepare: %s", sqlite3_errmsg(db));
    char body[1024];
    memset(body, 'x', sizeof body);

    double limit = o->seconds > 0 ? o->seconds : 3, t0 = now_s();
    long i;
    /* autocommit: each INSERT is its own durable transaction */
    for (i = 0; i < count && now_s() - t0 < limit; i++) {
        sqlite3_bind_blob(insert, 1, body, sizeof body, SQLITE_STATIC);
        if (sqlite3_step(insert) != SQLITE_DONE) die("insert: %s", sqlite3_errmsg(db));
        sqlite3_reset(insert);
    }
    count = i;
    double single = now_s() - t0;

    long batches = count / 10 > 0 ? count / 10 : 1, b;
    t0 = now_s();
    for (b = 0; b < batches && now_s() - t0 < limit; b++) {
        sql(db, "BEGIN");
        for (int i = 0; i < 100; i++) {
            sqlite3_bind_blob(insert, 1, body, sizeof body, SQLITE_STATIC);
            if (sqlite3_step(insert) != SQLITE_DONE) die("insert: %s", sqlite3_errmsg(db));
            sqlite3_reset(insert);
        }
        sql(db, "COMMIT");
    }
    batches = b;
    double batched = now_s() - t0;
    sqlite3_finalize(insert);
    sqlite3_close(db);
    char other[4200];
    unlink(path);
    snprintf(other, sizeof other, "%s-wal", path);
    unlink(other);
    snprintf(other, sizeof other, "%s-shm", path);
    unlink(other);
    printf("{\"mode\":\"sqlite\",\"commits\":%ld,\"commit_seconds\":%.4f,\"commit_rate\":%.1f,"
           "\"batch_rows\":%ld,\"batch_seconds\":%.4f,\"batch_row_rate\":%.1f}\n",
           count, single, count / single, batches * 100, batched, (double)batches * 100 / batched);
    return 0;
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) die("usage: loadgen enqueue|serve|fsync|sqlite [options]");
    struct options o = {0};
    parse_options(argc, argv, &o);
    if (!strcmp(argv[1], "enqueue")) return cmd_enqueue(&o);
    if (!strcmp(argv[1], "serve")) cmd_serve(&o);
    if (!strcmp(argv[1], "fsync")) return cmd_fsync(&o);
    if (!strcmp(argv[1], "sqlite")) return cmd_sqlite(&o);
    die("unknown mode %s", argv[1]);
}
