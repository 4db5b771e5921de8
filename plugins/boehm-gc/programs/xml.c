/*
 * XML (Dune §6.3.3 parsed a 150 MB file of medical publications with MiniXML and counted
 * publications per author in a hash map). Written here: a generator of a publication-records
 * document, a DOM parser (elements, attributes, text, entities, comments, the declaration), and
 * a count of publications per author in an open-addressing map keyed by "Last Initials".
 *
 *   xml [-files N] [SCALE]    SCALE: KiB of XML per document (default 1024); N documents (1..20,
 *                             default 1) generated and parsed one after the other, the counts
 *                             kept across them (the paper's ten-file run)
 *
 * Nearly everything allocated stays live until the document is counted: the document itself
 * and its tree, so the heap is about the whole allocation, as in the paper (1,737 MB of heap for
 * 1,753 MB allocated). With N documents each tree is garbage once counted.
 *
 * Checksum: distinct authors, mentions, and an order-independent hash of (author, count).
 */
#include "workload.h"

/* ---- the document ---- */

typedef struct buf {
	char *p;
	size_t n, cap;
} buf;

static void put(buf *b, const char *s)
{
	while (*s && b->n < b->cap)
		b->p[b->n++] = *s++;
}

static void put_num(buf *b, unsigned long v)
{
	char t[24];
	int i = 0;
	do
		t[i++] = (char) ('0' + v % 10);
	while ((v /= 10) != 0);
	while (i > 0 && b->n < b->cap)
		b->p[b->n++] = t[--i];
}

static unsigned long rng;

static unsigned long next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const char *const syll[] = { "ka", "ro", "mi", "ten", "sal", "vi", "do", "ber", "an", "lu",
				    "gar", "ne", "sho", "pel", "ri", "tam" };
#define NAUTHORS 4096

static void put_last_name(buf *b, unsigned long a)
{
	char t[32];
	int n = 0;
	unsigned long h = a * 0x9e3779b97f4a7c15UL;
	int parts = 2 + (int) (h >> 62);
	for (int i = 0; i < parts; i++) {
		const char *s = syll[(h >> (i * 4)) & 15];
		while (*s)
			t[n++] = *s++;
	}
	t[0] = (char) (t[0] - 'a' + 'A');
	t[n] = '\0';
	put(b, t);
}

static void generate(buf *b, unsigned long seed)
{
	static const char *const journals[] = { "Lancet", "BMJ", "JAMA", "N Engl J Med", "Nature Medicine" };
	rng = seed * 0x2545f4914f6cdd1dUL + 1;
	put(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- generated publication records -->\n<publications>\n");
	for (unsigned long id = 1; b->n + 1024 < b->cap; id++) {
		put(b, " <publication id=\"");
		put_num(b, seed * 1000000 + id);
		put(b, "\">\n  <title>Effects of treatment ");
		put_num(b, next() % 100000);
		put(b, " on outcome &amp; recovery</title>\n  <journal>");
		put(b, journals[next() % 5]);
		put(b, "</journal>\n  <year>");
		put_num(b, 1970 + next() % 50);
		put(b, "</year>\n  <authors>\n");
		int na = 1 + (int) (next() % 6);
		for (int i = 0; i < na; i++) {
			/* Skewed: a few prolific authors, many occasional ones. */
			unsigned long a = (next() % NAUTHORS) & (next() % NAUTHORS);
			put(b, "   <author><last>");
			put_last_name(b, a);
			put(b, "</last><initials>");
			char in[3] = { (char) ('A' + a % 26), (char) ('A' + (a / 26) % 26), '\0' };
			put(b, in);
			put(b, "</initials></author>\n");
		}
		put(b, "  </authors>\n </publication>\n");
	}
	put(b, "</publications>\n");
}

/* ---- the tree ---- */

typedef struct attr {
	char *name, *value;
	struct attr *next;
} attr;

typedef struct elem {
	char *name;
	char *text; /* the element's text, when it has some */
	attr *attrs;
	struct elem *child, *last_child, *next;
} elem;

static const char *doc, *pos, *end;

static void fail(const char *what)
{
	fprintf(stderr, "xml: parse error at offset %ld: %s\n", (long) (pos - doc), what);
	exit(1);
}

static int is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }
static int is_name(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == ':' || c == '.';
}

static void skip_space(void)
{
	while (pos < end && is_space(*pos))
		pos++;
}

static char *copy(const char *s, size_t n)
{
	char *t = GC_malloc_atomic(n + 1);
	memcpy(t, s, n);
	t[n] = '\0';
	return t;
}

static char *name(void)
{
	const char *s = pos;
	while (pos < end && is_name(*pos))
		pos++;
	if (pos == s)
		fail("a name was expected");
	return copy(s, (size_t) (pos - s));
}

/* Text up to `stop`, with the five predefined entities decoded. */
static char *text_until(char stop)
{
	const char *s = pos;
	size_t n = 0;
	while (pos < end && *pos != stop) {
		if (*pos == '&') {
			const char *e = pos;
			while (e < end && *e != ';')
				e++;
			if (e == end)
				fail("an unterminated entity");
			pos = e;
		}
		pos++;
		n++;
	}
	if (pos == end)
		fail("unexpected end of the document");
	char *t = GC_malloc_atomic(n + 1), *o = t;
	for (const char *p = s; p < pos; p++) {
		if (*p != '&') {
			*o++ = *p;
			continue;
		}
		if (!strncmp(p, "&amp;", 5)) *o++ = '&', p += 4;
		else if (!strncmp(p, "&lt;", 4)) *o++ = '<', p += 3;
		else if (!strncmp(p, "&gt;", 4)) *o++ = '>', p += 3;
		else if (!strncmp(p, "&quot;", 6)) *o++ = '"', p += 5;
		else if (!strncmp(p, "&apos;", 6)) *o++ = '\'', p += 5;
		else fail("an unknown entity");
	}
	*o = '\0';
	return t;
}

static void skip_misc(void)
{
	for (;;) {
		skip_space();
		if (end - pos >= 2 && pos[0] == '<' && pos[1] == '?') {
			while (pos + 1 < end && !(pos[0] == '?' && pos[1] == '>'))
				pos++;
			pos += 2;
		} else if (end - pos >= 4 && !strncmp(pos, "<!--", 4)) {
			while (pos + 2 < end && strncmp(pos, "-->", 3))
				pos++;
			pos += 3;
		} else {
			return;
		}
	}
}

/* An element at '<', iteratively: a stack of open elements instead of recursion. */
static elem *parse(void)
{
	elem *stack[64];
	int depth = 0;
	elem *root = NULL;
	for (;;) {
		skip_misc();
		if (pos >= end)
			fail("unexpected end of the document");
		if (*pos != '<') {
			if (depth == 0)
				fail("text outside the root element");
			char *t = text_until('<');
			elem *e = stack[depth - 1];
			if (e->text == NULL)
				e->text = t;
			continue;
		}
		pos++;
		if (pos < end && *pos == '/') {
			pos++;
			char *n = name();
			if (depth == 0 || strcmp(n, stack[depth - 1]->name) != 0)
				fail("a closing tag that does not match");
			skip_space();
			if (pos >= end || *pos != '>')
				fail("'>' was expected");
			pos++;
			if (--depth == 0)
				return root;
			continue;
		}
		elem *e = GC_malloc(sizeof(elem));
		e->name = name();
		for (;;) {
			skip_space();
			if (pos < end && is_name(*pos)) {
				attr *a = GC_malloc(sizeof(attr));
				a->name = name();
				skip_space();
				if (pos + 1 >= end || *pos != '=' || pos[1] != '"')
					fail("an attribute value was expected");
				pos += 2;
				a->value = text_until('"');
				pos++;
				a->next = e->attrs;
				e->attrs = a;
				continue;
			}
			break;
		}
		if (depth > 0) {
			elem *p = stack[depth - 1];
			if (p->last_child)
				p->last_child->next = e;
			else
				p->child = e;
			p->last_child = e;
		} else if (root != NULL) {
			fail("a second root element");
		} else {
			root = e;
		}
		if (end - pos >= 2 && pos[0] == '/' && pos[1] == '>') {
			pos += 2;
			if (depth == 0)
				return root;
			continue;
		}
		if (pos >= end || *pos != '>')
			fail("'>' was expected");
		pos++;
		if (depth == 64)
			fail("elements nested too deep");
		stack[depth++] = e;
	}
}

/* ---- publications per author ---- */

typedef struct count {
	char *author;
	unsigned long hash;
	long n;
} count;

static count **table;
static unsigned long cap, used;

static unsigned long str_hash(const char *s)
{
	unsigned long h = 1469598103934665603UL;
	while (*s)
		h = (h ^ (unsigned char) *s++) * 1099511628211UL;
	return h;
}

static count **slot(const char *a, unsigned long h)
{
	unsigned long i = h & (cap - 1);
	while (table[i] != NULL && (table[i]->hash != h || strcmp(table[i]->author, a) != 0))
		i = (i + 1) & (cap - 1);
	return &table[i];
}

static void add_author(char *a)
{
	if ((used + 1) * 4 > cap * 3) {
		count **old = table;
		unsigned long oldcap = cap;
		cap *= 2;
		table = GC_malloc(cap * sizeof(count *));
		for (unsigned long i = 0; i < oldcap; i++)
			if (old[i] != NULL)
				*slot(old[i]->author, old[i]->hash) = old[i];
	}
	unsigned long h = str_hash(a);
	count **s = slot(a, h);
	if (*s == NULL) {
		count *c = GC_malloc(sizeof(count));
		c->author = a;
		c->hash = h;
		*s = c;
		used++;
	}
	(*s)->n++;
}

static const elem *child(const elem *e, const char *n)
{
	for (const elem *c = e->child; c != NULL; c = c->next)
		if (strcmp(c->name, n) == 0)
			return c;
	return NULL;
}

static long count_authors(const elem *root)
{
	long mentions = 0;
	for (const elem *p = root->child; p != NULL; p = p->next) {
		const elem *as = child(p, "authors");
		if (strcmp(p->name, "publication") != 0 || as == NULL)
			continue;
		for (const elem *a = as->child; a != NULL; a = a->next) {
			const elem *last = child(a, "last"), *in = child(a, "initials");
			if (last == NULL || in == NULL || last->text == NULL || in->text == NULL)
				continue;
			size_t ln = strlen(last->text), il = strlen(in->text);
			char *key = GC_malloc_atomic(ln + il + 2);
			memcpy(key, last->text, ln);
			key[ln] = ' ';
			memcpy(key + ln + 1, in->text, il + 1);
			add_author(key);
			mentions++;
		}
	}
	return mentions;
}

int main(int argc, char **argv)
{
	long files = 1;
	if (argc >= 3 && strcmp(argv[1], "-files") == 0) {
		char *e;
		files = strtol(argv[2], &e, 10);
		if (*argv[2] == '\0' || *e != '\0' || files < 1 || files > 20) {
			fprintf(stderr, "xml: -files takes a number from 1 to 20\n");
			return 2;
		}
		argv[2] = argv[0];
		argv += 2;
		argc -= 2;
	}
	long kib = wl_scale(argc, argv, 1024, 4, 1L << 20);
	wl_start();
	cap = 1024;
	table = GC_malloc(cap * sizeof(count *));
	long mentions = 0;
	for (long f = 0; f < files; f++) {
		buf b = { GC_malloc_atomic((size_t) kib << 10), 0, (size_t) kib << 10 };
		generate(&b, (unsigned long) f + 1);
		doc = pos = b.p;
		end = b.p + b.n;
		skip_misc();
		const elem *root = parse();
		mentions += count_authors(root);
	}
	unsigned long mix = 0;
	for (unsigned long i = 0; i < cap; i++)
		if (table[i] != NULL)
			mix += table[i]->hash * (unsigned long) table[i]->n;
	return wl_finish(used * 1000003UL + (unsigned long) mentions * 31 + mix);
}
