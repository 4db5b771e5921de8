/* malloc.c - malloc-heavy data structures: a binary search tree with
 * inserts/deletes, a chained hash table that grows with realloc-free
 * rehashing, a growing realloc'd vector, and a few large (mmap-backed)
 * blocks. Everything is freed; prints checksums. Exit 0 on success. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

static uint32_t rng = 2463534242u;
static uint32_t next(void)
{
    /* xorshift32 */
    rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5;
    return rng;
}

/* ---- binary search tree ---- */
struct node { uint32_t key; struct node *left, *right; char pad[8]; };

static struct node *bst_insert(struct node *t, uint32_t key, int *added)
{
    if (!t) {
        struct node *n = malloc(sizeof *n);
        if (!n) { puts("malloc failed"); exit(2); }
        n->key = key; n->left = n->right = NULL;
        memset(n->pad, (int)(key & 0xff), sizeof n->pad);
        *added = 1;
        return n;
    }
    if (key < t->key) t->left = bst_insert(t->left, key, added);
    else if (key > t->key) t->right = bst_insert(t->right, key, added);
    return t;
}

static struct node *bst_delete(struct node *t, uint32_t key, int *removed)
{
    if (!t) return NULL;
    if (key < t->key) { t->left = bst_delete(t->left, key, removed); return t; }
    if (key > t->key) { t->right = bst_delete(t->right, key, removed); return t; }
    *removed = 1;
    if (!t->left) { struct node *r = t->right; free(t); return r; }
    if (!t->right) { struct node *l = t->left; free(t); return l; }
    struct node *m = t->right;
    while (m->left) m = m->left;
    t->key = m->key;
    int dummy = 0;
    t->right = bst_delete(t->right, m->key, &dummy);
    return t;
}

static uint64_t bst_sum(const struct node *t, uint64_t acc, long *count, uint32_t *prev, int *ordered)
{
    if (!t) return acc;
    acc = bst_sum(t->left, acc, count, prev, ordered);
    if (*count > 0 && t->key <= *prev) *ordered = 0;
    *prev = t->key;
    (*count)++;
    acc = acc * 1000003u + t->key;
    return bst_sum(t->right, acc, count, prev, ordered);
}

static void bst_free(struct node *t)
{
    if (!t) return;
    bst_free(t->left); bst_free(t->right); free(t);
}

/* ---- chained hash table with string keys ---- */
struct entry { char *key; long value; struct entry *next; };
struct table { struct entry **buckets; size_t nbuckets, size; };

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    while (*s) { h ^= (unsigned char)*s++; h *= 1099511628211ull; }
    return h;
}

static void ht_grow(struct table *t)
{
    size_t nb = t->nbuckets ? t->nbuckets * 2 : 16;
    struct entry **b = calloc(nb, sizeof *b);
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct entry *e = t->buckets[i];
        while (e) {
            struct entry *nx = e->next;
            size_t h = fnv1a(e->key) & (nb - 1);
            e->next = b[h]; b[h] = e;
            e = nx;
        }
    }
    free(t->buckets);
    t->buckets = b; t->nbuckets = nb;
}

static void ht_put(struct table *t, const char *key, long value)
{
    if (t->size + 1 > t->nbuckets * 3 / 4) ht_grow(t);
    size_t h = fnv1a(key) & (t->nbuckets - 1);
    for (struct entry *e = t->buckets[h]; e; e = e->next)
        if (strcmp(e->key, key) == 0) { e->value += value; return; }
    struct entry *e = malloc(sizeof *e);
    e->key = strdup(key); e->value = value;
    e->next = t->buckets[h]; t->buckets[h] = e;
    t->size++;
}

static int ht_del(struct table *t, const char *key)
{
    size_t h = fnv1a(key) & (t->nbuckets - 1);
    for (struct entry **pp = &t->buckets[h]; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->key, key) == 0) {
            struct entry *e = *pp;
            *pp = e->next;
            free(e->key); free(e);
            t->size--;
            return 1;
        }
    }
    return 0;
}

int main(void)
{
    /* BST: 5000 inserts, then delete about half (sizes kept small: the test suite runs this
       program in every mode, both with and without the block translator) */
    struct node *root = NULL;
    long inserted = 0, removed = 0;
    for (int i = 0; i < 5000; i++) {
        int added = 0;
        root = bst_insert(root, next() % 25000u, &added);
        inserted += added;
    }
    for (int i = 0; i < 5000; i++) {
        int r = 0;
        root = bst_delete(root, next() % 25000u, &r);
        removed += r;
    }
    long count = 0; uint32_t prev = 0; int ordered = 1;
    uint64_t sum = bst_sum(root, 0, &count, &prev, &ordered);
    printf("bst: inserted=%ld removed=%ld remaining=%ld ordered=%d checksum=%016llx\n",
           inserted, removed, count, ordered, (unsigned long long)sum);
    bst_free(root);

    /* hash table */
    struct table t = { 0 };
    char key[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof key, "k%u", next() % 2000u);
        ht_put(&t, key, i);
    }
    int dels = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k%u", next() % 2000u);
        dels += ht_del(&t, key);
    }
    uint64_t hsum = 0;
    for (size_t i = 0; i < t.nbuckets; i++)
        for (struct entry *e = t.buckets[i]; e; e = e->next)
            hsum += fnv1a(e->key) ^ (uint64_t)e->value;
    printf("hash: size=%zu buckets=%zu deleted=%d checksum=%016llx\n",
           t.size, t.nbuckets, dels, (unsigned long long)hsum);
    for (size_t i = 0; i < t.nbuckets; i++) {
        struct entry *e = t.buckets[i];
        while (e) { struct entry *nx = e->next; free(e->key); free(e); e = nx; }
    }
    free(t.buckets);

    /* realloc-grown vector */
    size_t cap = 1, len = 0;
    uint32_t *v = malloc(cap * sizeof *v);
    for (int i = 0; i < 12500; i++) {
        if (len == cap) { cap *= 2; v = realloc(v, cap * sizeof *v); if (!v) return 3; }
        v[len++] = next();
    }
    uint64_t vsum = 0;
    for (size_t i = 0; i < len; i++) vsum += v[i];
    printf("vector: len=%zu cap=%zu sum=%llu\n", len, cap, (unsigned long long)vsum);
    free(v);

    /* large blocks (mmap-backed in musl) */
    uint64_t lsum = 0;
    for (int i = 0; i < 4; i++) {
        size_t sz = (size_t)(256 + i * 128) * 1024;
        unsigned char *b = malloc(sz);
        if (!b) return 4;
        memset(b, i + 1, sz);
        b[sz - 1] = 0x5a;
        for (size_t j = 0; j < sz; j += 4096) lsum += b[j];
        lsum += b[sz - 1];
        free(b);
    }
    printf("large: sum=%llu\n", (unsigned long long)lsum);
    return ordered ? 0 : 1;
}
