/* Class 6: a program that blocks for ever uses no instructions, so no limit of work ends it.
 * netlim-block HOW blocks one way and never gets out:
 *   accept   bind 127.0.0.1:0, listen, accept: waits for a host client that never comes
 *   pipe     read an empty pipe whose write end it holds itself
 *   poll0    poll(NULL, 0, -1): waits for nothing, for ever (pause())
 *   epoll    epoll_wait on that pipe while holding a listening host socket it does not watch
 *   select   select on that pipe, the same
 *   futex    FUTEX_WAIT without a timeout, again and again (the model wakes it at once)
 * Any way out of the wait is printed as an escape; the run must end by a limit or as a deadlock
 * with a report and a non-zero exit status. */
#define FUTEX_WAIT 0
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include "attack.h"

static int listener(void)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(0x7f000001);
	int s = raw6(SYS_socket, AF_INET, SOCK_STREAM, 0, 0, 0, 0);
	long b = raw6(SYS_bind, s, (long)&a, sizeof a, 0, 0, 0);
	long l = raw6(SYS_listen, s, 4, 0, 0, 0, 0);
	printf("listener %d: bind %ld, listen %ld\n", s, b, l);
	fflush(stdout);
	return s;
}

int main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "pipe";
	int p[2];
	long r = -1;
	raw6(SYS_pipe, (long)p, 0, 0, 0, 0, 0);
	if (!strcmp(how, "accept")) {
		int s = listener();
		printf("blocking in accept\n");
		fflush(stdout);
		r = raw6(SYS_accept, s, 0, 0, 0, 0, 0);
	} else if (!strcmp(how, "pipe")) {
		char c;
		printf("blocking in read\n");
		fflush(stdout);
		r = raw6(SYS_read, p[0], (long)&c, 1, 0, 0, 0);
	} else if (!strcmp(how, "poll0")) {
		printf("blocking in poll\n");
		fflush(stdout);
		r = raw6(SYS_poll, 0, 0, -1, 0, 0, 0);
	} else if (!strcmp(how, "epoll")) {
		listener();
		int ep = raw6(SYS_epoll_create1, 0, 0, 0, 0, 0, 0);
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = p[0] };
		raw6(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, p[0], (long)&ev, 0, 0);
		printf("blocking in epoll_wait\n");
		fflush(stdout);
		r = raw6(SYS_epoll_wait, ep, (long)&ev, 1, -1, 0, 0);
	} else if (!strcmp(how, "select")) {
		listener();
		fd_set rd;
		FD_ZERO(&rd);
		FD_SET(p[0], &rd);
		printf("blocking in select\n");
		fflush(stdout);
		r = raw6(SYS_select, p[0] + 1, (long)&rd, 0, 0, 0, 0);
	} else if (!strcmp(how, "futex")) {
		static int word;
		printf("blocking in futex\n");
		fflush(stdout);
		for (;;)
			raw6(SYS_futex, (long)&word, FUTEX_WAIT, 0, 0, 0, 0);
	}
	ESCAPED("%s returned %ld", how, r);
	return 0;
}
