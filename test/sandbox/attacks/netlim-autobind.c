/* Class 5: a socket that gets a local address without bind() — listen() on an unbound TCP
 * socket, sendto() and connect() on an unbound UDP socket, listen() after a refused bind or a
 * failed connect — must be judged by the policy's network.bind rules like a bind to 0.0.0.0:0.
 * Under a policy whose network.bind does not cover 0.0.0.0:0 every line must say "held"; a
 * local port after the call is an escape, and for TCP a connect from the host's loopback to it
 * proves the program reachable. */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include "attack.h"

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(0x7f000001);
	return a;
}

/* The socket's local port (0: it has none). */
static int local_port(int fd)
{
	struct sockaddr_in a;
	socklen_t l = sizeof a;
	memset(&a, 0, sizeof a);
	if (raw6(SYS_getsockname, fd, (long)&a, (long)&l, 0, 0, 0) != 0)
		return 0;
	return ntohs(a.sin_port);
}

/* A TCP listener with a port: can a connection from the host's loopback reach it? */
static void judge_listener(const char *what, int fd, long r)
{
	int port = local_port(fd);
	if (r != 0 || port == 0) {
		HELD("%s: listen = %ld, no local port", what, r);
		return;
	}
	int c = raw6(SYS_socket, AF_INET, SOCK_STREAM, 0, 0, 0, 0);
	struct sockaddr_in to = loopback(port);
	long k = raw6(SYS_connect, c, (long)&to, sizeof to, 0, 0, 0);
	ESCAPED("%s: listening on port %d (a host connect to it: %ld)", what, port, k);
}

static void judge_datagram(const char *what, int fd, long r)
{
	int port = local_port(fd);
	if (port == 0)
		HELD("%s: %ld, no local port", what, r);
	else
		ESCAPED("%s: %ld, bound to port %d", what, r, port);
}

int main(void)
{
	struct sockaddr_in discard = loopback(9);

	/* 1. listen() without bind(). */
	int s1 = raw6(SYS_socket, AF_INET, SOCK_STREAM, 0, 0, 0, 0);
	judge_listener("listen without bind", s1, raw6(SYS_listen, s1, 4, 0, 0, 0, 0));

	/* 2. listen() after a bind the policy refused. */
	int s2 = raw6(SYS_socket, AF_INET, SOCK_STREAM, 0, 0, 0, 0);
	struct sockaddr_in any0;
	memset(&any0, 0, sizeof any0);
	any0.sin_family = AF_INET;
	raw6(SYS_bind, s2, (long)&any0, sizeof any0, 0, 0, 0);
	judge_listener("listen after a refused bind", s2, raw6(SYS_listen, s2, 4, 0, 0, 0, 0));

	/* 3. listen() after a connect that failed (nobody on port 9). */
	int s3 = raw6(SYS_socket, AF_INET, SOCK_STREAM, 0, 0, 0, 0);
	raw6(SYS_connect, s3, (long)&discard, sizeof discard, 0, 0, 0);
	judge_listener("listen after a failed connect", s3, raw6(SYS_listen, s3, 4, 0, 0, 0, 0));

	/* 4. sendto() on an unbound UDP socket. */
	int u1 = raw6(SYS_socket, AF_INET, SOCK_DGRAM, 0, 0, 0, 0);
	judge_datagram("udp sendto autobind", u1, raw6(SYS_sendto, u1, (long)"x", 1, 0, (long)&discard, sizeof discard));

	/* 5. connect() on an unbound UDP socket, then AF_UNSPEC to lift the source filter. */
	int u2 = raw6(SYS_socket, AF_INET, SOCK_DGRAM, 0, 0, 0, 0);
	long r = raw6(SYS_connect, u2, (long)&discard, sizeof discard, 0, 0, 0);
	struct sockaddr unspec;
	memset(&unspec, 0, sizeof unspec);
	unspec.sa_family = AF_UNSPEC;
	raw6(SYS_connect, u2, (long)&unspec, sizeof unspec, 0, 0, 0);
	judge_datagram("udp connect autobind", u2, r);

	/* 6. write() on a connected UDP socket binds nothing new: a peer needs a connect first. */
	int u3 = raw6(SYS_socket, AF_INET, SOCK_DGRAM, 0, 0, 0, 0);
	judge_datagram("udp write unconnected", u3, raw6(SYS_write, u3, (long)"x", 1, 0, 0, 0));
	return 0;
}
