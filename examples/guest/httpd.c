/* httpd.c - a small static-file HTTP/1.0-1.1 server, single-threaded and
 * event-driven (one epoll loop, like lighttpd), for the dunesim Linux/Dune
 * socket layer.
 *
 *   httpd PORT DOCROOT [MAXREQUESTS]
 *
 * Listens on 0.0.0.0:PORT (0 = ephemeral) and prints one line to stdout,
 * "httpd: listening on port N". Serves GET and HEAD for files under DOCROOT
 * ("/" and directories -> index.html; ".." components -> 403; missing -> 404;
 * other methods -> 405 or 501; a request head over 8 KiB -> 431), one request
 * per connection ("Connection: close"). After MAXREQUESTS completed responses
 * (0 or absent = never) it closes the listening socket, still serves the
 * connections it had accepted (those idle for LINGER_MS are dropped), prints
 * "httpd: served N requests" (N >= MAXREQUESTS) and exits 0.
 * Bad arguments: usage on stderr, exit 2. Socket/bind/listen failure: exit 1.
 *
 * Deliberately small system-call surface (see README.md): socket, setsockopt
 * (SO_REUSEADDR), bind, listen, getsockname, accept4, epoll_create1, epoll_ctl
 * (ADD/MOD/DEL, level-triggered), epoll_wait (musl issues epoll_pwait with a
 * NULL mask and retries epoll_wait on ENOSYS), read, write, open, fstat,
 * close, shutdown, exit_group. No malloc (static tables), no stdio output
 * (snprintf + write, so no ioctl/writev), no signals, no clock.
 *
 * Connection life cycle:
 *   READING   EPOLLIN|EPOLLRDHUP: read until "\r\n\r\n" (8 KiB buffer).
 *   SENDING   the same buffer is reused for the response: header, then the
 *             file in buffer-sized chunks, read(2) whenever the buffer has
 *             been written out; EPOLLOUT only while the socket is full.
 *   LINGERING response complete: shutdown(SHUT_WR), then read and discard
 *             until the client closes (EOF/error), 64 KiB drained, or the
 *             loop has been idle for LINGER_MS. This avoids the RST that a
 *             close() with unread input would send (which can destroy the
 *             response on the client side).
 * Connections are always EPOLL_CTL_DEL'd before close(), so an epoll that does
 * not drop closed descriptors by itself still works.
 *
 * SIGPIPE: a write to a connection the peer has reset raises SIGPIPE, whose
 * default action kills the process. Avoiding it needs signal(), or send() with
 * MSG_NOSIGNAL (sendto), both outside the allowed surface, so this server
 * relies on clients reading their responses (curl, ab, wrk and Node do). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define MAX_CONNS   1024
#define BUF_SIZE    8192            /* request head limit and send chunk size */
#define PATH_SIZE   4096
#define MAX_EVENTS  64
#define LINGER_MS   1000
#define LINGER_MAX  65536
#define WRITE_BUDGET (64 * 1024)    /* bytes per connection per wakeup */
#define LISTENER    0xffffffffu

enum state { FREE, READING, SENDING, LINGERING };

struct conn {
    int fd;                 /* socket */
    int file;               /* open file being sent, or -1 */
    int state;
    unsigned events;        /* current epoll interest */
    size_t len;             /* READING: bytes in buf; SENDING: bytes to send */
    size_t pos;             /* SENDING: bytes of buf already sent */
    long long remaining;    /* SENDING: file bytes still to read into buf */
    size_t drained;         /* LINGERING: bytes discarded */
    char buf[BUF_SIZE + 1];
};

static struct conn conns[MAX_CONNS];
static unsigned free_list[MAX_CONNS];
static unsigned nfree;
static unsigned nactive;
static unsigned nlinger;            /* connections in LINGERING */

static int epfd = -1;
static int lfd = -1;                /* listening socket, -1 once closed */
static int listener_paused;         /* removed from epoll: no slot or fd */
static char docroot[PATH_SIZE];
static size_t docroot_len;
static unsigned long served;
static unsigned long max_requests;  /* 0 = forever */

/* ---- output without stdio ---------------------------------------------- */

static void put(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return;
        }
        s += w;
        n -= (size_t)w;
    }
}

static void say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(int fd, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof line) n = sizeof line - 1;
    put(fd, line, (size_t)n);
}

static void usage(void)
{
    say(2, "usage: httpd PORT DOCROOT [MAXREQUESTS]\n"
           "  PORT         TCP port on 0.0.0.0 (0 = any free port)\n"
           "  DOCROOT      directory to serve\n"
           "  MAXREQUESTS  exit after this many responses (0 or absent = never)\n");
    exit(2);
}

/* A whole decimal number in [0, max], or -1. */
static long long parse_num(const char *s, long long max)
{
    long long v = 0;
    if (!*s) return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        v = v * 10 + (*s - '0');
        if (v > max) return -1;
    }
    return v;
}

/* ---- epoll helpers ----------------------------------------------------- */

static int ep_set(int op, int fd, unsigned events, unsigned id)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u32 = id;
    return epoll_ctl(epfd, op, fd, &ev);
}

static void conn_want(unsigned id, unsigned events)
{
    struct conn *c = &conns[id];
    if (c->events == events) return;
    if (ep_set(EPOLL_CTL_MOD, c->fd, events, id) == 0) c->events = events;
}

static void listener_pause(void)
{
    if (lfd < 0 || listener_paused) return;
    ep_set(EPOLL_CTL_DEL, lfd, 0, LISTENER);
    listener_paused = 1;
}

static void listener_resume(void)
{
    if (lfd < 0 || !listener_paused) return;
    if (ep_set(EPOLL_CTL_ADD, lfd, EPOLLIN, LISTENER) == 0) listener_paused = 0;
}

static void conn_close(unsigned id)
{
    struct conn *c = &conns[id];
    if (c->state == FREE) return;
    if (c->state == LINGERING) nlinger--;
    ep_set(EPOLL_CTL_DEL, c->fd, 0, id);
    close(c->fd);
    if (c->file >= 0) close(c->file);
    c->fd = c->file = -1;
    c->state = FREE;
    free_list[nfree++] = id;
    nactive--;
    listener_resume();
}

/* ---- responses --------------------------------------------------------- */

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default:  return "Error";
    }
}

static const char *content_type(const char *path)
{
    static const struct { const char *ext, *type; } types[] = {
        { "html", "text/html" }, { "htm", "text/html" },
        { "txt", "text/plain" }, { "css", "text/css" },
        { "js", "application/javascript" }, { "json", "application/json" },
        { "png", "image/png" }, { "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" },
        { "gif", "image/gif" }, { "svg", "image/svg+xml" }, { "ico", "image/x-icon" },
    };
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    if (dot) {
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcmp(dot + 1, types[i].ext) == 0) return types[i].type;
    }
    return "application/octet-stream";
}

static void start_sending(unsigned id);

/* An error response with a small HTML body (none for HEAD). */
static void respond_error(unsigned id, int status, int head)
{
    struct conn *c = &conns[id];
    char body[256];
    int blen = snprintf(body, sizeof body,
                        "<html><head><title>%d %s</title></head>"
                        "<body><h1>%d %s</h1></body></html>\n",
                        status, reason(status), status, reason(status));
    int n = snprintf(c->buf, BUF_SIZE,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/html\r\n"
                     "Content-Length: %d\r\n%sConnection: close\r\n\r\n%s",
                     status, reason(status), blen,
                     status == 405 ? "Allow: GET, HEAD\r\n" : "",
                     head ? "" : body);
    c->len = (size_t)n;
    c->pos = 0;
    c->remaining = 0;
    start_sending(id);
}

/* Decodes %XX in place; returns -1 on a bad escape or a NUL byte. */
static int url_decode(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p == '%') {
            int v = 0;
            for (int k = 1; k <= 2; k++) {
                char h = p[k];
                v <<= 4;
                if (h >= '0' && h <= '9') v |= h - '0';
                else if (h >= 'a' && h <= 'f') v |= h - 'a' + 10;
                else if (h >= 'A' && h <= 'F') v |= h - 'A' + 10;
                else return -1;
            }
            if (v == 0) return -1;
            *o++ = (char)v;
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = 0;
    return 0;
}

/* Opens DOCROOT + upath (decoded, starting with '/') as a regular file.
 * Returns the fd, or -status. */
static int open_target(const char *upath, char *path, struct stat *st)
{
    /* Reject any ".." component. */
    for (const char *p = upath; *p; ) {
        while (*p == '/') p++;
        const char *e = p;
        while (*e && *e != '/') e++;
        if (e - p == 2 && p[0] == '.' && p[1] == '.') return -403;
        p = e;
    }
    size_t ulen = strlen(upath);
    if (docroot_len + ulen + sizeof "/index.html" > PATH_SIZE) return -414;
    memcpy(path, docroot, docroot_len);
    memcpy(path + docroot_len, upath, ulen + 1);
    size_t plen = docroot_len + ulen;
    if (path[plen - 1] == '/') {
        memcpy(path + plen, "index.html", sizeof "index.html");
        plen += sizeof "index.html" - 1;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = open(path, O_RDONLY);
        if (fd < 0) {
            if (errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG) return -404;
            if (errno == EACCES) return -403;
            if (errno == EMFILE || errno == ENFILE) return -503;
            return -500;
        }
        if (fstat(fd, st) < 0) {
            close(fd);
            return -500;
        }
        if (S_ISREG(st->st_mode)) return fd;
        close(fd);
        if (!S_ISDIR(st->st_mode) || attempt > 0) return -403;
        memcpy(path + plen, "/index.html", sizeof "/index.html");
        plen += sizeof "/index.html" - 1;
    }
    return -403;
}

/* buf[0..len) holds a complete request head. */
static void handle_request(unsigned id)
{
    struct conn *c = &conns[id];
    char *req = c->buf;
    char *eol = strpbrk(req, "\r\n");
    if (!eol) { respond_error(id, 400, 0); return; }
    *eol = 0;

    /* METHOD SP TARGET SP HTTP/1.x */
    char *sp1 = strchr(req, ' ');
    if (!sp1) { respond_error(id, 400, 0); return; }
    *sp1 = 0;
    char *target = sp1 + 1;
    char *sp2 = strchr(target, ' ');
    if (!sp2) { respond_error(id, 400, 0); return; }
    *sp2 = 0;
    char *version = sp2 + 1;

    int head = strcmp(req, "HEAD") == 0;
    if (strncmp(version, "HTTP/", 5) != 0 || strchr(version, ' ')) {
        respond_error(id, 400, head);
        return;
    }
    if (strcmp(version, "HTTP/1.0") != 0 && strcmp(version, "HTTP/1.1") != 0) {
        respond_error(id, 505, head);
        return;
    }
    if (!head && strcmp(req, "GET") != 0) {
        static const char *const known[] = { "POST", "PUT", "DELETE", "OPTIONS",
                                             "PATCH", "TRACE", "CONNECT" };
        int status = 501;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            if (strcmp(req, known[i]) == 0) status = 405;
        respond_error(id, status, 0);
        return;
    }

    /* Absolute form "http://host/path" -> "/path". */
    if (strncmp(target, "http://", 7) == 0) {
        static char root[] = "/";
        char *p = strchr(target + 7, '/');
        target = p ? p : root;
    }
    if (target[0] != '/') { respond_error(id, 400, head); return; }
    target[strcspn(target, "?#")] = 0;
    if (url_decode(target) < 0) { respond_error(id, 400, head); return; }

    char path[PATH_SIZE];
    struct stat st;
    int fd = open_target(target, path, &st);
    if (fd < 0) { respond_error(id, -fd, head); return; }

    int n = snprintf(c->buf, BUF_SIZE,
                     "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
                     "Content-Length: %lld\r\nConnection: close\r\n\r\n",
                     content_type(path), (long long)st.st_size);
    c->len = (size_t)n;
    c->pos = 0;
    if (head || st.st_size == 0) {
        close(fd);
        c->remaining = 0;
    } else {
        c->file = fd;
        c->remaining = st.st_size;
    }
    start_sending(id);
}

/* ---- connection state machine ------------------------------------------ */

static void finish_response(unsigned id)
{
    struct conn *c = &conns[id];
    if (c->file >= 0) { close(c->file); c->file = -1; }
    served++;
    shutdown(c->fd, SHUT_WR);
    c->state = LINGERING;
    nlinger++;
    c->drained = 0;
    conn_want(id, EPOLLIN | EPOLLRDHUP);
    /* The event loop reads (and closes on EOF) when it next sees EPOLLIN. */
}

/* Writes as much as the socket takes; refills buf from the file. */
static void do_send(unsigned id)
{
    struct conn *c = &conns[id];
    size_t budget = WRITE_BUDGET;
    for (;;) {
        if (c->pos == c->len) {
            if (c->remaining == 0) { finish_response(id); return; }
            if (budget == 0) {                 /* let others run; come back */
                conn_want(id, EPOLLOUT);
                return;
            }
            size_t want = c->remaining < BUF_SIZE ? (size_t)c->remaining : BUF_SIZE;
            ssize_t r = read(c->file, c->buf, want);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) { conn_close(id); return; } /* error or file shrank */
            c->pos = 0;
            c->len = (size_t)r;
            c->remaining -= r;
        }
        ssize_t w = write(c->fd, c->buf + c->pos, c->len - c->pos);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                conn_want(id, EPOLLOUT);
                return;
            }
            conn_close(id);                    /* EPIPE, ECONNRESET, ... */
            return;
        }
        c->pos += (size_t)w;
        budget = (size_t)w >= budget ? 0 : budget - (size_t)w;
    }
}

static void start_sending(unsigned id)
{
    struct conn *c = &conns[id];
    c->state = SENDING;
    do_send(id);
}

/* Returns a pointer just past the end of the request head, or NULL. */
static char *head_end(char *buf, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] != '\n') continue;
        if (buf[i + 1] == '\n') return buf + i + 2;
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n') return buf + i + 3;
    }
    return NULL;
}

static void do_read(unsigned id)
{
    struct conn *c = &conns[id];
    for (;;) {
        if (c->len == BUF_SIZE) { respond_error(id, 431, 0); return; }
        ssize_t r = read(c->fd, c->buf + c->len, BUF_SIZE - c->len);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            conn_close(id);
            return;
        }
        if (r == 0) { conn_close(id); return; }   /* closed before a full head */
        size_t from = c->len > 3 ? c->len - 3 : 0; /* the terminator may straddle */
        c->len += (size_t)r;
        c->buf[c->len] = 0;
        char *end = head_end(c->buf + from, c->len - from);
        if (end) {
            /* A NUL byte inside the head would hide part of it from str*(). */
            if (memchr(c->buf, 0, (size_t)(end - c->buf))) { respond_error(id, 400, 0); return; }
            *end = 0;
            handle_request(id);
            return;
        }
    }
}

static void do_linger(unsigned id)
{
    struct conn *c = &conns[id];
    for (;;) {
        ssize_t r = read(c->fd, c->buf, BUF_SIZE);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (r <= 0) { conn_close(id); return; }
        c->drained += (size_t)r;
        if (c->drained >= LINGER_MAX) { conn_close(id); return; }
    }
}

static void do_accept(void)
{
    for (;;) {
        if (nfree == 0) { listener_pause(); return; }
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                listener_pause();              /* resumes when a slot closes */
            return;                            /* EAGAIN or other: wait */
        }
        unsigned id = free_list[--nfree];
        struct conn *c = &conns[id];
        c->fd = fd;
        c->file = -1;
        c->state = READING;
        c->len = c->pos = 0;
        c->remaining = 0;
        c->events = EPOLLIN | EPOLLRDHUP;
        if (ep_set(EPOLL_CTL_ADD, fd, c->events, id) < 0) {
            close(fd);
            c->state = FREE;
            free_list[nfree++] = id;
            continue;
        }
        nactive++;
    }
}

/* MAXREQUESTS reached: accept what is already queued on the listening socket
 * (closing it would reset those connections), then close it. Connections
 * already accepted are still served: a benchmark client such as ab may open a
 * connection or two beyond its request count and close them itself once done,
 * so cutting connections here would turn them into failures on its side. */
static void stop_serving(void)
{
    if (lfd < 0) return;
    if (!listener_paused) do_accept();
    if (!listener_paused) ep_set(EPOLL_CTL_DEL, lfd, 0, LISTENER);
    close(lfd);
    lfd = -1;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) usage();
    long long port = parse_num(argv[1], 65535);
    long long maxreq = argc == 4 ? parse_num(argv[3], 1000000000000LL) : 0;
    if (port < 0 || maxreq < 0 || !argv[2][0]) usage();
    max_requests = (unsigned long)maxreq;

    docroot_len = strlen(argv[2]);
    while (docroot_len > 1 && argv[2][docroot_len - 1] == '/') docroot_len--;
    if (docroot_len + 1 >= PATH_SIZE / 2) usage();
    memcpy(docroot, argv[2], docroot_len);
    docroot[docroot_len] = 0;
    if (strcmp(docroot, "/") == 0) docroot_len = 0;   /* paths start with '/' */
    {
        struct stat st;
        int fd = open(argv[2], O_RDONLY);
        int isdir = fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
        if (fd >= 0) close(fd);
        if (!isdir) {
            say(2, "httpd: %s: not a directory\n", argv[2]);
            usage();
        }
    }

    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0) { say(2, "httpd: socket: %s\n", strerror(errno)); return 1; }
    int one = 1;
    if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
        say(2, "httpd: setsockopt(SO_REUSEADDR): %s\n", strerror(errno));
        return 1;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        say(2, "httpd: bind: %s\n", strerror(errno));
        return 1;
    }
    if (listen(lfd, 128) < 0) {
        say(2, "httpd: listen: %s\n", strerror(errno));
        return 1;
    }
    socklen_t salen = sizeof sa;
    if (getsockname(lfd, (struct sockaddr *)&sa, &salen) < 0) {
        say(2, "httpd: getsockname: %s\n", strerror(errno));
        return 1;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) { say(2, "httpd: epoll_create1: %s\n", strerror(errno)); return 1; }
    if (ep_set(EPOLL_CTL_ADD, lfd, EPOLLIN, LISTENER) < 0) {
        say(2, "httpd: epoll_ctl: %s\n", strerror(errno));
        return 1;
    }

    for (unsigned i = 0; i < MAX_CONNS; i++) {
        conns[i].fd = conns[i].file = -1;
        free_list[i] = MAX_CONNS - 1 - i;
    }
    nfree = MAX_CONNS;

    say(1, "httpd: listening on port %u\n", (unsigned)ntohs(sa.sin_port));

    struct epoll_event events[MAX_EVENTS];
    while (lfd >= 0 || nactive > 0) {
        int n = epoll_wait(epfd, events, MAX_EVENTS, nlinger || lfd < 0 ? LINGER_MS : -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            say(2, "httpd: epoll_wait: %s\n", strerror(errno));
            return 1;
        }
        if (n == 0) {
            /* Idle for LINGER_MS: end lingering closes; when stopping, also
             * drop connections that never sent a request. */
            for (unsigned i = 0; i < MAX_CONNS; i++)
                if (conns[i].state == LINGERING || (lfd < 0 && conns[i].state == READING))
                    conn_close(i);
            continue;
        }
        for (int k = 0; k < n; k++) {
            unsigned id = events[k].data.u32;
            unsigned ev = events[k].events;
            if (id == LISTENER) {
                if (lfd >= 0) do_accept();
                continue;
            }
            struct conn *c = &conns[id];
            switch (c->state) {
            case READING:
                if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) do_read(id);
                break;
            case SENDING:
                if (ev & (EPOLLERR | EPOLLHUP)) conn_close(id);
                else if (ev & EPOLLOUT) do_send(id);
                break;
            case LINGERING:
                do_linger(id);
                break;
            default:                           /* closed earlier in this batch */
                break;
            }
        }
        if (max_requests && served >= max_requests && lfd >= 0) stop_serving();
    }

    if (epfd >= 0) close(epfd);
    say(1, "httpd: served %lu requests\n", served);
    return 0;
}
