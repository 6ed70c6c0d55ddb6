/* revati driver: event record and event wait nodes of CUDA graphs (NCCL adds a record node to the
 * graphs it is captured into). A record node completes its event when the replay reaches it (after
 * its dependencies); a wait node starts no earlier than its event's completion. */
#include "graph.h"

static CUresult add_event_node(CUgraphNode *ph, CUgraph hGraph, const CUgraphNode *deps, size_t ndeps, CUevent ev,
                               int type) {
    rv_graph *g = rv_graph_from(hGraph);
    if (!g || !ph || !ev) return CUDA_ERROR_INVALID_VALUE;
    gnode *n = rv_graph_add_node(g, type, deps, ndeps);
    n->event = ev;
    *ph = (CUgraphNode)n;
    return CUDA_SUCCESS;
}

static CUresult node_event(CUgraphNode h, int type, CUevent *out, const CUevent *in) {
    gnode *n = rv_graph_node_from(h);
    if (!n || n->type != type) return CUDA_ERROR_INVALID_VALUE;
    if (out) *out = n->event;
    if (in) n->event = *in;
    return CUDA_SUCCESS;
}

// cuGraphAddEventRecordNode: a node that completes the event when the replay reaches it
RV_EXPORT CUresult cuGraphAddEventRecordNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                             size_t numDependencies, CUevent event) {
    API_ENTER();
    API_RETURN(add_event_node(phGraphNode, hGraph, dependencies, numDependencies, event, N_EVENT_RECORD));
}

// cuGraphAddEventWaitNode: a node that starts no earlier than the event's completion
RV_EXPORT CUresult cuGraphAddEventWaitNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                           size_t numDependencies, CUevent event) {
    API_ENTER();
    API_RETURN(add_event_node(phGraphNode, hGraph, dependencies, numDependencies, event, N_EVENT_WAIT));
}

// cuGraphEventRecordNodeGetEvent: the record node's event
RV_EXPORT CUresult cuGraphEventRecordNodeGetEvent(CUgraphNode hNode, CUevent *event_out) {
    API_ENTER();
    if (!event_out) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    API_RETURN(node_event(hNode, N_EVENT_RECORD, event_out, NULL));
}

// cuGraphEventRecordNodeSetEvent: the record node completes another event
RV_EXPORT CUresult cuGraphEventRecordNodeSetEvent(CUgraphNode hNode, CUevent event) {
    API_ENTER();
    if (!event) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    API_RETURN(node_event(hNode, N_EVENT_RECORD, NULL, &event));
}

// cuGraphEventWaitNodeGetEvent: the wait node's event
RV_EXPORT CUresult cuGraphEventWaitNodeGetEvent(CUgraphNode hNode, CUevent *event_out) {
    API_ENTER();
    if (!event_out) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    API_RETURN(node_event(hNode, N_EVENT_WAIT, event_out, NULL));
}

// cuGraphEventWaitNodeSetEvent: the wait node waits for another event
RV_EXPORT CUresult cuGraphEventWaitNodeSetEvent(CUgraphNode hNode, CUevent event) {
    API_ENTER();
    if (!event) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    API_RETURN(node_event(hNode, N_EVENT_WAIT, NULL, &event));
}
