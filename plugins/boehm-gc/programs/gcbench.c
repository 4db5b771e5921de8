/*
 * GCBench, after Hans Boehm's tree benchmark (Ellis, Kovac and Boehm), rewritten here: a long-
 * lived tree and array stay alive while trees of depth 4, 6, ... are built top-down and bottom-
 * up and dropped, after one big "stretch" tree. The standard constants are stretch depth 18,
 * long-lived depth 16, an array of 500,000 doubles, depths 4 to 16; NumIters(d) =
 * 2 * TreeSize(stretch) / TreeSize(d). SCALE s (default 4) takes s from every depth and divides
 * the array by 2^s, so the ratio of what is live to what is allocated stays the standard one.
 *
 * Checksum: the nodes built, the long-lived tree's node count, and two array elements.
 */
#include "workload.h"

typedef struct node {
	struct node *left, *right;
	int i, j;
} node;

static long nodes_built;

static long tree_size(int d) { return (1L << (d + 1)) - 1; }

static node *new_node(node *l, node *r)
{
	node *n = GC_malloc(sizeof(node));
	n->left = l;
	n->right = r;
	nodes_built++;
	return n;
}

/* Top-down: the children are allocated into a node that is already old. */
static void populate(int depth, node *n)
{
	if (depth <= 0)
		return;
	depth--;
	n->left = new_node(NULL, NULL);
	n->right = new_node(NULL, NULL);
	populate(depth, n->left);
	populate(depth, n->right);
}

/* Bottom-up: a node is allocated after its children. */
static node *make_tree(int depth)
{
	if (depth <= 0)
		return new_node(NULL, NULL);
	node *l = make_tree(depth - 1);
	node *r = make_tree(depth - 1);
	return new_node(l, r);
}

static long count(const node *n)
{
	return n == NULL ? 0 : 1 + count(n->left) + count(n->right);
}

static void time_construction(int depth, int stretch)
{
	long iters = 2 * tree_size(stretch) / tree_size(depth);
	for (long i = 0; i < iters; i++) {
		node *t = new_node(NULL, NULL);
		populate(depth, t);
	}
	for (long i = 0; i < iters; i++)
		(void) make_tree(depth);
}

int main(int argc, char **argv)
{
	int s = (int) wl_scale(argc, argv, 4, 0, 8);
	int stretch = 18 - s, long_lived = 16 - s, min_depth = 4, max_depth = 16 - s;
	long array_size = 500000L >> s;
	wl_start();

	(void) make_tree(stretch);
	node *ll = new_node(NULL, NULL);
	populate(long_lived, ll);
	double *array = GC_malloc_atomic(sizeof(double) * (size_t) array_size);
	for (long i = 0; i < array_size / 2; i++)
		array[i] = 1.0 / (double) (i + 1);
	for (long i = array_size / 2; i < array_size; i++)
		array[i] = 0.0;
	for (int d = min_depth; d <= max_depth; d += 2)
		time_construction(d, stretch);

	unsigned long sum = (unsigned long) nodes_built * 31 + (unsigned long) count(ll) * 7 +
			    (unsigned long) (array[1000 >> s] * 1e9) + (unsigned long) (array[array_size / 2 - 1] * 1e12);
	return wl_finish(sum);
}
