/*
 * Wedge's web server (after upstream apps/wedge/httpd.c): one connection at a time, each request
 * handled inline, or in an sthread granted only the connection, a tag holding the document root,
 * and open/close (the implementation picks pthread, fork or a Dune sthread).
 *   wedgehttpd [--impl dune|fork|pthread | --inline] PORT DOCROOT REQUESTS
 * Prints "wedgehttpd: listening on port N", serves GET of files under DOCROOT, exits after
 * REQUESTS responses.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../lib/sthread.h"

struct request {
	int fd;
	char docroot[256];
};

static long respond(const char *status, int fd, const char *body, long len)
{
	char head[160];
	int n = snprintf(head, sizeof(head), "HTTP/1.0 %s\r\nContent-Length: %ld\r\nConnection: close\r\n\r\n", status, len);
	if (write(fd, head, n) != n || (len > 0 && write(fd, body, len) != len))
		return -1;
	return 0;
}

/* Runs with nothing but the connection, the request tag, and open/close. */
static long handle(void *arg)
{
	struct request *rq = arg;
	char req[2048], path[512], body[8192];
	long got = 0, n;
	while (got < (long) sizeof(req) - 1 && (n = read(rq->fd, req + got, sizeof(req) - 1 - got)) > 0) {
		got += n;
		req[got] = 0;
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	req[got] = 0;
	char *sp;
	if (strncmp(req, "GET /", 5) || !(sp = strchr(req + 4, ' ')) || sp - (req + 4) > 200)
		return respond("400 Bad Request", rq->fd, "", 0);
	*sp = 0;
	if (strstr(req + 4, ".."))
		return respond("403 Forbidden", rq->fd, "", 0);
	snprintf(path, sizeof(path), "%s%.200s", rq->docroot, req + 4);
	int f = open(path, O_RDONLY);
	if (f < 0)
		return respond("404 Not Found", rq->fd, "", 0);
	long len = 0;
	while (len < (long) sizeof(body) && (n = read(f, body + len, sizeof(body) - len)) > 0)
		len += n;
	close(f);
	return respond("200 OK", rq->fd, body, len);
}

int main(int argc, char **argv)
{
	int inline_mode = 0;
	while (argc > 1 && argv[1][0] == '-' && argv[1][1] == '-') {
		if (!strcmp(argv[1], "--inline")) {
			inline_mode = 1;
			argc--, argv++;
		} else if (argc > 2 && !strcmp(argv[1], "--impl")) {
			setenv("STHREAD_IMPL", argv[2], 1);
			argc -= 2, argv += 2;
		} else {
			break;
		}
	}
	if (argc != 4 || strlen(argv[2]) >= sizeof(((struct request *) 0)->docroot)) {
		fprintf(stderr, "usage: wedgehttpd [--impl dune|fork|pthread | --inline] PORT DOCROOT REQUESTS\n");
		return 2;
	}
	long requests = atol(argv[3]);
	if (!inline_mode && sthread_init()) {
		fprintf(stderr, "wedgehttpd: sthread_init failed\n");
		return 1;
	}
	int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t salen = sizeof(sa);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *) &sa, sizeof(sa)) || listen(lfd, 128) ||
	    getsockname(lfd, (struct sockaddr *) &sa, &salen)) {
		perror("wedgehttpd");
		return 1;
	}
	printf("wedgehttpd: listening on port %d\n", ntohs(sa.sin_port));
	fflush(stdout);

	tag_t tag = inline_mode ? NULL : tag_new();
	struct request *rq = inline_mode ? calloc(1, sizeof(*rq)) : smalloc(tag, sizeof(*rq));
	strcpy(rq->docroot, argv[2]);
	long failed = 0;
	for (long served = 0; served < requests; served++) {
		int c = accept(lfd, NULL, NULL);
		if (c < 0) {
			perror("wedgehttpd: accept");
			return 1;
		}
		rq->fd = c;
		long ret = 0;
		if (inline_mode) {
			ret = handle(rq);
		} else {
			sc_t sc;
			sthread_t st;
			sc_init(&sc);
			sc_fd_add(&sc, c, PROT_READ | PROT_WRITE);
			sc_mem_add(&sc, tag, PROT_READ | PROT_WRITE);
			sc_sys_add(&sc, SYS_open);
			sc_sys_add(&sc, SYS_close);
			if (sthread_create(&st, &sc, handle, rq) || sthread_join(st, &ret))
				ret = -1;
		}
		failed += ret != 0;
		close(c);
	}
	printf("wedgehttpd: served %ld, failed %ld\n", requests, failed);
	return failed != 0;
}
