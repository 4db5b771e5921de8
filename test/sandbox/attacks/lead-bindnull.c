/* The firewall fails closed: a bind or connect whose address the sandbox cannot judge (NULL, or
 * shorter than a family) is refused before the kernel sees it, with the errno Linux gives. Prints
 * each result; a 0 from any of them would be a socket the firewall never judged. */
#include <netinet/in.h>
#include <sys/socket.h>
#include "attack.h"

int main(void)
{
	long fd = raw6(41 /* socket */, AF_INET, SOCK_STREAM, 0, 0, 0, 0);
	long u = raw6(41, AF_INET, SOCK_DGRAM, 0, 0, 0, 0);
	char one = 2;
	long r[5];
	r[0] = raw6(49 /* bind */, fd, 0, 16, 0, 0, 0);
	r[1] = raw6(49, fd, 0, 0, 0, 0, 0);
	r[2] = raw6(49, fd, (long)&one, 1, 0, 0, 0);
	r[3] = raw6(42 /* connect */, fd, 0, 16, 0, 0, 0);
	r[4] = raw6(44 /* sendto */, u, (long)"x", 1, 0, (long)&one, 1);
	for (int i = 0; i < 5; i++) {
		if (r[i] >= 0)
			ESCAPED("call %d succeeded", i);
		else
			HELD("call %d: %ld", i, r[i]);
	}
	return 0;
}
