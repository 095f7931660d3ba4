/*
 * RELOCATE_RELATIVE (see relocate.h and protocol.h).  The request names the object's load bias,
 * the leading run of its DT_RELA entries that Java found to be R_X86_64_RELATIVE, its DT_RELR
 * table, and the object's pages as the plan mapped them (runs of start, end, protection).  Why
 * the checks: the tables and r_offsets come from a file, and the agent makes plain stores, so
 * every table must lie in read-only runs (a store can then never change an entry already
 * checked), every target in writable runs and every DT_RELA entry must be RELATIVE; all of that
 * is checked for every entry before the first store, so a refused
 * request changes nothing and Java can fall back to its own (word by word) path and its errors.
 *
 * Why the prefault: on this kind of virtual machine a page fault costs about 12 us of exception
 * entry and exit around 1.5 us of copy, and libLLVM's 335,000 RELATIVE words land on 1,900
 * pages: 27 ms of faults, as glibc pays them.  The check pass already visits every target, so
 * it notes the runs of pages they fall on and, once the request is accepted, one
 * madvise(MADV_POPULATE_WRITE) per run breaks copy-on-write for those pages in the kernel, the
 * same pages the stores would have copied (no page more: RSS is what glibc's would be); the
 * tables, read twice, are mapped at once by MADV_POPULATE_READ.  A kernel without these (before
 * 5.14) says EINVAL and the pages fault as before.
 */
#include "relocate.h"

#include <sys/mman.h>

#define R_RELATIVE 8
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif
#define MAX_TOUCHED 64 /* page runs noted; a table that scatters its targets more faults the rest */
#define PAGE 4096ul     /* x86-64's; madvise refuses (EINVAL) anything not aligned to the real one */

/* The runs of pages the targets fall on, in the order met (tables are sorted by address). */
struct touched {
    uint64_t start[MAX_TOUCHED], end[MAX_TOUCHED];
    uint64_t n;
};

/* Notes that the word at site will be written: extends the last run or starts one. */
static void note_touched(struct touched *t, uint64_t site)
{
    uint64_t page = site & ~(PAGE - 1), last = t->n - 1;
    if (t->n && t->start[last] <= page && page <= t->end[last]) {
        if (page == t->end[last])
            t->end[last] = page + PAGE;
    } else if (t->n < MAX_TOUCHED) {
        t->start[t->n] = page;
        t->end[t->n++] = page + PAGE;
    }
}

/* Maps a table's pages at once, not 16 pages per fault (the kernel's fault-around). */
static void prefault_table(uint64_t a, uint64_t len)
{
    if (len)
        sys3(SYS_madvise, a & ~(PAGE - 1), len + (a & (PAGE - 1)), MADV_POPULATE_READ);
}

/* Breaks copy-on-write for every noted run at once (see the top of this file). */
static void prefault(const struct touched *t)
{
    for (uint64_t i = 0; i < t->n; i++)
        sys3(SYS_madvise, t->start[i], t->end[i] - t->start[i], MADV_POPULATE_WRITE);
}

/* The object's page runs, sorted and disjoint (checked), as they sit in the request. */
struct runs {
    const char *p; /* n x (q start, q end, q prot) */
    uint64_t n;
    uint64_t hint; /* the run the last check ended in: targets come in address order */
    struct touched *touched; /* the pages the checked targets fall on */
};

static uint64_t run_field(const struct runs *r, uint64_t i, int f)
{
    uint64_t v;
    __builtin_memcpy(&v, r->p + 24 * i + 8 * f, 8);
    return v;
}

/* Whether the runs are sorted by start, non-empty and disjoint. */
static int runs_ordered(const struct runs *r)
{
    uint64_t prev_end = 0;
    for (uint64_t i = 0; i < r->n; i++) {
        uint64_t s = run_field(r, i, 0), e = run_field(r, i, 1);
        if (e <= s || (i > 0 && s < prev_end))
            return 0;
        prev_end = e;
    }
    return 1;
}

/* The index of the run holding address a, or r->n. */
static uint64_t run_holding(struct runs *r, uint64_t a)
{
    uint64_t h = r->hint;
    if (h < r->n && run_field(r, h, 0) <= a && a < run_field(r, h, 1))
        return h;
    uint64_t lo = 0, hi = r->n;
    while (lo < hi) { /* the first run that ends above a */
        uint64_t mid = lo + (hi - lo) / 2;
        if (run_field(r, mid, 1) <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->n && run_field(r, lo, 0) <= a ? lo : r->n;
}

/* Whether all of [a, a + len) lies in runs that have every bit of prot and none of forbid. */
static int covered(struct runs *r, uint64_t a, uint64_t len, uint64_t prot, uint64_t forbid)
{
    uint64_t end = a + len;
    if (end < a)
        return 0;
    while (a < end) {
        uint64_t i = run_holding(r, a);
        if (i == r->n || (run_field(r, i, 2) & prot) != prot || (run_field(r, i, 2) & forbid))
            return 0;
        r->hint = i;
        a = run_field(r, i, 1);
    }
    return 1;
}

/* One pass over the DT_RELA prefix: checks (apply == 0) or stores.  Returns the index of the
   first entry refused, or n. */
static uint64_t pass_rela(struct runs *r, uint64_t base, const char *table, uint64_t n, int apply)
{
    for (uint64_t i = 0; i < n; i++) {
        uint64_t e[3]; /* r_offset, r_info, r_addend */
        __builtin_memcpy(e, table + 24 * i, 24);
        uint64_t type = e[1] & 0xffffffffu, site = base + e[0];
        if (apply) {
            uint64_t v = base + e[2];
            __builtin_memcpy((void *)site, &v, 8);
        } else if (type != R_RELATIVE || !covered(r, site, 8, PROT_WRITE, 0)) {
            return i;
        } else {
            note_touched(r->touched, site);
        }
    }
    return n;
}

/* One pass over DT_RELR (an address entry, then bitmaps of the 63 words after it): checks
   (apply == 0) or adds the base.  Returns the number of words relocated, or -EINVAL (a bitmap
   before any address) or -ENOEXEC (a word outside the writable pages). */
static long pass_relr(struct runs *r, uint64_t base, const char *table, uint64_t n, int apply)
{
    long count = 0;
    uint64_t where = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t entry;
        __builtin_memcpy(&entry, table + 8 * i, 8);
        uint64_t bits = entry & 1 ? entry >> 1 : 1, at = entry & 1 ? where : base + entry;
        if (!(entry & 1))
            where = at + 8;
        else if (i == 0)
            return -22;
        for (uint64_t k = 0; bits; k++, bits >>= 1) {
            if (!(bits & 1))
                continue;
            uint64_t site = at + 8 * k;
            if (apply) {
                uint64_t v;
                __builtin_memcpy(&v, (void *)site, 8);
                v += base;
                __builtin_memcpy((void *)site, &v, 8);
            } else if (!covered(r, site, 8, PROT_WRITE, 0)) {
                return -8;
            } else {
                note_touched(r->touched, site);
            }
            count++;
        }
        if (entry & 1)
            where += 8 * 63;
    }
    return count;
}

/* Checks a whole request before anything is stored: 0 or -errno, with *refused the first DT_RELA
   entry refused (nrela: a DT_RELR word, or none). */
static long check_request(struct runs *r, uint64_t base, uint64_t rela, uint64_t nrela, uint64_t relr,
                          uint64_t relr_size, uint64_t *refused)
{
    *refused = nrela;
    if (!runs_ordered(r))
        return -22; /* EINVAL */
    if ((nrela && !covered(r, rela, 24 * nrela, PROT_READ, PROT_WRITE)) ||
        (relr_size && !covered(r, relr, relr_size, PROT_READ, PROT_WRITE)))
        return -14; /* EFAULT: a table outside the object's read-only pages */
    prefault_table(relr, relr_size);
    prefault_table(rela, 24 * nrela);
    long words = pass_relr(r, base, (const char *)relr, relr_size / 8, 0);
    if (words < 0)
        return words;
    *refused = pass_rela(r, base, (const char *)rela, nrela, 0);
    return *refused == nrela ? 0 : -8; /* ENOEXEC: not RELATIVE, or a target outside the writable pages */
}

void jd_relocate_relative(struct in *in, struct buf *out)
{
    uint64_t base = get_q(in), rela = get_q(in), nrela = get_q(in), relr = get_q(in), relr_size = get_q(in);
    struct touched touched; /* on the stack: program threads may serve requests at once (a dlopen) */
    touched.n = 0;
    struct runs r = {0, get_q(in), 0, &touched};
    uint64_t refused = nrela;
    long status;
    if (in->bad || r.n > remaining(in) / 24 || nrela > ((uint64_t)1 << 58) || relr_size % 8) {
        status = -22; /* malformed */
    } else {
        r.p = in->p + in->pos;
        status = check_request(&r, base, rela, nrela, relr, relr_size, &refused);
    }
    if (status == 0) { /* as glibc: DT_RELR first */
        prefault(&touched);
        status = pass_relr(&r, base, (const char *)relr, relr_size / 8, 1);
        pass_rela(&r, base, (const char *)rela, nrela, 1);
    }
    put_q(out, (uint64_t)status);
    put_q(out, refused);
}
