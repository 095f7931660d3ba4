/*
 * The r_debug rendezvous (mechanism 1, see rdebug.h): the link-map nodes of jdryad objects, the
 * list glibc's debugger interface shows, and the activity events that announce each change.
 * A namespace made by dlmopen is also one of glibc's (its host objects are glibc's there): its
 * list goes to glibc's r_debug of that namespace, on glibc 2.35+'s r_next chain (r_version 2).
 */
#include "rdebug.h"
#include "runtime.h"
#include "wire.h"

struct r_debug *rdebug;
struct link_map *host_head; /* glibc's original r_map */

struct jd_node {
    struct link_map lm; /* public part: l_addr, l_name, l_ld, l_next, l_prev */
    /* What follows the public part in glibc's own struct link_map, and audit modules read from
       the map la_objopen gets (sotruss walks l_libname): l_real (the node itself), l_ns (the
       namespace whose list holds it), l_libname (none). */
    struct link_map *l_real;
    long l_ns;
    void *l_libname;
    uint64_t id;
    uint64_t generation; /* the last update whose list held it */
    int in_use;          /* 0: its object left the list; the node waits for a new id */
    struct jd_node *next_id;
};
static struct jd_node *nodes_by_id;
static uint64_t generation;
static struct link_map **host_copies;
static size_t host_copies_cap;

/* The node of Java's object `id`: its own, else one an unloaded object left (its address may
   again be a dlopen handle, as glibc reuses a closed object's link_map), else a new one. */
static struct jd_node *node_for(uint64_t id)
{
    struct jd_node *spare = 0;
    for (struct jd_node *n = nodes_by_id; n; n = n->next_id) {
        if (n->in_use && n->id == id)
            return n;
        if (!n->in_use && !spare)
            spare = n;
    }
    struct jd_node *n = spare;
    if (!n) {
        n = jd_alloc(sizeof *n, 16);
        n->next_id = nodes_by_id;
        __atomic_store_n(&nodes_by_id, n, __ATOMIC_RELEASE);
    }
    n->l_real = &n->lm;
    n->id = id;
    n->in_use = 1;
    return n;
}

/* After an update of namespace lmid's list: its nodes that list did not hold are spare (they
   stay on nodes_by_id). Other namespaces' lists are not this update's. */
static void release_unlisted_nodes(long lmid)
{
    for (struct jd_node *n = nodes_by_id; n; n = n->next_id)
        if (n->in_use && n->l_ns == lmid && n->generation != generation)
            n->in_use = 0;
}

/* Whether h is one of the link-map nodes Java hands out as jdryad objects' dlopen handles (nodes
   are never freed, only reused).  Without a connection (a vfork child, a signal handler inside the agent)
   such a handle must not reach glibc, which would read it as its own struct link_map. */
int jd_is_jdryad_handle(const void *h)
{
    if (!h)
        return 0;
    for (struct jd_node *n = __atomic_load_n(&nodes_by_id, __ATOMIC_ACQUIRE); n; n = n->next_id)
        if ((const void *)&n->lm == h)
            return 1;
    return 0;
}

/* The hook gdb breaks on: `break jdryad_dl_activity` then `print *event` (jdryad_activity.h). */
__attribute__((noinline, visibility("default"))) void jdryad_dl_activity(const struct jdryad_activity *event)
{
    __asm__ volatile("" : : "r"(event) : "memory");
}

/* Written by Java (process_vm_writev) when its query server listens; read by gdb-scripts. */
__attribute__((visibility("default"))) struct jdryad_query_info jdryad_query_info;

/* The most recent events, for a core file or a gdb without the Java side (jdryad_activity.h). */
__attribute__((visibility("default"))) struct jdryad_activity_ring jdryad_activity_ring = {
    JDRYAD_ACTIVITY_VERSION, JDRYAD_RING_SIZE, 0, {{0}}};

/* Records an event in the ring and calls the hook (under state_lock: events come one at a time). */
static void announce(const struct jdryad_activity *a)
{
    struct jdryad_activity_ring *r = &jdryad_activity_ring;
    struct jdryad_activity *slot = &r->ev[r->next % JDRYAD_RING_SIZE];
    /* An update's two events share one block of names (event_names); the CONSISTENT one comes
       second, so when it leaves the ring the other has left already. */
    if (slot->version && slot->state == JDRYAD_ACT_CONSISTENT && slot->objects != a->objects)
        jd_free((void *)slot->objects);
    *slot = *a;
    __atomic_store_n(&r->next, r->next + 1, __ATOMIC_RELEASE);
    jdryad_dl_activity(a);
}

/* An event's names and request in one block (the ring frees it when the event leaves it):
   the NULL-terminated array of the m names, then the strings; *request_copy gets the request's. */
static const char **event_names(const char *const *names, uint64_t m, const char *request, const char **request_copy)
{
    size_t bytes = sizeof(char *) * (m + 1) + (request ? jd_strlen(request) + 1 : 0);
    for (uint64_t i = 0; i < m; i++)
        bytes += names[i] ? jd_strlen(names[i]) + 1 : 0;
    const char **kept = jd_alloc(bytes, 16);
    char *text = (char *)(kept + m + 1);
    for (uint64_t i = 0; i < m; i++) {
        if (!names[i])
            continue;
        size_t len = jd_strlen(names[i]) + 1;
        jd_memcpy(text, names[i], len);
        kept[i] = text;
        text += len;
    }
    *request_copy = 0;
    if (request) {
        jd_memcpy(text, request, jd_strlen(request) + 1);
        *request_copy = text;
    }
    return kept;
}

/* glibc 2.35+'s struct r_debug_extended: r_version 2 chains one r_debug per namespace. */
struct r_debug_ext {
    struct r_debug base;
    struct r_debug_ext *r_next;
};

/* glibc's r_debug of namespace lmid: the lmid-th after the base one on the r_next chain (glibc
   numbers a new namespace with the lowest free index and chains its r_debug when it first uses
   that index, so the chain is in index order), or 0 when glibc has none (an r_version 1 list). */
static struct r_debug *namespace_r_debug(int64_t lmid)
{
    struct r_debug_ext *r = (struct r_debug_ext *)rdebug;
    if (lmid <= 0 || r->base.r_version < 2)
        return 0;
    for (int64_t i = 0; i < lmid && r; i++)
        r = __atomic_load_n(&r->r_next, __ATOMIC_ACQUIRE);
    return r ? &r->base : 0;
}

static void r_debug_update_locked(struct in *in, struct buf *out);
static struct link_map *append_host_copies(struct link_map **head);
void r_debug_update(struct in *in, struct buf *out)
{
    spin_lock(&state_lock); /* r_debug list and node table */
    r_debug_update_locked(in, out);
    spin_unlock(&state_lock);
}
/* RESERVE_NODE: the node object `id` will have, filled in but on no list yet (no debugger is told). */
void reserve_node(struct in *in, struct buf *out)
{
    uint64_t id = get_q(in), l_addr = get_q(in), l_ld = get_q(in);
    const char *name = get_s(in);
    long lmid = (long)get_q(in);
    if (in->bad || !name || lmid < 0) {
        put_q(out, (uint64_t)-22);
        return;
    }
    spin_lock(&state_lock);
    struct jd_node *nd = node_for(id);
    nd->lm.l_addr = l_addr;
    nd->lm.l_ld = (ElfW(Dyn) *)l_ld;
    nd->lm.l_next = nd->lm.l_prev = 0;
    nd->l_ns = lmid;
    nd->generation = generation; /* an update of its list not holding it yet would make it spare */
    if (!nd->lm.l_name || jd_strcmp(nd->lm.l_name, name) != 0) {
        char *old = nd->lm.l_name;
        nd->lm.l_name = jd_strdup(name);
        jd_free(old);
    }
    spin_unlock(&state_lock);
    put_q(out, 0);
    put_q(out, (uint64_t)&nd->lm);
}

/* Links c after prev (the first node becomes *head); returns c, the new tail. */
static struct link_map *append(struct link_map *prev, struct link_map *c, struct link_map **head)
{
    c->l_prev = prev;
    c->l_next = 0;
    if (prev)
        prev->l_next = c;
    else
        *head = c;
    return c;
}

static void r_debug_update_locked(struct in *in, struct buf *out)
{
    uint64_t kind = get_q(in);
    uint64_t n = get_q(in);
    if (in->bad || (kind != 1 && kind != 2) || n > remaining(in) / 28) {
        put_q(out, (uint64_t)-22);
        return;
    }
    /* The whole request is parsed and checked first: a malformed one changes nothing. */
    struct ent {
        uint64_t id, l_addr, l_ld;
        const char *name;
    } *ents = jd_alloc(sizeof *ents * (n + 1), 16);
    for (uint64_t i = 0; i < n && !in->bad; i++) {
        ents[i].id = get_q(in);
        ents[i].l_addr = get_q(in);
        ents[i].l_ld = get_q(in);
        ents[i].name = get_s(in);
    }
    uint64_t m = get_q(in);
    if (in->bad || m > remaining(in) / 4) {
        jd_free(ents);
        put_q(out, (uint64_t)-22);
        return;
    }
    const char **names = jd_alloc(sizeof *names * (m + 1), 16);
    for (uint64_t i = 0; i < m && !in->bad; i++)
        names[i] = get_s(in);
    struct jdryad_activity act = {JDRYAD_ACTIVITY_VERSION, kind == 2 ? JDRYAD_ACT_DELETE : JDRYAD_ACT_ADD, 0, 0, 0,
                                  agent_pid, 0, 0, 0, 0, m, 0};
    act.cause = (int)get_q(in);
    act.caller = get_q(in);
    act.flags = (int)get_q(in);
    act.tid = (long)get_q(in);
    act.seq = get_q(in);
    const char *request = get_s(in);
    act.lmid = (long)get_q(in);
    struct r_debug *rd = act.lmid ? namespace_r_debug(act.lmid) : rdebug;
    if (in->bad || !rd) {
        jd_free(ents);
        jd_free(names);
        put_q(out, (uint64_t)(in->bad ? -22 : -2));
        return;
    }
    const char **kept = event_names(names, m, request, &act.request);
    jd_free(names);
    generation++;
    struct jd_node **list = jd_alloc(sizeof *list * (n + 1), 16);
    for (uint64_t i = 0; i < n; i++) {
        const char *name = ents[i].name ? ents[i].name : "";
        struct jd_node *nd = node_for(ents[i].id);
        nd->lm.l_addr = ents[i].l_addr;
        nd->lm.l_ld = (ElfW(Dyn) *)ents[i].l_ld;
        nd->generation = generation;
        nd->l_ns = act.lmid;
        if (!nd->lm.l_name || jd_strcmp(nd->lm.l_name, name) != 0) {
            char *old = nd->lm.l_name;
            nd->lm.l_name = jd_strdup(name);
            jd_free(old);
        }
        list[i] = nd;
    }
    jd_free(ents);
    release_unlisted_nodes(act.lmid);

    void (*brk)(void) = (void (*)(void))rd->r_brk;
    rd->r_state = kind == 2 ? RT_DELETE : RT_ADD;
    if (brk)
        brk();

    struct link_map *prev = 0, *head = 0;
    if (act.lmid == 0)
        prev = append_host_copies(&head);
    for (uint64_t j = 0; j < n; j++)
        prev = append(prev, &list[j]->lm, &head);
    __atomic_store_n(&rd->r_map, head, __ATOMIC_RELEASE);
    if (kind == 2)
        jd_subs++;
    else
        jd_adds++;

    act.objects = kept;
    announce(&act);

    rd->r_state = RT_CONSISTENT;
    if (brk)
        brk();
    act.state = JDRYAD_ACT_CONSISTENT;
    act.seq++;
    announce(&act);

    put_q(out, 0);
    put_q(out, (uint64_t)head);
    put_q(out, n);
    for (uint64_t j = 0; j < n; j++)
        put_q(out, (uint64_t)&list[j]->lm);
    jd_free(list);
}

/* The base list starts with copies of glibc's own nodes, refreshed from glibc's list on every
   change (it may have loaded NSS/gconv modules); returns the last one. */
static struct link_map *append_host_copies(struct link_map **head)
{
    size_t nh = 0;
    for (struct link_map *l = host_head; l; l = l->l_next)
        nh++;
    if (nh > host_copies_cap) {
        host_copies = jd_alloc(sizeof *host_copies * (nh + 16), 16);
        for (size_t i = 0; i < nh + 16; i++)
            host_copies[i] = jd_alloc(sizeof(struct link_map), 16);
        host_copies_cap = nh + 16;
    }
    struct link_map *prev = 0;
    size_t i = 0;
    for (struct link_map *l = host_head; l; l = l->l_next, i++) {
        struct link_map *c = host_copies[i];
        c->l_addr = l->l_addr;
        c->l_name = l->l_name;
        c->l_ld = l->l_ld;
        prev = append(prev, c, head);
    }
    return prev;
}
