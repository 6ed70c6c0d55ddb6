/* revati driver: graph objects shared by graph.c (building, instantiation, replay) and capture.c. */
#ifndef REVATI_DRIVER_GRAPH_H
#define REVATI_DRIVER_GRAPH_H

#include "internal.h"

#define GRAPH_MAGIC 0x52564752u
#define EXEC_MAGIC 0x52564758u
#define NODE_MAGIC 0x5256474eu
#define MAX_JOINED 64

enum { N_KERNEL = 1, N_COPY, N_MEMSET, N_EMPTY, N_HOST, N_EVENT_RECORD, N_EVENT_WAIT };

/* User objects a graph or an exec holds references to (userobj.c): released when it is destroyed. */
typedef struct rv_uobj_refs {
    struct uobj_ref { void *obj; unsigned count; } *refs;
    int n, cap;
} rv_uobj_refs;

typedef struct gnode {
    uint32_t magic;
    int type;
    rv_kernel_op k;
    const char *kind; /* copies */
    uint64_t bytes;
    uint64_t dst, src;      /* captured 1D copies and memsets: a replay repeats them (0: not known) */
    unsigned memset_value;  /* memsets: the value and its element size */
    int memset_elem;
    CUhostFn host_fn; /* host nodes */
    void *host_data;
    CUevent event; /* event record and wait nodes */
    rv_graph *g;
    int index;                 /* position in the graph */
    struct gnode **deps;       /* nodes this one waits for */
    int ndeps, capdeps;
    unsigned long long lane;   /* the stream it was captured on (0: the origin stream or explicit) */
    void *coll; /* kernel nodes: NCCL operations captured with this kernel, met at each replay (nccl_graph.h) */
} gnode;

struct rv_graph {
    uint32_t magic;
    unsigned long long id;
    gnode **nodes;
    int n, cap;
    rv_stream *joined[MAX_JOINED]; /* streams capturing into this graph */
    int njoined;
    unsigned long long live_capture; /* the capture id while a capture is open, else 0 */
    unsigned long long origin;       /* the stream the capture began on */
    rv_uobj_refs uobjs;              /* cuGraphRetainUserObject */
};


extern pthread_mutex_t rv_graph_mu; /* guards graph node lists */

rv_graph *rv_graph_new(void);
rv_graph *rv_graph_from(const void *h);    /* NULL unless h is a live graph */
gnode *rv_graph_node_from(const void *h);  /* NULL unless h is a node */
/* Append a node of type to g after the given dependencies. */
gnode *rv_graph_add_node(rv_graph *g, int type, const CUgraphNode *deps, size_t ndeps);
void rv_graph_node_add_dep(gnode *n, gnode *d);
/* A graph event (capture_begin, capture_end, instantiate, launch). */
void rv_trace_graph(const char *what, unsigned long long id, rv_stream *s, int nodes, rv_vtime_ns ts, rv_vtime_ns end);

/* User objects held by graphs and execs (userobj.c): an instantiation takes its own references to
 * the graph's objects; destroying a graph or an exec drops its references (the destructor runs at
 * the last one, as NCCL's cleanup of operations captured into a graph needs). */
void rv_uobj_refs_copy(rv_uobj_refs *dst, const rv_uobj_refs *src);
void rv_uobj_refs_drop_all(rv_uobj_refs *r);

/* Event record and wait nodes at a replay (event.c): the event completes at t; the time a wait
 * node waits for (0 if the event was never recorded). */
void rv_event_replayed(CUevent h, int dev, rv_vtime_ns t);
rv_vtime_ns rv_event_wait_time(CUevent h);

#endif
