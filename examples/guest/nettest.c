/*
 * Socket semantics, checked from both ends in one process: run natively and on the model, the
 * output must be the same (test/linux/sockets.test.ts). Everything is on 127.0.0.1 with ports the
 * kernel picks, so the lines print no port numbers.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>

#define SHOW(what, expr) do { long r_ = (long)(expr); printf("%-34s %ld %s\n", what, r_, r_ < 0 ? strerror(errno) : ""); } while (0)

static struct sockaddr_in loopback(unsigned short port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

int main(int argc, char **argv)
{
	/* How long a poll or epoll_wait waits for what should come at once (argument 1, default 5 s). */
	int wait_ms = argc > 1 ? atoi(argv[1]) : 5000;
	setvbuf(stdout, NULL, _IONBF, 0);
	/* Families and types the model refuses, as Linux refuses unknown ones. */
	SHOW("socket(AF_INET, SOCK_STREAM)", 0 * socket(AF_INET, SOCK_STREAM, 0));
	SHOW("socket(12345, SOCK_STREAM)", socket(12345, SOCK_STREAM, 0));
	SHOW("socket(AF_INET, bad type flag)", socket(AF_INET, SOCK_STREAM | 0x100000, 0));
	int pfd[2];
	if (pipe(pfd) != 0)
		return 2;
	SHOW("bind(a pipe)", ({ struct sockaddr_in a = loopback(0); bind(pfd[0], (struct sockaddr *)&a, sizeof a); }));
	close(pfd[0]);
	close(pfd[1]);
	SHOW("listen(bad fd)", listen(99, 1));

	int srv = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	SHOW("setsockopt SO_REUSEADDR", setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
	int v = 0;
	socklen_t vl = sizeof v;
	SHOW("getsockopt SO_REUSEADDR", getsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &v, &vl));
	printf("  value %d len %u\n", v != 0, vl);
	vl = sizeof v;
	SHOW("getsockopt SO_TYPE", getsockopt(srv, SOL_SOCKET, SO_TYPE, &v, &vl));
	printf("  value %d\n", v);
	struct sockaddr_in a = loopback(0);
	SHOW("bind short addrlen", bind(srv, (struct sockaddr *)&a, 8));
	SHOW("bind 127.0.0.1:0", bind(srv, (struct sockaddr *)&a, sizeof a));
	SHOW("bind again", bind(srv, (struct sockaddr *)&a, sizeof a));
	SHOW("getpeername unconnected", ({ socklen_t l = sizeof a; getpeername(srv, (struct sockaddr *)&a, &l); }));
	SHOW("listen", listen(srv, 16));
	socklen_t al = sizeof a;
	SHOW("getsockname", getsockname(srv, (struct sockaddr *)&a, &al));
	printf("  family %d addr %s port>0 %d len %u\n", a.sin_family, inet_ntoa(a.sin_addr), ntohs(a.sin_port) > 0, al);
	unsigned short port = ntohs(a.sin_port);
	vl = sizeof v;
	SHOW("getsockopt SO_ACCEPTCONN", getsockopt(srv, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl));
	printf("  value %d\n", v);

	/* A non-blocking accept with nobody connecting. */
	fcntl(srv, F_SETFL, O_NONBLOCK);
	SHOW("accept4 nobody (nonblocking)", accept4(srv, NULL, NULL, 0));
	struct pollfd p = { srv, POLLIN, 0 };
	SHOW("poll listener, 0 ms", poll(&p, 1, 0));

	/* A non-blocking connect: EINPROGRESS, then writable. */
	int cli = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in to = loopback(port);
	SHOW("connect (nonblocking)", connect(cli, (struct sockaddr *)&to, sizeof to));
	struct pollfd pc = { cli, POLLOUT, 0 };
	SHOW("poll client POLLOUT", poll(&pc, 1, wait_ms));
	printf("  revents POLLOUT %d\n", (pc.revents & POLLOUT) != 0);
	vl = sizeof v;
	SHOW("getsockopt SO_ERROR", getsockopt(cli, SOL_SOCKET, SO_ERROR, &v, &vl));
	printf("  value %d\n", v);
	SHOW("connect again", connect(cli, (struct sockaddr *)&to, sizeof to));
	SHOW("poll listener POLLIN", poll(&p, 1, wait_ms));
	printf("  revents POLLIN %d\n", (p.revents & POLLIN) != 0);
	struct sockaddr_in peer;
	socklen_t pl = sizeof peer;
	int con = accept4(srv, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
	printf("accept4 fd>=0 %d peer %s len %u\n", con >= 0, inet_ntoa(peer.sin_addr), pl);
	SHOW("fcntl F_GETFD (cloexec)", fcntl(con, F_GETFD));

	/* Data both ways, MSG_PEEK, FIONREAD-free: recv with flags. */
	SHOW("send 5", send(cli, "hello", 5, 0));
	char buf[64];
	struct pollfd pr = { con, POLLIN, 0 };
	SHOW("poll server POLLIN", poll(&pr, 1, wait_ms));
	SHOW("recv MSG_PEEK", recv(con, buf, sizeof buf, MSG_PEEK));
	ssize_t n = recv(con, buf, sizeof buf, 0);
	printf("recv %zd '%.*s'\n", n, (int)(n > 0 ? n : 0), buf);
	SHOW("recv nothing (MSG_DONTWAIT)", recv(con, buf, sizeof buf, MSG_DONTWAIT));
	SHOW("write 6", write(con, "world!", 6));
	struct pollfd pr2 = { cli, POLLIN, 0 };
	SHOW("poll client POLLIN", poll(&pr2, 1, wait_ms));
	n = read(cli, buf, sizeof buf);
	printf("read %zd '%.*s'\n", n, (int)(n > 0 ? n : 0), buf);

	/* epoll: the server side watched for input. */
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0x1122334455667788ull };
	SHOW("epoll_ctl ADD", epoll_ctl(ep, EPOLL_CTL_ADD, con, &ev));
	SHOW("epoll_ctl ADD again", epoll_ctl(ep, EPOLL_CTL_ADD, con, &ev));
	SHOW("epoll_ctl MOD not added", epoll_ctl(ep, EPOLL_CTL_MOD, cli, &ev));
	struct epoll_event out[4];
	SHOW("epoll_wait nothing, 0 ms", epoll_wait(ep, out, 4, 0));
	SHOW("epoll_wait maxevents 0", epoll_wait(ep, out, 0, 0));
	SHOW("send 3", send(cli, "abc", 3, 0));
	SHOW("epoll_wait", epoll_wait(ep, out, 4, wait_ms));
	printf("  events EPOLLIN %d data %llx\n", (out[0].events & EPOLLIN) != 0, (unsigned long long)out[0].data.u64);
	n = read(con, buf, sizeof buf);
	printf("read %zd\n", n);

	/* Edge-triggered: reported once per arrival, not while the data sits unread. */
	int ep2 = epoll_create1(0);
	struct epoll_event et = { .events = EPOLLIN | EPOLLET, .data.u64 = 7 };
	SHOW("epoll_ctl ADD EPOLLET", epoll_ctl(ep2, EPOLL_CTL_ADD, con, &et));
	SHOW("EPOLLET: nothing yet", epoll_wait(ep2, out, 4, 0));
	SHOW("send 2", send(cli, "de", 2, 0));
	SHOW("EPOLLET: the arrival", epoll_wait(ep2, out, 4, wait_ms));
	SHOW("EPOLLET: still unread, no edge", epoll_wait(ep2, out, 4, 0));
	SHOW("level-triggered: still ready", epoll_wait(ep, out, 4, 0));
	SHOW("send 2 more", send(cli, "fg", 2, 0));
	SHOW("EPOLLET: a new arrival", epoll_wait(ep2, out, 4, wait_ms));
	n = read(con, buf, sizeof buf);
	printf("read %zd '%.*s'\n", n, (int)(n > 0 ? n : 0), buf);
	close(ep2);

	/* select: the same readiness through fd_set bitmaps (skipped when there is no connection:
	 * FD_SET of -1 would write outside the set). */
	if (con >= 0 && cli >= 0) {
		fd_set rs, ws;
		FD_ZERO(&rs);
		FD_SET(con, &rs);
		struct timeval tv = { 0, 0 };
		SHOW("select nothing to read, 0 s", select(con + 1, &rs, NULL, NULL, &tv));
		printf("  bit still set %d\n", FD_ISSET(con, &rs) != 0);
		SHOW("send 1", send(cli, "h", 1, 0));
		FD_ZERO(&rs);
		FD_SET(con, &rs);
		tv.tv_sec = wait_ms / 1000;
		tv.tv_usec = (wait_ms % 1000) * 1000;
		SHOW("select readable", select(con + 1, &rs, NULL, NULL, &tv));
		printf("  con readable %d\n", FD_ISSET(con, &rs) != 0);
		FD_ZERO(&rs);
		FD_SET(con, &rs);
		FD_ZERO(&ws);
		FD_SET(cli, &ws);
		SHOW("select readable and writable", select((con > cli ? con : cli) + 1, &rs, &ws, NULL, &tv));
		printf("  con readable %d cli writable %d\n", FD_ISSET(con, &rs) != 0, FD_ISSET(cli, &ws) != 0);
		FD_ZERO(&rs);
		FD_SET(40, &rs);
		SHOW("select on a closed descriptor", select(41, &rs, NULL, NULL, &tv));
		n = read(con, buf, sizeof buf);
		printf("read %zd\n", n);
	}

	/* Half close: the client's FIN is the server's end of file. */
	SHOW("shutdown(cli, SHUT_WR)", shutdown(cli, SHUT_WR));
	SHOW("epoll_wait after FIN", epoll_wait(ep, out, 4, wait_ms));
	printf("  events EPOLLIN %d\n", (out[0].events & EPOLLIN) != 0);
	SHOW("read at end of file", read(con, buf, sizeof buf));
	SHOW("send after SHUT_WR (MSG_NOSIGNAL)", send(cli, "x", 1, MSG_NOSIGNAL));
	SHOW("write back after peer's FIN", write(con, "bye", 3));
	SHOW("poll client POLLIN", poll(&pr2, 1, wait_ms));
	n = read(cli, buf, sizeof buf);
	printf("read %zd '%.*s'\n", n, (int)(n > 0 ? n : 0), buf);
	SHOW("close server side", close(con));
	SHOW("poll client for EOF", poll(&pr2, 1, wait_ms));
	SHOW("read EOF", read(cli, buf, sizeof buf));
	SHOW("shutdown bad how", shutdown(cli, 7));
	close(cli);
	close(ep);

	/* UDP: datagrams keep their boundaries and their source; connect only sets the peer. Every
	 * receive is MSG_DONTWAIT after a poll, so a firewall that drops the sends cannot hang it. */
	int u1 = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in ua = loopback(0);
	SHOW("udp bind 127.0.0.1:0", bind(u1, (struct sockaddr *)&ua, sizeof ua));
	socklen_t ual = sizeof ua;
	getsockname(u1, (struct sockaddr *)&ua, &ual);
	printf("  port>0 %d\n", ntohs(ua.sin_port) > 0);
	vl = sizeof v;
	SHOW("getsockopt SO_TYPE (udp)", getsockopt(u1, SOL_SOCKET, SO_TYPE, &v, &vl));
	printf("  value %d\n", v);
	SHOW("listen on udp", listen(u1, 1));
	SHOW("recv nothing (udp, MSG_DONTWAIT)", recv(u1, buf, sizeof buf, MSG_DONTWAIT));
	int u2 = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	SHOW("send unconnected without address", send(u2, "x", 1, 0));
	SHOW("sendto 4 (autobind)", sendto(u2, "ping", 4, 0, (struct sockaddr *)&ua, sizeof ua));
	SHOW("sendto 3 more", sendto(u2, "abc", 3, 0, (struct sockaddr *)&ua, sizeof ua));
	struct sockaddr_in u2a;
	socklen_t u2l = sizeof u2a;
	SHOW("getsockname after autobind", getsockname(u2, (struct sockaddr *)&u2a, &u2l));
	struct pollfd pu = { u1, POLLIN, 0 };
	SHOW("poll udp POLLIN", poll(&pu, 1, wait_ms));
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	n = recvfrom(u1, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
	printf("recvfrom MSG_PEEK %zd '%.*s'\n", n, (int)(n > 0 ? n : 0), buf);
	fl = sizeof from;
	n = recvfrom(u1, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
	printf("recvfrom %zd '%.*s' from %s same port %d len %u\n", n, (int)(n > 0 ? n : 0), buf, inet_ntoa(from.sin_addr), from.sin_port == u2a.sin_port, fl);
	SHOW("poll udp POLLIN again", poll(&pu, 1, wait_ms));
	n = recv(u1, buf, 2, MSG_DONTWAIT);
	printf("recv into 2 bytes %zd '%.*s' (the rest is lost)\n", n, (int)(n > 0 ? n : 0), buf);
	SHOW("recv nothing left", recv(u1, buf, sizeof buf, MSG_DONTWAIT));
	SHOW("connect udp", connect(u2, (struct sockaddr *)&ua, sizeof ua));
	SHOW("write on connected udp", write(u2, "z", 1));
	SHOW("poll udp POLLIN (write)", poll(&pu, 1, wait_ms));
	SHOW("recv 1", recv(u1, buf, sizeof buf, MSG_DONTWAIT));
	struct sockaddr_in up;
	socklen_t upl = sizeof up;
	SHOW("getpeername udp", getpeername(u2, (struct sockaddr *)&up, &upl));
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	SHOW("connect AF_UNSPEC", connect(u2, &unspec, sizeof unspec));
	SHOW("getpeername after AF_UNSPEC", ({ socklen_t l = sizeof up; getpeername(u2, (struct sockaddr *)&up, &l); }));
	close(u1);
	close(u2);

	/* A blocking connect to a port nobody listens on: the listener is closed first. */
	close(srv);
	int c2 = socket(AF_INET, SOCK_STREAM, 0);
	SHOW("connect to a closed port", connect(c2, (struct sockaddr *)&to, sizeof to));
	SHOW("shutdown unconnected", shutdown(c2, SHUT_RDWR));
	SHOW("recv unconnected", recv(c2, buf, 1, MSG_DONTWAIT));
	close(c2);

	/* A blocking exchange through a second listener, with listen() binding it (autobind). */
	int s3 = socket(AF_INET, SOCK_STREAM, 0);
	SHOW("listen without bind", listen(s3, 4));
	al = sizeof a;
	getsockname(s3, (struct sockaddr *)&a, &al);
	printf("  autobound port>0 %d addr %s\n", ntohs(a.sin_port) > 0, inet_ntoa(a.sin_addr));
	int c3 = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in to3 = loopback(ntohs(a.sin_port));
	SHOW("blocking connect", connect(c3, (struct sockaddr *)&to3, sizeof to3));
	int k3 = accept(s3, NULL, NULL);
	printf("blocking accept fd>=0 %d\n", k3 >= 0);
	static char big[300000];
	for (unsigned i = 0; i < sizeof big; i++) big[i] = (char)(i * 7);
	SHOW("write 300000 (blocking)", write(c3, big, sizeof big));
	close(c3);
	static char got[300000];
	size_t total = 0;
	for (;;) {
		ssize_t r = read(k3, got + total, sizeof got - total);
		if (r <= 0)
			break;
		total += (size_t)r;
	}
	printf("received %zu intact %d\n", total, total == sizeof big && memcmp(big, got, total) == 0);
	close(k3);
	close(s3);
	return 0;
}
