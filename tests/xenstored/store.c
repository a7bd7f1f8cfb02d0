/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The node tree of test-xenstored and its transactions.
 *
 * Nodes live in a hash table keyed by full path (O(1) lookup however wide
 * the tree) and are linked to their parent's child list in insertion order,
 * which is the order cxenstored returns from XS_DIRECTORY.
 *
 * Every change gives the node a fresh generation number from one global
 * counter; a node whose child list changes counts as changed. A transaction
 * copies each node it touches into a private entry and remembers the
 * generation it saw (0 for "absent"). Commit fails with EAGAIN if any of
 * those generations moved, so a read, a listing or an observed absence that
 * someone else invalidated aborts the commit, as in cxenstored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xsd.h"

struct node {
	char *path;
	const char *name;       /* last component, inside path */
	char *value;
	size_t vlen;
	char *perms;
	size_t plen;
	uint64_t gen;
	struct node *parent, *first, *last, *prev, *next;
	size_t childlen;        /* bytes of "name\0" over all children */
	struct node *hnext;
};

struct txent {
	char *path;
	int exists, modified;
	uint64_t gen0;
	char *value;
	size_t vlen;
	char *perms;
	size_t plen;
	char **kids;
	size_t nkids, kcap;
	struct txent *hnext, *onext;
};

struct txev {
	char *path;
	int exact;
	struct txev *next;
};

struct xsd_tx {
	uint32_t id;
	void *owner;
	struct txent **tab;
	size_t tsize, count;
	struct txent *ofirst, *olast;
	struct txev *efirst, *elast;
};

static struct node **tab;
static size_t tsize, tcount;
static uint64_t gen_counter;

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		perror("test-xenstored: fatal: unable to allocate memory");
		exit(111);
	}
	return p;
}

static char *xmemdup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static size_t hash(const char *s)
{
	size_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static struct node *lookup(const char *path)
{
	struct node *n;

	for (n = tab[hash(path) & (tsize - 1)]; n; n = n->hnext)
		if (strcmp(n->path, path) == 0)
			return n;
	return NULL;
}

static void hash_insert(struct node *n)
{
	size_t i, b;
	struct node **nt, *m, *next;

	if (tcount + 1 > tsize * 2) {
		nt = xmalloc(tsize * 2 * sizeof(*nt));
		memset(nt, 0, tsize * 2 * sizeof(*nt));
		for (i = 0; i < tsize; i++)
			for (m = tab[i]; m; m = next) {
				next = m->hnext;
				b = hash(m->path) & (tsize * 2 - 1);
				m->hnext = nt[b];
				nt[b] = m;
			}
		free(tab);
		tab = nt;
		tsize *= 2;
	}
	b = hash(n->path) & (tsize - 1);
	n->hnext = tab[b];
	tab[b] = n;
	tcount++;
}

static void hash_remove(struct node *n)
{
	struct node **pp;

	for (pp = &tab[hash(n->path) & (tsize - 1)]; *pp; pp = &(*pp)->hnext)
		if (*pp == n) {
			*pp = n->hnext;
			tcount--;
			return;
		}
}

/* Parent path of an absolute path other than "/", into buf. */
static void parent_of(const char *path, char *buf)
{
	const char *slash = strrchr(path, '/');
	size_t n = (size_t)(slash - path);

	if (n == 0)
		n = 1;
	memcpy(buf, path, n);
	buf[n] = '\0';
}

static void child_unlink(struct node *n)
{
	struct node *p = n->parent;

	if (n->prev)
		n->prev->next = n->next;
	else
		p->first = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		p->last = n->prev;
	n->prev = n->next = NULL;
	p->childlen -= strlen(n->name) + 1;
}

static void child_append(struct node *p, struct node *n)
{
	n->parent = p;
	n->prev = p->last;
	n->next = NULL;
	if (p->last)
		p->last->next = n;
	else
		p->first = n;
	p->last = n;
	p->childlen += strlen(n->name) + 1;
}

/* A new node below an existing parent; perms are inherited (all our
 * clients are dom0, so cxenstored would not change the owner either). */
static struct node *node_new(struct node *parent, const char *path)
{
	struct node *n = xmalloc(sizeof(*n));

	memset(n, 0, sizeof(*n));
	n->path = xmemdup(path, strlen(path));
	n->name = strrchr(n->path, '/') + 1;
	n->value = xmemdup("", 0);
	n->perms = xmemdup(parent->perms, parent->plen);
	n->plen = parent->plen;
	n->gen = ++gen_counter;
	child_append(parent, n);
	parent->gen = ++gen_counter;
	hash_insert(n);
	return n;
}

static void node_free(struct node *n)
{
	free(n->path);
	free(n->value);
	free(n->perms);
	free(n);
}

/* Descendants of n, silently: a commit fires only its queued events. */
static void free_subtree(struct node *n)
{
	struct node *c;

	while ((c = n->first)) {
		free_subtree(c);
		child_unlink(c);
		hash_remove(c);
		node_free(c);
	}
}

void xsd_store_init(void)
{
	struct node *root;

	tsize = 1024;
	tab = xmalloc(tsize * sizeof(*tab));
	memset(tab, 0, tsize * sizeof(*tab));
	root = xmalloc(sizeof(*root));
	memset(root, 0, sizeof(*root));
	root->path = xmemdup("/", 1);
	root->name = root->path;
	root->value = xmemdup("", 0);
	root->perms = xmemdup("n0", 3);
	root->plen = 3;
	root->gen = ++gen_counter;
	hash_insert(root);
}

/* Back to an empty store (the fuzzer starts every input from scratch). */
void xsd_store_reset(void)
{
	struct node *root = lookup("/");

	free_subtree(root);
	hash_remove(root);
	node_free(root);
	free(tab);
	tab = NULL;
	tsize = tcount = 0;
	xsd_store_init();
}

unsigned long xsd_node_count(void)
{
	return (unsigned long)tcount;
}

/* Missing ancestors are created with empty values, as cxenstored does.
 * Iterative: a path can be a thousand levels deep. */
static struct node *create_path(const char *path)
{
	char buf[XSD_PATH_BUF];
	struct node *n = lookup(path), *p = lookup("/");
	size_t i, len = strlen(path);

	if (n)
		return n;
	for (i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		memcpy(buf, path, i);
		buf[i] = '\0';
		n = lookup(buf);
		p = n ? n : node_new(p, buf);
	}
	return p;
}

/* Post-order, so each node is gone before its parent, like cxenstored's
 * walk; only the top of the removal fires watches on its ancestors. */
static void rm_subtree(struct node *n, int top)
{
	while (n->first)
		rm_subtree(n->first, 0);
	xsd_fire(n->path, !top);
	child_unlink(n);
	n->parent->gen = ++gen_counter;
	hash_remove(n);
	node_free(n);
}

/* ---- transactions ---- */

static struct txent *tx_find(struct xsd_tx *tx, const char *path)
{
	struct txent *e;

	for (e = tx->tab[hash(path) & (tx->tsize - 1)]; e; e = e->hnext)
		if (strcmp(e->path, path) == 0)
			return e;
	return NULL;
}

static void kid_add(struct txent *e, const char *name)
{
	if (e->nkids == e->kcap) {
		e->kcap = e->kcap ? e->kcap * 2 : 8;
		e->kids = realloc(e->kids, e->kcap * sizeof(*e->kids));
		if (!e->kids) {
			perror("test-xenstored: fatal: unable to allocate memory");
			exit(111);
		}
	}
	e->kids[e->nkids++] = xmemdup(name, strlen(name));
}

static void kid_del(struct txent *e, const char *name)
{
	size_t i;

	for (i = 0; i < e->nkids; i++)
		if (strcmp(e->kids[i], name) == 0) {
			free(e->kids[i]);
			memmove(e->kids + i, e->kids + i + 1,
			        (e->nkids - i - 1) * sizeof(*e->kids));
			e->nkids--;
			return;
		}
}

static void kids_clear(struct txent *e)
{
	size_t i;

	for (i = 0; i < e->nkids; i++)
		free(e->kids[i]);
	e->nkids = 0;
}

/* The transaction's copy of path, loaded from the tree on first touch. */
static struct txent *tx_get(struct xsd_tx *tx, const char *path)
{
	struct txent *e = tx_find(tx, path), **nt, *m, *next;
	struct node *n, *c;
	size_t i, b;

	if (e)
		return e;
	if (tx->count + 1 > tx->tsize * 2) {
		nt = xmalloc(tx->tsize * 2 * sizeof(*nt));
		memset(nt, 0, tx->tsize * 2 * sizeof(*nt));
		for (i = 0; i < tx->tsize; i++)
			for (m = tx->tab[i]; m; m = next) {
				next = m->hnext;
				b = hash(m->path) & (tx->tsize * 2 - 1);
				m->hnext = nt[b];
				nt[b] = m;
			}
		free(tx->tab);
		tx->tab = nt;
		tx->tsize *= 2;
	}
	e = xmalloc(sizeof(*e));
	memset(e, 0, sizeof(*e));
	e->path = xmemdup(path, strlen(path));
	n = lookup(path);
	if (n) {
		e->exists = 1;
		e->gen0 = n->gen;
		e->value = xmemdup(n->value, n->vlen);
		e->vlen = n->vlen;
		e->perms = xmemdup(n->perms, n->plen);
		e->plen = n->plen;
		for (c = n->first; c; c = c->next)
			kid_add(e, c->name);
	}
	b = hash(path) & (tx->tsize - 1);
	e->hnext = tx->tab[b];
	tx->tab[b] = e;
	tx->count++;
	if (tx->olast)
		tx->olast->onext = e;
	else
		tx->ofirst = e;
	tx->olast = e;
	return e;
}

static void tx_event(struct xsd_tx *tx, const char *path, int exact)
{
	struct txev *ev = xmalloc(sizeof(*ev));

	ev->path = xmemdup(path, strlen(path));
	ev->exact = exact;
	ev->next = NULL;
	if (tx->elast)
		tx->elast->next = ev;
	else
		tx->efirst = ev;
	tx->elast = ev;
}

/* Like create_path, in the transaction. Only the missing nodes and the
 * nearest existing ancestor are touched, so no false conflict arises
 * higher up. */
static struct txent *tx_create(struct xsd_tx *tx, const char *path)
{
	char buf[XSD_PATH_BUF];
	struct txent *e = tx_get(tx, path), *p;
	size_t i, len = strlen(path);
	char *slash;

	if (e->exists)
		return e;
	memcpy(buf, path, len + 1);
	do {
		slash = strrchr(buf, '/');
		if (slash == buf)
			buf[1] = '\0';
		else
			*slash = '\0';
		p = tx_get(tx, buf);
	} while (!p->exists);
	for (i = strcmp(buf, "/") ? strlen(buf) + 1 : 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		memcpy(buf, path, i);
		buf[i] = '\0';
		e = tx_get(tx, buf);
		kid_add(p, strrchr(buf, '/') + 1);
		p->modified = 1;
		e->exists = 1;
		e->modified = 1;
		free(e->value);
		e->value = xmemdup("", 0);
		e->vlen = 0;
		free(e->perms);
		e->perms = xmemdup(p->perms, p->plen);
		e->plen = p->plen;
		p = e;
	}
	return p;
}

static void tx_rm_sub(struct xsd_tx *tx, struct txent *e, int top)
{
	/* On the heap: the recursion is as deep as the tree. */
	char *buf = xmalloc(XSD_PATH_BUF);
	size_t i;
	struct txent *c, *p;

	for (i = 0; i < e->nkids; i++) {
		snprintf(buf, XSD_PATH_BUF, "%s/%s",
		         strcmp(e->path, "/") ? e->path : "", e->kids[i]);
		c = tx_get(tx, buf);
		if (c->exists)
			tx_rm_sub(tx, c, 0);
	}
	kids_clear(e);
	tx_event(tx, e->path, !top);
	e->exists = 0;
	e->modified = 1;
	/* Only the top is unlinked: the parents below it go away whole. */
	if (top) {
		parent_of(e->path, buf);
		p = tx_get(tx, buf);
		kid_del(p, strrchr(e->path, '/') + 1);
		p->modified = 1;
	}
	free(buf);
}

struct xsd_tx *xsd_tx_new(uint32_t id, void *owner)
{
	struct xsd_tx *tx = xmalloc(sizeof(*tx));

	memset(tx, 0, sizeof(*tx));
	tx->id = id;
	tx->owner = owner;
	tx->tsize = 16;
	tx->tab = xmalloc(tx->tsize * sizeof(*tx->tab));
	memset(tx->tab, 0, tx->tsize * sizeof(*tx->tab));
	return tx;
}

uint32_t xsd_tx_id(const struct xsd_tx *tx)
{
	return tx->id;
}

void *xsd_tx_owner(const struct xsd_tx *tx)
{
	return tx->owner;
}

void xsd_tx_abort(struct xsd_tx *tx)
{
	struct txent *e, *en;
	struct txev *ev, *evn;

	for (e = tx->ofirst; e; e = en) {
		en = e->onext;
		kids_clear(e);
		free(e->kids);
		free(e->path);
		free(e->value);
		free(e->perms);
		free(e);
	}
	for (ev = tx->efirst; ev; ev = evn) {
		evn = ev->next;
		free(ev->path);
		free(ev);
	}
	free(tx->tab);
	free(tx);
}

static int by_len_asc(const void *a, const void *b)
{
	size_t la = strlen((*(struct txent *const *)a)->path);
	size_t lb = strlen((*(struct txent *const *)b)->path);

	return (la > lb) - (la < lb);
}

int xsd_tx_commit(struct xsd_tx *tx)
{
	struct txent *e, **v;
	struct txev *ev;
	struct node *n, *c;
	size_t i, k, nv = 0;
	char buf[XSD_PATH_BUF];

	for (e = tx->ofirst; e; e = e->onext) {
		n = lookup(e->path);
		if ((n ? n->gen : 0) != e->gen0) {
			xsd_tx_abort(tx);
			return EAGAIN;
		}
		if (e->modified)
			nv++;
	}
	v = xmalloc(nv * sizeof(*v));
	nv = 0;
	for (e = tx->ofirst; e; e = e->onext)
		if (e->modified)
			v[nv++] = e;
	/* A path is longer than any of its ancestors: shortest first creates
	 * parents before children. */
	qsort(v, nv, sizeof(*v), by_len_asc);
	for (i = 0; i < nv; i++) {
		e = v[i];
		if (!e->exists)
			continue;
		n = lookup(e->path);
		if (!n) {
			parent_of(e->path, buf);
			n = node_new(lookup(buf), e->path);
		}
		free(n->value);
		n->value = xmemdup(e->value, e->vlen);
		n->vlen = e->vlen;
		free(n->perms);
		n->perms = xmemdup(e->perms, e->plen);
		n->plen = e->plen;
		n->gen = ++gen_counter;
	}
	for (i = nv; i-- > 0;) {
		e = v[i];
		if (e->exists || !(n = lookup(e->path)))
			continue;
		free_subtree(n);
		child_unlink(n);
		n->parent->gen = ++gen_counter;
		hash_remove(n);
		node_free(n);
	}
	/* Put each changed child list in the order the transaction built. */
	for (i = 0; i < nv; i++) {
		e = v[i];
		if (!e->exists || !(n = lookup(e->path)))
			continue;
		for (k = 0; k < e->nkids; k++) {
			snprintf(buf, sizeof(buf), "%s/%s",
			         strcmp(e->path, "/") ? e->path : "",
			         e->kids[k]);
			c = lookup(buf);
			if (c) {
				child_unlink(c);
				child_append(n, c);
			}
		}
	}
	free(v);
	for (ev = tx->efirst; ev; ev = ev->next)
		xsd_fire(ev->path, ev->exact);
	xsd_tx_abort(tx);
	return 0;
}

/* ---- operations, with or without a transaction ---- */

int xsd_read(struct xsd_tx *tx, const char *path, struct xsd_view *v)
{
	struct node *n;
	struct txent *e;

	memset(v, 0, sizeof(*v));
	if (tx) {
		e = tx_get(tx, path);
		if (!e->exists)
			return ENOENT;
		v->exists = 1;
		v->value = e->value;
		v->vlen = e->vlen;
		v->perms = e->perms;
		v->plen = e->plen;
		v->gen = e->gen0;
		return 0;
	}
	n = lookup(path);
	if (!n)
		return ENOENT;
	v->exists = 1;
	v->value = n->value;
	v->vlen = n->vlen;
	v->perms = n->perms;
	v->plen = n->plen;
	v->gen = n->gen;
	return 0;
}

int xsd_children(struct xsd_tx *tx, const char *path, char **buf,
                 size_t *len, uint64_t *gen)
{
	struct node *n, *c;
	struct txent *e;
	size_t i, off = 0, l;
	char *b;

	if (tx) {
		e = tx_get(tx, path);
		if (!e->exists)
			return ENOENT;
		for (i = 0; i < e->nkids; i++)
			off += strlen(e->kids[i]) + 1;
		b = xmalloc(off);
		off = 0;
		for (i = 0; i < e->nkids; i++) {
			l = strlen(e->kids[i]) + 1;
			memcpy(b + off, e->kids[i], l);
			off += l;
		}
		*gen = e->gen0;
	} else {
		n = lookup(path);
		if (!n)
			return ENOENT;
		b = xmalloc(n->childlen);
		for (c = n->first; c; c = c->next) {
			l = strlen(c->name) + 1;
			memcpy(b + off, c->name, l);
			off += l;
		}
		*gen = n->gen;
	}
	*buf = b;
	*len = off;
	return 0;
}

int xsd_write(struct xsd_tx *tx, const char *path, const char *val,
              size_t vlen)
{
	struct node *n;
	struct txent *e;

	if (path[0] == '@')
		return EINVAL;
	if (tx) {
		e = tx_create(tx, path);
		free(e->value);
		e->value = xmemdup(val, vlen);
		e->vlen = vlen;
		e->modified = 1;
		tx_event(tx, path, 0);
		return 0;
	}
	n = create_path(path);
	free(n->value);
	n->value = xmemdup(val, vlen);
	n->vlen = vlen;
	n->gen = ++gen_counter;
	xsd_fire(path, 0);
	return 0;
}

int xsd_mkdir(struct xsd_tx *tx, const char *path)
{
	if (path[0] == '@')
		return EINVAL;
	if (tx) {
		if (tx_get(tx, path)->exists)
			return 0;
		tx_create(tx, path);
		tx_event(tx, path, 0);
		return 0;
	}
	if (lookup(path))
		return 0;
	create_path(path);
	xsd_fire(path, 0);
	return 0;
}

int xsd_rm(struct xsd_tx *tx, const char *path)
{
	char buf[XSD_PATH_BUF];
	struct node *n;
	struct txent *e;

	if (path[0] == '@' || strcmp(path, "/") == 0)
		return EINVAL;
	parent_of(path, buf);
	if (tx) {
		e = tx_get(tx, path);
		if (!e->exists)
			return tx_get(tx, buf)->exists ? 0 : ENOENT;
		tx_rm_sub(tx, e, 1);
		return 0;
	}
	n = lookup(path);
	if (!n)
		return lookup(buf) ? 0 : ENOENT;
	rm_subtree(n, 1);
	return 0;
}

int xsd_set_perms(struct xsd_tx *tx, const char *path, const char *perms,
                  size_t plen)
{
	struct node *n;
	struct txent *e;

	if (path[0] == '@')
		return EINVAL;
	if (tx) {
		e = tx_get(tx, path);
		if (!e->exists)
			return ENOENT;
		free(e->perms);
		e->perms = xmemdup(perms, plen);
		e->plen = plen;
		e->modified = 1;
		tx_event(tx, path, 0);
		return 0;
	}
	n = lookup(path);
	if (!n)
		return ENOENT;
	free(n->perms);
	n->perms = xmemdup(perms, plen);
	n->plen = plen;
	n->gen = ++gen_counter;
	xsd_fire(path, 0);
	return 0;
}

/* ---- consistency check (CONTROL check, and the fuzzer) ---- */

static int check_node(const struct node *n, unsigned long *count)
{
	const struct node *c, *prev = NULL;
	size_t childlen = 0, base = strcmp(n->path, "/") ? strlen(n->path) : 0;

	if (lookup(n->path) != n)
		return -1;
	for (c = n->first; c; prev = c, c = c->next) {
		if (c->parent != n || c->prev != prev)
			return -1;
		/* The child's path is the parent's plus one component. */
		if (strncmp(c->path, n->path, base) != 0 ||
		    c->path[base] != '/' || c->name != c->path + base + 1 ||
		    c->name[0] == '\0' || strchr(c->name, '/'))
			return -1;
		childlen += strlen(c->name) + 1;
		if (c->gen > gen_counter || check_node(c, count))
			return -1;
	}
	if (n->last != prev || n->childlen != childlen)
		return -1;
	if (n->plen == 0 || n->perms[n->plen - 1] != '\0')
		return -1;
	++*count;
	return 0;
}

/* 0 when the hash table and the tree agree node for node, else -1. */
int xsd_store_check(void)
{
	const struct node *root = lookup("/");
	unsigned long count = 0;

	if (!root || root->parent || check_node(root, &count))
		return -1;
	return count == tcount ? 0 : -1;
}

/* ---- debugging dump (SIGUSR1) ---- */

static void dump_node(FILE *fp, const struct node *n)
{
	const struct node *c;
	size_t i;

	fprintf(fp, "%s = \"", n->path);
	for (i = 0; i < n->vlen; i++) {
		unsigned char ch = (unsigned char)n->value[i];

		if (ch == '"' || ch == '\\')
			fprintf(fp, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(fp, "\\x%02x", ch);
		else
			fputc(ch, fp);
	}
	fputs("\" (", fp);
	for (i = 0; i < n->plen; i++)
		fputc(n->perms[i] ? n->perms[i] : (i + 1 < n->plen ? ',' : ')'),
		      fp);
	fputc('\n', fp);
	for (c = n->first; c; c = c->next)
		dump_node(fp, c);
}

void xsd_dump(FILE *fp)
{
	dump_node(fp, lookup("/"));
	fflush(fp);
}
