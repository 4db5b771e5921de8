/*
 * The echo server of IX Fig. 3 over libix: every connection's messages of MSG_SIZE bytes are
 * echoed once whole. Usage: echo-ix MSG_SIZE CONNECTIONS [BATCH] — exits after CONNECTIONS
 * connections have ended. With -c (echo-ix -c A.B.C.D PORT MSG_SIZE ROUNDS) it is NetPIPE's
 * ping-pong client: it dials, sends a message, waits for its echo, ROUNDS times, and exits.
 * The application runs in guest ring 3; each ixev_wait is one SYSCALL.
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

static long rounds_left, client_got;
static int client_done;

static void client_handler(struct ixev_ctx *ctx, unsigned int reason)
{
	struct conn *c = (struct conn *) ctx;
	if (reason & IXEVIN) {
		for (;;) {
			long n = ixev_recv(ctx, c->buf, sizeof(c->buf));
			if (n <= 0)
				break;
			client_got += n;
			for (size_t k = 0; k < (size_t) n; k++)
				if (c->buf[k] != (char) 0x5a)
					client_done = -1;
		}
		while (client_got >= (long) msg_size) {
			client_got -= msg_size;
			messages++;
			if (--rounds_left > 0) {
				memset(c->buf, 0x5a, msg_size);
				ixev_send(ctx, c->buf, msg_size);
			} else if (client_done == 0) {
				client_done = 1;
			}
		}
	}
	if (reason & IXEVHUP)
		client_done = -1;
}

static void dialed(struct ixev_ctx *ctx, long ret)
{
	struct conn *c = (struct conn *) ctx;
	if (ret != 0) {
		client_done = -1;
		return;
	}
	memset(c->buf, 0x5a, msg_size);
	ixev_send(ctx, c->buf, msg_size);
}

static struct ixev_conn_ops ops = { .accept = accept_conn, .release = release, .dialed = dialed };
static uint32_t dial_ip;
static uint16_t dial_port;

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
	if (dial_ip) {
		conns[0].used = 1;
		ixev_ctx_init(&conns[0].ctx);
		ixev_set_handler(&conns[0].ctx, IXEVIN, client_handler);
		ixev_dial(&conns[0].ctx, dial_ip, dial_port);
		while (client_done == 0)
			ixev_wait();
		memcpy(out, client_done > 0 ? "echo-ix: round trips " : "echo-ix: FAILED after ", 21 + (client_done <= 0));
		k = 21 + (client_done <= 0);
		put_num(out, messages, &k);
		out[k++] = '\n';
		ix_posix(SYS_write, 1, (long) out, k);
		ix_posix(SYS_exit, client_done > 0 ? 0 : 1, 0, 0);
	}
	while (conns_left > 0)
		ixev_wait();
	memcpy(out, "echo-ix: messages ", 18);
	k = 18;
	put_num(out, messages, &k);
	out[k++] = '\n';
	ix_posix(SYS_write, 1, (long) out, k);
	ix_posix(SYS_exit, 0, 0, 0);
}

static uint32_t parse_ip(const char *s)
{
	uint32_t ip = 0;
	for (int i = 0; i < 4; i++) {
		ip = ip << 8 | (uint32_t) strtoul(s, (char **) &s, 10);
		if (*s == '.')
			s++;
	}
	return ip;
}

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "-c") == 0) {
		dial_ip = parse_ip(argv[2]);
		dial_port = (uint16_t) atoi(argv[3]);
		msg_size = strtoul(argv[4], NULL, 10);
		rounds_left = strtol(argv[5], NULL, 10);
		if (msg_size == 0 || msg_size > sizeof(conns[0].buf) || rounds_left <= 0 || !dial_ip) {
			dune_printf("echo-ix: bad client arguments\n");
			return 2;
		}
		int ret = ix_init(0);
		if (ret) {
			dune_printf("echo-ix: ix_init failed (%d)\n", ret);
			return 1;
		}
		return ix_run(app, ustack, sizeof(ustack));
	}
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
