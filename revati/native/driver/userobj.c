/* revati driver: user objects, reference-counted host resources that graphs may hold. A graph keeps
 * the references it retained, an exec takes its own at instantiation, and both drop theirs when
 * destroyed; the destructor runs at the last release (NCCL's captured operations are freed, and
 * its communicator can be destroyed, only then). */
#include <stdlib.h>

#include "graph.h"

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

/* The destructor runs at the last release. */

#define UOBJ_MAGIC 0x52565551u

typedef struct uobj {
    uint32_t magic;
    int refs;
    void *ptr;
    CUhostFn destroy;
} uobj;

static uobj *uobj_from(CUuserObject h) {
    uobj *u = (uobj *)h;
    return u && u->magic == UOBJ_MAGIC ? u : NULL;
}

static void uobj_release(uobj *u, unsigned count) {
    pthread_mutex_lock(&g_mu);
    u->refs -= (int)count;
    int last = u->refs <= 0;
    pthread_mutex_unlock(&g_mu);
    if (last) {
        u->magic = 0;
        rv_leave(); /* the destructor is program code: its time is the program's */
        if (u->destroy) u->destroy(u->ptr);
        rv_enter();
        free(u);
    }
}

// cuUserObjectCreate: an object with initialRefcount references
RV_EXPORT CUresult cuUserObjectCreate(CUuserObject *object_out, void *ptr, CUhostFn destroy, unsigned int initialRefcount,
                                      unsigned int flags) {
    API_ENTER();
    if (!object_out || !destroy || !initialRefcount) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    uobj *u = calloc(1, sizeof *u);
    if (!u) API_RETURN(CUDA_ERROR_OUT_OF_MEMORY);
    *u = (uobj){UOBJ_MAGIC, (int)initialRefcount, ptr, destroy};
    *object_out = (CUuserObject)u;
    API_RETURN(CUDA_SUCCESS);
}

// cuUserObjectRetain: count more references
RV_EXPORT CUresult cuUserObjectRetain(CUuserObject object, unsigned int count) {
    API_ENTER();
    uobj *u = uobj_from(object);
    if (!u || !count) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    pthread_mutex_lock(&g_mu);
    u->refs += (int)count;
    pthread_mutex_unlock(&g_mu);
    API_RETURN(CUDA_SUCCESS);
}

// cuUserObjectRelease: the destructor runs when the count reaches zero
RV_EXPORT CUresult cuUserObjectRelease(CUuserObject object, unsigned int count) {
    API_ENTER();
    uobj *u = uobj_from(object);
    if (!u || !count) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    uobj_release(u, count);
    API_RETURN(CUDA_SUCCESS);
}

/* The holder's entry for u (added with count 0 when absent and add is set), or NULL. */
static struct uobj_ref *ref_of(rv_uobj_refs *r, uobj *u, int add) {
    for (int i = 0; i < r->n; ++i)
        if (r->refs[i].obj == u) return &r->refs[i];
    if (!add) return NULL;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 4;
        r->refs = realloc(r->refs, (size_t)r->cap * sizeof *r->refs);
    }
    r->refs[r->n] = (struct uobj_ref){u, 0};
    return &r->refs[r->n++];
}

void rv_uobj_refs_copy(rv_uobj_refs *dst, const rv_uobj_refs *src) {
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < src->n; ++i) {
        uobj *u = src->refs[i].obj;
        u->refs += (int)src->refs[i].count;
        ref_of(dst, u, 1)->count += src->refs[i].count;
    }
    pthread_mutex_unlock(&g_mu);
}

void rv_uobj_refs_drop_all(rv_uobj_refs *r) {
    for (int i = 0; i < r->n; ++i)
        if (r->refs[i].count) uobj_release(r->refs[i].obj, r->refs[i].count);
    free(r->refs);
    *r = (rv_uobj_refs){0};
}

// cuGraphRetainUserObject: the graph holds references (CU_GRAPH_USER_OBJECT_MOVE takes the caller's)
RV_EXPORT CUresult cuGraphRetainUserObject(CUgraph graph, CUuserObject object, unsigned int count, unsigned int flags) {
    API_ENTER();
    uobj *u = uobj_from(object);
    rv_graph *g = rv_graph_from(graph);
    if (!g || !u || !count) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    pthread_mutex_lock(&g_mu);
    if (!(flags & CU_GRAPH_USER_OBJECT_MOVE)) u->refs += (int)count;
    ref_of(&g->uobjs, u, 1)->count += count;
    pthread_mutex_unlock(&g_mu);
    API_RETURN(CUDA_SUCCESS);
}

// cuGraphReleaseUserObject: the graph drops references it holds
RV_EXPORT CUresult cuGraphReleaseUserObject(CUgraph graph, CUuserObject object, unsigned int count) {
    API_ENTER();
    uobj *u = uobj_from(object);
    rv_graph *g = rv_graph_from(graph);
    if (!g || !u || !count) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    pthread_mutex_lock(&g_mu);
    struct uobj_ref *held = ref_of(&g->uobjs, u, 0);
    int ok = held && held->count >= count;
    if (ok) held->count -= count;
    pthread_mutex_unlock(&g_mu);
    if (!ok) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    uobj_release(u, count);
    API_RETURN(CUDA_SUCCESS);
}
