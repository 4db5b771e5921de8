/*
 * The echo server of IX Fig. 3 over libix: every connection's messages of MSG_SIZE bytes are
 * echoed once whole. Usage: echo-ix MSG_SIZE CONNECTIONS [BATCH] — exits after CONNECTIONS
 * connections have ended. The application runs in guest ring 3; each ixev_wait is one SYSCALL.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "libdune/dune.h"
#include "ix.h"

#define MAX_CONNS 4096

struct conn {
	struct ixev_ctx ctx;
	size_t have;
	int used;
	char buf[2048];
};

static struct conn conns[MAX_CONNS];
static size_t msg_size;
static long conns_left, messages;
static char ustack[65536] __attribute__((aligned(16)));

static void handler(struct ixev_ctx *ctx, unsigned int reason)
{
	struct conn *c = (struct conn *) ctx;
	if (reason & IXEVIN) {
		for (;;) {
			long n = ixev_recv(ctx, c->buf + c->have, msg_size - c->have);
			if (n <= 0)
				break;
			c->have += n;
			if (c->have == msg_size) {
				ixev_send(ctx, c->buf, msg_size);
				c->have = 0;
				messages++;
			}
		}
	}
	if (reason & IXEVHUP)
		ixev_close(ctx);
}

static struct ixev_ctx *accept_conn(uint64_t handle, uint32_t ip, uint16_t port)
{
	(void) handle, (void) ip, (void) port;
	for (int i = 0; i < MAX_CONNS; i++) {
		if (!conns[i].used) {
			conns[i].used = 1;
			conns[i].have = 0;
			ixev_ctx_init(&conns[i].ctx);
			ixev_set_handler(&conns[i].ctx, IXEVIN, handler);
			return &conns[i].ctx;
		}
	}
	return NULL;
}

static void release(struct ixev_ctx *ctx)
{
	((struct conn *) ctx)->used = 0;
	conns_left--;
}

static struct ixev_conn_ops ops = { .accept = accept_conn, .release = release };

static void put_num(char *p, long v, int *k)
{
	char t[24];
	int n = 0;
	do
		t[n++] = '0' + v % 10;
	while (v /= 10);
	while (n)
		p[(*k)++] = t[--n];
}

static void app(void)
{
	char out[96];
	int k = 0;

	ixev_init(&ops);
	while (conns_left > 0)
		ixev_wait();
	memcpy(out, "echo-ix: messages ", 18);
	k = 18;
	put_num(out, messages, &k);
	out[k++] = '\n';
	ix_posix(SYS_write, 1, (long) out, k);
	ix_posix(SYS_exit, 0, 0, 0);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		dune_printf("usage: echo-ix MSG_SIZE CONNECTIONS [BATCH]\n");
		return 2;
	}
	msg_size = strtoul(argv[1], NULL, 10);
	conns_left = strtol(argv[2], NULL, 10);
	if (msg_size == 0 || msg_size > sizeof(conns[0].buf) || conns_left <= 0) {
		dune_printf("echo-ix: bad MSG_SIZE or CONNECTIONS\n");
		return 2;
	}
	int ret = ix_init(argc > 3 ? atoi(argv[3]) : 0);
	if (ret) {
		dune_printf("echo-ix: ix_init failed (%d)\n", ret);
		return 1;
	}
	return ix_run(app, ustack, sizeof(ustack));
}
