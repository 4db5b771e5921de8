#define _GNU_SOURCE
/*
 * Bad input to the socket calls, and sendmsg/recvmsg with several iovecs: each call's result
 * and errno, so that the output is the same natively and on the model under --net sim
 * (test/linux/net/sim-sockets.test.ts). Loopback only; no port numbers are printed.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define SHOW(what, expr) do { long r_ = (long)(expr); printf("%-40s %ld %s\n", what, r_, r_ < 0 ? strerror(errno) : ""); } while (0)

static struct sockaddr_in addr(unsigned fam, unsigned long ip, unsigned short port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = (sa_family_t)fam;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(ip);
	return a;
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = addr(AF_INET6, INADDR_LOOPBACK, 0);
	SHOW("bind AF_INET6 family", bind(s, (struct sockaddr *)&a, sizeof a));
	a = addr(AF_INET, INADDR_LOOPBACK, 0);
	SHOW("bind addrlen 8", bind(s, (struct sockaddr *)&a, 8));
	SHOW("bind bad pointer", bind(s, (struct sockaddr *)8, sizeof a));
	a = addr(AF_INET, 0x0a090909, 0);
	SHOW("bind 10.9.9.9 (not ours)", bind(s, (struct sockaddr *)&a, sizeof a));
	a = addr(AF_INET, INADDR_LOOPBACK, 0);
	SHOW("bind 127.0.0.1:0", bind(s, (struct sockaddr *)&a, sizeof a));
	SHOW("bind again", bind(s, (struct sockaddr *)&a, sizeof a));
	socklen_t al = sizeof a;
	getsockname(s, (struct sockaddr *)&a, &al);
	int s2 = socket(AF_INET, SOCK_STREAM, 0);
	SHOW("bind the same port, another socket", bind(s2, (struct sockaddr *)&a, sizeof a));
	SHOW("accept before listen", accept(s, NULL, NULL));
	SHOW("connect AF_INET6 family", ({ struct sockaddr_in b = addr(AF_INET6, INADDR_LOOPBACK, 1); connect(s2, (struct sockaddr *)&b, sizeof b); }));
	SHOW("connect addrlen 4", ({ struct sockaddr_in b = addr(AF_INET, INADDR_LOOPBACK, 1); connect(s2, (struct sockaddr *)&b, 4); }));
	SHOW("connect bad pointer", connect(s2, (struct sockaddr *)8, sizeof a));
	SHOW("send on unconnected (MSG_NOSIGNAL)", send(s2, "x", 1, MSG_NOSIGNAL));
	SHOW("recv on unconnected", recv(s2, (char[4]){0}, 4, MSG_DONTWAIT));
	SHOW("getpeername unconnected", ({ struct sockaddr_in b; socklen_t bl = sizeof b; getpeername(s2, (struct sockaddr *)&b, &bl); }));
	SHOW("shutdown unconnected", shutdown(s2, SHUT_RDWR));
	int one = 1;
	SHOW("setsockopt optlen 2", setsockopt(s2, SOL_SOCKET, SO_REUSEADDR, &one, 2));
	SHOW("getsockopt unknown level", ({ int v; socklen_t vl = sizeof v; getsockopt(s2, 999, 1, &v, &vl); }));
	SHOW("setsockopt SO_SNDBUF 10000", setsockopt(s2, SOL_SOCKET, SO_SNDBUF, &(int){10000}, sizeof(int)));
	SHOW("getsockopt SO_SNDBUF (doubled)", ({ int v = 0; socklen_t vl = sizeof v; getsockopt(s2, SOL_SOCKET, SO_SNDBUF, &v, &vl) == 0 ? v : -1; }));
	SHOW("listen without bind", listen(s2, 1));
	SHOW("listen", listen(s, 4));
	SHOW("connect on a listener", connect(s, (struct sockaddr *)&a, sizeof a));
	int c0 = socket(AF_INET, SOCK_STREAM, 0);
	SHOW("connect, for an accept that faults", connect(c0, (struct sockaddr *)&a, sizeof a));
	socklen_t bl = sizeof a;
	SHOW("accept to a bad address", accept(s, (struct sockaddr *)8, &bl));
	SHOW("poll listener after it (consumed)", ({ struct pollfd pf = { .fd = s, .events = POLLIN }; poll(&pf, 1, 0); }));
	close(c0);

	int c = socket(AF_INET, SOCK_STREAM, 0);
	SHOW("connect", connect(c, (struct sockaddr *)&a, sizeof a));
	SHOW("connect again", connect(c, (struct sockaddr *)&a, sizeof a));
	int k = accept(s, NULL, NULL);
	printf("accept fd>=0 %d\n", k >= 0);
	struct iovec out[2] = { { "ab", 2 }, { "cdef", 4 } };
	struct msghdr m;
	memset(&m, 0, sizeof m);
	m.msg_iov = out;
	m.msg_iovlen = 2;
	SHOW("sendmsg two iovecs", sendmsg(c, &m, 0));
	char x[1], y[2], z[16];
	struct iovec in[3] = { { x, 1 }, { y, 2 }, { z, sizeof z } };
	memset(&m, 0, sizeof m);
	m.msg_iov = in;
	m.msg_iovlen = 3;
	ssize_t n = recvmsg(k, &m, 0);
	printf("recvmsg three iovecs %zd '%c' '%.2s' '%.*s' flags %d\n", n, x[0], y, (int)(n > 3 ? n - 3 : 0), z, m.msg_flags);
	m.msg_iovlen = 2000;
	SHOW("recvmsg iovlen 2000", recvmsg(k, &m, MSG_DONTWAIT));
	SHOW("connect AF_UNSPEC (tcp: disconnect)", ({ struct sockaddr_in b = addr(AF_UNSPEC, 0, 0); connect(c, (struct sockaddr *)&b, sizeof b); }));
	SHOW("getpeername after it", ({ struct sockaddr_in b; socklen_t l2 = sizeof b; getpeername(c, (struct sockaddr *)&b, &l2); }));
	SHOW("recv on the peer: reset", recv(k, (char[4]){0}, 4, 0));
	SHOW("connect again", connect(c, (struct sockaddr *)&a, sizeof a));
	int k2 = accept(s, NULL, NULL);
	printf("accept again fd>=0 %d\n", k2 >= 0);
	close(k2);
	close(c);
	close(k);

	int u = socket(AF_INET, SOCK_DGRAM, 0);
	SHOW("listen on udp", listen(u, 1));
	SHOW("sendto udp port 0", ({ struct sockaddr_in b = addr(AF_INET, INADDR_LOOPBACK, 0); sendto(u, "x", 1, 0, (struct sockaddr *)&b, sizeof b); }));
	SHOW("sendto udp addrlen 3", ({ struct sockaddr_in b = addr(AF_INET, INADDR_LOOPBACK, 9); sendto(u, "x", 1, 0, (struct sockaddr *)&b, 3); }));
	SHOW("accept on udp", accept(u, NULL, NULL));
	SHOW("socket(AF_INET, SOCK_STREAM, UDP)", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
	return 0;
}
