/* revati driver: user objects, reference-counted host resources that graphs may hold. */
#include <stdlib.h>

#include "internal.h"

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

// cuGraphRetainUserObject: the graph holds references (CU_GRAPH_USER_OBJECT_MOVE takes the caller's)
RV_EXPORT CUresult cuGraphRetainUserObject(CUgraph graph, CUuserObject object, unsigned int count, unsigned int flags) {
    API_ENTER();
    uobj *u = uobj_from(object);
    if (!rv_graph_valid(graph) || !u || !count) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    if (!(flags & CU_GRAPH_USER_OBJECT_MOVE)) {
        pthread_mutex_lock(&g_mu);
        u->refs += (int)count;
        pthread_mutex_unlock(&g_mu);
    }
    API_RETURN(CUDA_SUCCESS);
}

// cuGraphReleaseUserObject: the graph drops references
RV_EXPORT CUresult cuGraphReleaseUserObject(CUgraph graph, CUuserObject object, unsigned int count) {
    API_ENTER();
    uobj *u = uobj_from(object);
    if (!rv_graph_valid(graph) || !u || !count) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    uobj_release(u, count);
    API_RETURN(CUDA_SUCCESS);
}
