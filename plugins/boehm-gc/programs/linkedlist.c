/*
 * LinkedList (Dune §6.3.3): builds increasingly large lists of integers and sums each list after
 * building it. Round k (1..32) appends k * SCALE nodes (default SCALE 1024) at the tail, so the
 * previous node, sometimes on a page that survived a collection, is written; the list before is
 * garbage once the next starts. 32 rounds keep the paper's ratio of heap to allocation (1,387 MB
 * of 15,257 MB, 9 %): the largest list is 2/33 of all allocation.
 *
 * Checksum: the sum of the round sums.
 */
#include "workload.h"

#define ROUNDS 32

typedef struct cell {
	struct cell *next;
	long value;
} cell;

int main(int argc, char **argv)
{
	long step = wl_scale(argc, argv, 1024, 1, 1L << 20);
	wl_start();
	unsigned long total = 0;
	unsigned long x = 88172645463325252UL;
	for (long k = 1; k <= ROUNDS; k++) {
		cell *head = NULL, *tail = NULL;
		for (long i = 0; i < k * step; i++) {
			cell *c = GC_malloc(sizeof(cell));
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			c->value = (long) (x & 0xffff);
			if (tail != NULL)
				tail->next = c;
			else
				head = c;
			tail = c;
		}
		unsigned long sum = 0;
		for (const cell *c = head; c != NULL; c = c->next)
			sum += (unsigned long) c->value;
		total = total * 31 + sum;
	}
	return wl_finish(total);
}
